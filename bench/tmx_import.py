"""TMX import speed: a generated TMX file into SQLite or a temporary PostgreSQL.

    .venv/bin/python bench/tmx_import.py [--units 200000] [--languages 8] [--postgres]
        [--cli] [--profile]

Two shapes of file. `--languages 8` (the default, 2–8 also work): German source sentences of
the Landkreis Augsburg pages (CC BY 4.0, Integreat / Tür an Tür – Digitalfabrik gGmbH and
Landkreis Augsburg), each made distinct by one or two words of the corpus vocabulary, every
source with that many target languages, as on the platform (a German sentence has one unit per
language); about as many of them hold numbers, times or phone numbers as the corpus does.
`--languages 1`: the load test's file (bench/load_test.py `write_units_tmx`: German→English,
each unit a distinct source, the target numbered), the shape of its 1 000 000-unit import.

`import_tmx` runs as `tm tmx-import` runs it (one transaction, licence and attribution given);
then the same file again (the idempotent path, nothing stored). With `--cli` both go through
`flask tm tmx-import` in a process of their own, timed from outside, as the load test runs it.
PostgreSQL is started like the integration tests start it (`fsync=off`), the schema built by the
migrations as in production. Prints units per second of both imports and the load average.

`--profile` (in process only) adds, for the first import: the top functions of cProfile; the
CPU seconds of this process and of the PostgreSQL server (its backend and its background
processes: WAL writer, checkpointer); and, from the server's log, the time of each statement
the import ran (the COPY, the INSERT … SELECT) with the plan of the INSERT … SELECT
(`auto_explain`: EXPLAIN ANALYZE, BUFFERS, WAL; its triggers are the foreign-key checks). The
profiler and the instrumented plan slow the import down: read proportions, not the rate.
"""

from __future__ import annotations

import argparse
import cProfile
import html
import json
import os
import pstats
import random
import re
import subprocess
import sys
import time
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from scratch import scratch_folder  # noqa: E402

CORPUS = Path("/work/shared/corpus/lkaugsburg/de_pages.json")
LANGUAGES = ["en", "ar", "fa", "uk", "tr", "ru", "fr", "es"]


def corpus_sentences() -> list[str]:
    pages = json.loads(CORPUS.read_text(encoding="utf-8"))
    sentences = []
    for page in pages:
        text = html.unescape(re.sub(r"<[^>]+>", " ", page["content"]))
        for sentence in re.split(r"(?<=[.!?])\s+", text):
            sentence = " ".join(sentence.split())
            if 20 < len(sentence) < 300:
                sentences.append(sentence)
    return sentences


def write_tmx(path: Path, units: int, seed: int, languages: list[str]) -> int:
    """Write `units` translation units (sources × `languages`); return the number of sources."""
    if len(languages) == 1:
        sys.path.insert(0, str(ROOT / "bench"))
        from load_test import write_units_tmx

        write_units_tmx(path, units, seed)
        return units
    rng = random.Random(seed)
    sentences = corpus_sentences()
    vocabulary = sorted({w for s in sentences for w in s.split() if w.isalpha() and len(w) > 3})
    seen: set[str] = set()
    written = 0
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header srclang="de" '
            'datatype="plaintext" segtype="sentence" adminlang="en" creationtool="bench" '
            'creationtoolversion="1" o-tmf="bench"/><body>\n'
        )
        while written < units:
            words = rng.choice(sentences).split()
            for _ in range(rng.randint(1, 2)):
                words.insert(rng.randrange(len(words) + 1), rng.choice(vocabulary))
            source = " ".join(words)
            if source in seen:
                continue
            seen.add(source)
            for language in languages:
                out.write(
                    f'<tu><tuv xml:lang="de"><seg>{escape(source)}</seg></tuv>'
                    f'<tuv xml:lang="{language}"><seg>{escape(f"[{language}] {source}")}</seg>'
                    "</tuv></tu>\n"
                )
                written += 1
                if written >= units:
                    break
        out.write("</body></tmx>\n")
    return len(seen)


def build_schema(url: str) -> None:
    """The migrations on PostgreSQL (the production schema: its indexes), create_all on SQLite."""
    if url.startswith("sqlite"):
        return
    subprocess.run(
        [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT,
        env={**os.environ, "TM_DATABASE_URL": url, "TM_EMBEDDING_MODEL": "fake"},
        check=True,
        capture_output=True,
    )


def run_cli(url: str, path: Path, units: int) -> None:
    """Both imports through `flask tm tmx-import`, timed from outside (process start included)."""
    env = {**os.environ, "TM_DATABASE_URL": url, "TM_EMBEDDING_MODEL": "fake"}
    command = [str(Path(sys.executable).parent / "flask"), "--app", "wsgi", "tm", "tmx-import"]
    command += [str(path), "--batch", "bench", "--license", "CC BY 4.0", "--attribution", "b"]
    command += ["--no-embed"]  # the import alone, as measured before the command embedded
    if url.startswith("sqlite"):
        subprocess.run(command[:3] + ["db", "upgrade"], cwd=ROOT, env=env, check=True)
    for name in ("import", "again"):
        started = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        report = json.loads(done.stdout.decode().strip().splitlines()[-1])
        print(
            f"{name} (CLI): {report['created']} new, {report['unchanged']} unchanged in "
            f"{seconds:.1f} s = {units / seconds:,.0f} units/s (import itself "
            f"{report['seconds']:.1f} s; load {load()})"
        )


def load() -> str:
    return " / ".join(f"{value:.1f}" for value in os.getloadavg())


class ServerProfile:
    """CPU seconds of a PostgreSQL server's processes, and its log of statement times and plans
    (`auto_explain`) while on."""

    SETTINGS = {
        "session_preload_libraries": "auto_explain",
        "auto_explain.log_min_duration": "500",
        "auto_explain.log_analyze": "on",
        "auto_explain.log_buffers": "on",
        "auto_explain.log_wal": "on",
        "auto_explain.log_triggers": "on",
        "log_min_duration_statement": "200",
    }

    def __init__(self, data_dir: Path, engine) -> None:
        self.engine = engine
        self.postmaster = int((data_dir / "postmaster.pid").read_text().split()[0])
        self.log = data_dir.parent / "postgres.log"

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds so far of each kind of the server's processes (`backend`: sessions)."""
        ticks = os.sysconf("SC_CLK_TCK")
        seconds: dict[str, float] = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                title = (stat.parent / "cmdline").read_text().replace("\0", " ").strip()
            except (OSError, IndexError):
                continue
            if int(fields[1]) != self.postmaster:
                continue
            name = "backend" if title.startswith("postgres: tm ") else title.split(":")[-1]
            name = name.strip() or "other"
            seconds[name] = seconds.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / ticks
        return seconds

    def start(self) -> None:
        self._configure(f"SET {name} = '{value}'" for name, value in self.SETTINGS.items())
        self.log_offset = self.log.stat().st_size
        self.cpu = self.cpu_seconds()

    def stop(self) -> tuple[dict[str, float], str]:
        cpu = self.cpu_seconds()
        spent = {name: cpu[name] - self.cpu.get(name, 0.0) for name in cpu}
        self._configure(["RESET ALL"])
        with self.log.open(encoding="utf-8", errors="replace") as log:
            log.seek(self.log_offset)
            return spent, log.read()

    def _configure(self, settings) -> None:
        """ALTER SYSTEM, then new connections only (auto_explain loads when one starts)."""
        self.engine.dispose()
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("LOAD 'auto_explain'")  # its settings are known then
            for setting in settings:
                connection.exec_driver_sql(f"ALTER SYSTEM {setting}")
            connection.exec_driver_sql("SELECT pg_reload_conf()")
        time.sleep(0.5)
        self.engine.dispose()


def run(url: str, path: Path, units: int, profile: bool, data_dir: Path | None = None) -> None:
    from memory.services.tmx_io import import_tmx
    from tm_service import create_app
    from tm_service.extensions import db

    build_schema(url)
    app = create_app({"DATABASE_URL": url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        db.create_all()

        def import_file():  # as `tm tmx-import FILE --license … --attribution …` runs it
            return import_tmx(
                db.session,
                None,
                str(path),
                batch_name="bench",
                license="CC BY 4.0",
                attribution="b",
            )

        server = ServerProfile(data_dir, db.engine) if profile and data_dir else None
        if server:
            server.start()
        profiler = cProfile.Profile() if profile else None
        cpu = time.process_time()
        if profiler:
            profiler.enable()
        first = import_file()
        if profiler:
            profiler.disable()
        cpu = time.process_time() - cpu
        server_cpu, server_log = server.stop() if server else ({}, "")
        again = import_file()
        print(
            f"import: {first.created} units in {first.seconds:.1f} s = "
            f"{units / first.seconds:,.0f} units/s; again: {again.created} new, "
            f"{again.unchanged} unchanged in {again.seconds:.1f} s = "
            f"{units / again.seconds:,.0f} units/s (load {load()})"
        )
        if profiler:
            print(f"CPU of the first import: this process {cpu:.1f} s", end="")
            if server_cpu:
                print(", PostgreSQL " + ", ".join(f"{n} {s:.1f} s" for n, s in server_cpu.items()))
            print(server_log)
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument(
        "--languages",
        type=int,
        default=len(LANGUAGES),
        choices=range(1, len(LANGUAGES) + 1),
        help="target languages per source; 1: the load test's German→English file",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--cli", action="store_true", help="import through `flask tm tmx-import`")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    base = scratch_folder("tm-tmx-import-")
    path = base / "generated.tmx"
    started = time.perf_counter()
    languages = LANGUAGES[: args.languages]
    sources = write_tmx(path, args.units, args.seed, languages)
    print(
        f"{args.units:,} units ({sources:,} sources × up to {len(languages)} languages), "
        f"{path.stat().st_size / 1e6:.0f} MB, written in {time.perf_counter() - started:.1f} s; "
        f"load {load()}"
    )
    if not args.postgres:
        url = f"sqlite:///{base}/bench.sqlite3"
        if args.cli:
            run_cli(url, path, args.units)
        else:
            run(url, path, args.units, args.profile)
        return
    from tests.integration.servers import start_postgres

    server = start_postgres(base / "pg")
    if server is None:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
    try:
        if args.cli:
            build_schema(server.url)
            run_cli(server.url, path, args.units)
        else:
            run(server.url, path, args.units, args.profile, server.data_dir)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
