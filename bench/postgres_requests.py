"""Request paths on PostgreSQL, in process: lookups with and without a transaction, and the
first suggestions of a new web process while its semantic index loads.

    .venv/bin/python bench/postgres_requests.py [--units 300000] [--rounds 6]
        [--semantic-snapshot] [--only suggestions]

Starts a throwaway PostgreSQL (tests/integration/servers.py), loads the demo data, imports
`--units` generated German→English units through `flask tm tmx-import` and builds the fuzzy
index snapshot, as bench/load_test.py does. Then, through the Flask test client:

- `POST /tm/lookup` (a corpus sentence with one word left out, token-authenticated), 200
  lookups per round, alternating rounds with the route's `read_only` mark on (AUTOCOMMIT: no
  BEGIN, no ROLLBACK) and off; median CPU (`time.process_time`) and wall time per lookup;
- in a new process, three `POST /regions/lkaugsburg/suggestions` for a page (no MT), each
  timed, then the time until the semantic index's background load ends, then one more.
  With `--semantic-snapshot`, `flask tm semantic-snapshot` writes the sentence vectors first
  and the new process maps them instead of loading them.

`flask tm tmx-import` embeds the imported units' sentences (fake encoder) since `e54f59c`:
earlier runs loaded only the demo's sentence vectors.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import load_test  # noqa: E402
from scratch import scratch_folder  # noqa: E402

from tests.integration.servers import start_postgres  # noqa: E402


def lookups(token: str, rounds: int) -> dict[str, float]:
    from tm_service import create_app

    app = create_app()
    client = app.test_client()
    view = app.view_functions["tm.lookup"]
    texts = load_test.LOOKUP_TEXTS + load_test.corpus_sentences()
    rng = random.Random(1)
    pair = {"source_language": "de", "target_language": "en"}
    bodies = [{"text": load_test.lookup_text(rng, texts), **pair} for _ in range(200)]
    auth = {"Authorization": f"Bearer {token}"}
    for body in bodies:  # warm-up: the index mapped, the caches filled
        client.post("/api/v1/tm/lookup", json=body, headers=auth)
    measured: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    for _ in range(rounds):
        for read_only in (False, True):
            view.read_only = read_only
            cpu, wall = time.process_time(), time.perf_counter()
            for body in bodies:
                client.post("/api/v1/tm/lookup", json=body, headers=auth)
            measured[read_only].append(
                (
                    (time.process_time() - cpu) / len(bodies) * 1000,
                    (time.perf_counter() - wall) / len(bodies) * 1000,
                )
            )
    result = {}
    for read_only, name in ((False, "transaction"), (True, "read_only")):
        result[f"{name}_cpu_ms"] = round(statistics.median(c for c, _ in measured[read_only]), 2)
        result[f"{name}_wall_ms"] = round(statistics.median(w for _, w in measured[read_only]), 2)
    return result


def suggestions(token: str) -> dict[str, object]:
    from tm_service import create_app
    from tm_service.jobs import get_semantic_memory

    app = create_app()
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    page = client.get("/api/v1/regions/lkaugsburg/pages?limit=1&language=de").json["items"][0]
    body = {"page": page["external_id"], "target_language": "en", "machine_translation": False}

    def one() -> float:
        started = time.perf_counter()
        response = client.post("/api/v1/regions/lkaugsburg/suggestions", json=body, headers=auth)
        assert response.status_code == 200, response.get_data(as_text=True)
        return round(time.perf_counter() - started, 2)

    first = [one() for _ in range(3)]
    started = time.perf_counter()
    for thread in threading.enumerate():
        if thread.name == "tm-semantic-refresh":
            thread.join()
    return {
        "first_suggestions_s": first,
        "load_left_s": round(time.perf_counter() - started, 2),
        "after_load_s": one(),
        "semantic_index": get_semantic_memory(app).stats(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--units", type=int, default=300_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--semantic-snapshot", action="store_true")
    parser.add_argument("--only", choices=["lookups", "suggestions"])
    parser.add_argument("--measure", choices=["lookups", "suggestions"], help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure == "lookups":
        print(json.dumps(lookups(args.token, args.rounds)))
        return
    if args.measure == "suggestions":
        print(json.dumps(suggestions(args.token)))
        return
    base = scratch_folder("tm-requests-")
    postgres = start_postgres(base / "pg")
    if postgres is None:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
    try:
        env = {
            **os.environ,
            "TM_DATABASE_URL": postgres.url,
            "TM_EMBEDDING_MODEL": "fake",
            "TM_INDEX_DIR": str(base / "tm-index"),
        }
        env.pop("TM_REDIS_URL", None)
        load_test.load_memory(env, base, args.units, embed=True)
        if args.semantic_snapshot:
            started = time.perf_counter()
            load_test.flask_cli(env, "tm", "semantic-snapshot")
            semantic_s = round(time.perf_counter() - started, 1)
        token = load_test.cms_token(env)
        report: dict[str, object] = {"units": args.units}
        if args.semantic_snapshot:
            report["semantic_snapshot_command_s"] = semantic_s
        for what in [args.only] if args.only else ["lookups", "suggestions"]:
            # each in a new process, as a web worker
            command = [sys.executable, __file__, "--measure", what, "--token", token]
            command += ["--rounds", str(args.rounds)]
            done = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            report.update(json.loads(done.stdout.strip().splitlines()[-1]))
        print(json.dumps(report))
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
