"""Loading the app and its CLI stays cheap: heavy libraries are imported where they are used.

`flask --app wsgi tm --help` and `tm token list` used to import alembic, rq, redis and (through
the MinHash library) scipy, about 1.5 s of a 2-core machine's time before any work; the
embedding model's torch, transformers and sentence-transformers load only when a job or query
needs vectors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What the start-up of a command that needs none of them must not import.
HEAVY = (
    "torch",
    "sentence_transformers",
    "transformers",
    "scipy",
    "datasketch",
    "alembic",
    "flask_migrate",
    "rq",
    "redis",
    "tqdm",
)

_RUN_CLI = """
import json, sys
from flask.cli import main
sys.argv = ["flask", "--app", "wsgi", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    code = exit.code
print("\\nMODULES " + json.dumps(sorted(m for m in {heavy} if m in sys.modules)))
print("EXIT", code)
""".replace("{heavy}", repr(HEAVY))


def run_cli(*args: str, database: Path) -> tuple[list[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TM_")}
    env["TM_DATABASE_URL"] = f"sqlite:///{database}"
    finished = subprocess.run(
        [sys.executable, "-c", _RUN_CLI, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    marker = finished.stdout.rsplit("MODULES ", 1)[1]
    modules, exit_line = marker.split("\n", 1)
    assert exit_line.strip() in ("EXIT 0", "EXIT None"), finished.stdout + finished.stderr
    return json.loads(modules), finished.stdout


@pytest.mark.parametrize("command", [["tm", "--help"], ["tm", "token", "list"]], ids=" ".join)
def test_cli_start_up_imports_no_heavy_library(command, tmp_path, seeded_database):
    database = tmp_path / "tm.sqlite3"
    database.write_bytes(seeded_database.read_bytes())

    loaded, output = run_cli(*command, database=database)

    assert loaded == []
    if command[-1] == "--help":
        assert "import-integreat" in output


def test_db_commands_still_load_flask_migrate_when_run(tmp_path):
    loaded, output = run_cli("db", "--help", database=tmp_path / "tm.sqlite3")

    assert "upgrade" in output
    assert "alembic" in loaded and "flask_migrate" in loaded
