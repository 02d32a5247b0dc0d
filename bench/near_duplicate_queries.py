"""Time near-duplicate queries on one mapped snapshot, to compare two commits back to back
(docs/bench-near-duplicates.md).

A query's time moves by milliseconds with this machine's speed from one minute to the next, so
compare commits by running this from each commit's checkout in turn, several times, on the same
snapshot: the snapshot format must be one both read. The pages are `bench/near_duplicates.py`'s
100 000 synthetic ones (texts from Landkreis Augsburg pages, CC BY 4.0, Integreat / Tür an Tür –
Digitalfabrik gGmbH and Landkreis Augsburg; vectors synthetic) with a title vector each, built
and saved into `--snapshot-dir` by `bench/vector_scan.py`'s `build` when it is missing.

    .venv/bin/python bench/near_duplicate_queries.py --snapshot-dir /tmp/nd --answers /tmp/a.json
    cd /tmp/other-checkout   # this script times the code of the directory it runs in
    /work/main/.venv/bin/python /work/main/bench/near_duplicate_queries.py \
        --snapshot-dir /tmp/nd --answers /tmp/a.json

Prints p50 / p95 ms of `--rounds` rounds of `--queries` queries (each round once untimed
first). `--answers FILE`: the answers (keys, scores, relations and ranks of every result) are
written there by the first run and compared with it by every later one.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

ROOT = Path.cwd()  # the checkout whose code is timed: run this from it
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from matchers import near_duplicate_snapshot, vector_scan  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--snapshot-dir", required=True, help="built there if missing")
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--answers", help="a JSON file: written if missing, else compared")
    args = parser.parse_args()
    directory = Path(args.snapshot_dir) / "index"
    if not directory.exists():
        from vector_scan import build

        build(directory, args.pages)
    index = near_duplicate_snapshot.load(directory)
    keys = random.Random(0).sample(range(len(index)), args.queries)
    for key in keys[:10]:
        index.find_similar(key, limit=10)
    vector_scan.wait_until_compiled(60)
    rounds = []
    for _ in range(args.rounds):
        for key in keys:  # untimed: the pages this round reads are touched once
            index.find_similar(key, limit=10)
        times = []
        for key in keys:
            started = time.perf_counter()
            index.find_similar(key, limit=10)
            times.append((time.perf_counter() - started) * 1000)
        rounds.append(f"{np.percentile(times, 50):.1f} / {np.percentile(times, 95):.1f}")
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    print(f"{commit or ROOT}: {len(index)} pages, p50 / p95 ms per round: " + ", ".join(rounds))
    if args.answers:
        answers = [[asdict(page) for page in index.find_similar(key, limit=10)] for key in keys]
        answers = json.loads(json.dumps(answers))  # tuples as lists, as read back
        path = Path(args.answers)
        if path.exists():
            print("answers identical to", path, ":", json.loads(path.read_text()) == answers)
        else:
            path.write_text(json.dumps(answers))
            print("answers written to", path)


if __name__ == "__main__":
    main()
