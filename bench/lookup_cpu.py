"""CPU of one translation-memory lookup in process, whole and by stage, for comparing commits
back to back on the same data (docs/benchmarks.md, the HTTP lookup rows).

    .venv/bin/python bench/lookup_cpu.py --units 1000000 --checkouts /tmp/before . --rounds 3

Starts a throwaway PostgreSQL with the demo data and `--units` generated German→English units
(`bench/load_test.py`'s, imported through `flask tm tmx-import`, then `flask tm rebuild-index`:
≈ 3 min at 1 M units), then times each checkout in `--checkouts` in turn, `--rounds` times: a
process started in that checkout's folder (so it runs that checkout's code) makes `--lookups`
lookups through the Flask test client with a cms token, the load test's texts (a corpus
sentence with one word left out), after a warm-up. The snapshot must be in a format every
checkout reads. Prints per run the CPU (`time.process_time`) per lookup of the whole request and
of its stages measured apart on the same texts, with the API's default min_score and limit:
the fuzzy index search, the units statement, the token check and the response's serialisation;
and whether the responses are identical to the first checkout's. The machine's speed drifts
within minutes: compare rounds, not runs of different hours. `--database-url URL --index-dir DIR
--token T` times the code of the current folder on an existing database instead (what each
checkout's process is started with).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve()


def texts(count: int, seed: int = 5) -> list[str]:
    """`count` lookup texts as the load test sends them."""
    from load_test import LOOKUP_TEXTS, corpus_sentences, lookup_text

    pool = LOOKUP_TEXTS + corpus_sentences()
    rng = random.Random(seed)  # noqa: S311 — test data
    return [lookup_text(rng, pool) for _ in range(count)]


def time_this_checkout(args: argparse.Namespace) -> None:
    """The lookups with the code of the current folder (started there by `main`)."""
    root = Path.cwd()
    import load_test  # noqa: F401 — it puts its own checkout first on sys.path: undone here

    while str(HERE.parents[1]) in sys.path:
        sys.path.remove(str(HERE.parents[1]))
    sys.path.insert(0, str(root))
    queries = texts(args.lookups)  # reads the demo dump with this checkout's segmentation
    os.environ.update(
        {
            "TM_DATABASE_URL": args.database_url,
            "TM_INDEX_DIR": args.index_dir,
            "TM_EMBEDDING_MODEL": "fake",
        }
    )
    os.environ.pop("TM_REDIS_URL", None)
    from matchers import overlap_kernel
    from memory.services.regions import cached_language
    from memory.services.tokens import authenticate
    from memory.services.translation_memory import lookups, segment_key
    from tm_service.api.tm import LookupResultSchema, LookupSchema
    from tm_service.extensions import db
    from tm_service.jobs import get_tm_index
    from wsgi import app

    client = app.test_client()
    auth = {"Authorization": f"Bearer {args.token}"}

    def request(text: str):
        body = {"text": text, "source_language": "de", "target_language": "en"}
        response = client.post("/api/v1/tm/lookup", json=body, headers=auth)
        assert response.status_code == 200, response.text
        return response.json

    deadline = time.monotonic() + 120
    while request(queries[0])["fuzzy"] != "ready" and time.monotonic() < deadline:
        time.sleep(0.5)
    for text in queries[:200]:
        request(text)
    overlap_kernel.wait_until_compiled(60)
    try:  # the ranking loop of later commits
        from matchers import estimate_kernel
    except ImportError:
        pass
    else:
        estimate_kernel.wait_until_compiled(60)
    answers = [request(text) for text in queries]  # also the untimed pass
    started = time.process_time()
    for text in queries:
        request(text)
    whole = (time.process_time() - started) * 1000 / len(queries)

    stages = {}
    with app.test_request_context():
        session = db.session
        index = get_tm_index(app)
        source, target = cached_language(session, "de"), cached_language(session, "en")
        forms = [segment_key(text, "de") for text in queries]
        # The stages as a request with the API's defaults runs them.
        defaults = LookupSchema().fields
        min_score = defaults["min_score"].load_default
        limit = defaults["limit"].load_default * lookups.CANDIDATE_FACTOR + 5
        found = [index.search(source.id, target.id, key.form, limit, min_score) for key in forms]
        hashes = [[key.hash, *(h for h, _ in hits)] for key, hits in zip(forms, found, strict=True)]
        units_of_forms = getattr(lookups, "units_of_forms", None)
        if units_of_forms is not None:

            def units(hashes: list[str]) -> None:
                units_of_forms(session, source.id, target.id, hashes)
        else:  # before found_units: ORM units, by Language objects

            def units(hashes: list[str]) -> None:
                lookups._units_of_forms(session, source, target, hashes)  # type: ignore[attr-defined]
                session.expunge_all()

        schema = LookupResultSchema()
        results = [
            {
                "source_language": "de",
                "target_language": "en",
                "fuzzy": "ready",
                "matches": lookups.lookup(
                    session,
                    index,
                    text=text,
                    source_language="de",
                    target_language="en",
                    min_score=min_score,
                ),
            }
            for text in queries
        ]

        def search(key) -> None:
            index.search(source.id, target.id, key.form, limit, min_score)

        for name, work, items in (
            ("search", search, forms),
            ("units", units, hashes),
            ("token", lambda _: authenticate(session, args.token), queries),
            ("response", schema.dump, results),
        ):
            started = time.process_time()
            for item in items:
                work(item)
            stages[name] = (time.process_time() - started) * 1000 / len(items)

    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    line = f"{commit or root}: request {whole:.2f} ms; " + ", ".join(
        f"{name} {value:.2f}" for name, value in stages.items()
    )
    if args.answers:
        path = Path(args.answers)
        if path.exists():
            line += f"; responses identical to the first: {json.loads(path.read_text()) == answers}"
        else:
            path.write_text(json.dumps(answers))
    print(line + f" (CPU per lookup, {len(queries)} lookups)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=1_000_000)
    parser.add_argument("--checkouts", nargs="+", default=["."], help="folders of checkouts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--database-url", help="time the current folder on this database")
    parser.add_argument("--index-dir")
    parser.add_argument("--token")
    parser.add_argument("--answers", help="JSON file: written by the first run, then compared")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    if args.database_url:
        time_this_checkout(args)
        return

    from load_test import cms_token, load_memory
    from scratch import scratch_folder

    sys.path.insert(0, str(HERE.parents[1]))
    from tests.integration.servers import start_postgres

    folder = scratch_folder("tm-lookup-cpu-")
    postgres = start_postgres(folder / "pg")
    if postgres is None:
        sys.exit("PostgreSQL is not installed (apt-get install postgresql)")
    try:
        env = {**os.environ, "TM_DATABASE_URL": postgres.url, "TM_EMBEDDING_MODEL": "fake"}
        env["TM_INDEX_DIR"] = str(folder / "tm-index")
        env.pop("TM_REDIS_URL", None)
        load_memory(env, folder, args.units)
        token = cms_token(env)
        answers = folder / "answers.json"
        for _ in range(args.rounds):
            for checkout in args.checkouts:
                subprocess.run(
                    [
                        sys.executable,
                        str(HERE),
                        "--database-url",
                        postgres.url,
                        "--index-dir",
                        env["TM_INDEX_DIR"],
                        "--token",
                        token,
                        "--lookups",
                        str(args.lookups),
                        "--answers",
                        str(answers),
                    ],
                    cwd=Path(checkout).resolve(),
                    check=True,
                    timeout=1800,
                )
    finally:
        postgres.stop()


if __name__ == "__main__":
    main()
