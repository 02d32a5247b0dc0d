"""Near-duplicate queries with the int16 first pass of the vector scans against the float32
scans alone, alternating in one process on one mapped snapshot (docs/bench-near-duplicates.md).

The pages are `bench/near_duplicates.py`'s 100 000 synthetic ones (texts from Landkreis Augsburg
pages, CC BY 4.0, Integreat / Tür an Tür – Digitalfabrik gGmbH and Landkreis Augsburg; vectors
synthetic), with a title vector each as the service indexes them. Each round runs the same
queries once untimed (to touch the pages that mode reads), then timed; the modes alternate so a
drift of the machine's speed falls on both. Answers are compared between the modes, and the
rows each query had to read in float32 (those the int16 bound left undecided) are counted.

    .venv/bin/python bench/vector_scan.py                      # build, save, compare (≈ 2 min)
    .venv/bin/python bench/vector_scan.py --snapshot-dir /tmp/nd --rounds 6   # keep / reuse it
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from near_duplicates import generate  # noqa: E402

from matchers import near_duplicate_snapshot, segmented, vector_scan  # noqa: E402
from matchers.near_duplicates import NearDuplicateIndex  # noqa: E402
from matchers.vector_scan import BoundedScan  # noqa: E402


def build(directory: Path, pages: int) -> None:
    docs = generate(pages, 140, 0)[0]
    noise = np.random.default_rng(1).standard_normal((len(docs), 384)).astype(np.float32) * 0.03
    index = NearDuplicateIndex()
    index.add_many(
        replace(doc, title_vector=(v := doc.vector + noise[i]) / np.linalg.norm(v))
        for i, doc in enumerate(docs)
    )
    near_duplicate_snapshot.save(index, directory)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--snapshot-dir", help="built there if missing, else reused")
    args = parser.parse_args()
    directory = Path(args.snapshot_dir or tempfile.mkdtemp(prefix="nd-scan-")) / "index"
    if not directory.exists():
        started = time.perf_counter()
        build(directory, args.pages)
        print(f"built and saved {args.pages} pages in {time.perf_counter() - started:.1f} s")
    index = near_duplicate_snapshot.load(directory)
    keys = random.Random(0).sample(range(len(index)), args.queries)
    compiled = segmented.code_products

    def float32_only(codes, bounds):
        return None

    for key in keys[:10]:
        index.find_similar(key, limit=10)
    vector_scan.wait_until_compiled(60)
    latencies: dict[str, list[tuple[float, float]]] = {"float32 scans": [], "int16 first": []}
    answers: dict[str, list] = {}
    for round_number in range(args.rounds):
        modes = list(latencies)
        for mode in modes if round_number % 2 == 0 else modes[::-1]:
            segmented.code_products = float32_only if mode == "float32 scans" else compiled
            answers[mode] = [index.find_similar(key, limit=10) for key in keys]  # untimed
            if mode == "int16 first" and round_number == 0:
                float32_rows = rows_read_in_float32(index, keys)
            times = []
            for key in keys:
                started = time.perf_counter()
                index.find_similar(key, limit=10)
                times.append((time.perf_counter() - started) * 1000)
            latencies[mode].append(
                (float(np.percentile(times, 50)), float(np.percentile(times, 95)))
            )
    segmented.code_products = compiled
    print(f"{len(index)} pages, {args.queries} queries a round, p50 / p95 ms per round:")
    for mode, rounds in latencies.items():
        print(f"  {mode}: " + ", ".join(f"{p50:.1f} / {p95:.1f}" for p50, p95 in rounds))
    print("answers identical:", answers["float32 scans"] == answers["int16 first"])
    print(
        "rows read in float32 a query (int16 first): median "
        f"{np.median(float32_rows):.0f}, p95 {np.percentile(float32_rows, 95):.0f}, "
        f"max {max(float32_rows)}"
    )


def rows_read_in_float32(index: NearDuplicateIndex, keys: list[int]) -> list[int]:
    """Per query: the rows whose int16 bound left a decision open (`BoundedScan.resolve`)."""
    resolve = BoundedScan.resolve
    read = [0]

    def counting(scan: BoundedScan, rows: np.ndarray) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        read[0] += int(np.count_nonzero(scan.error[rows] > 0))
        resolve(scan, rows)

    counts = []
    BoundedScan.resolve = counting  # type: ignore[method-assign]
    try:
        for key in keys:
            read[0] = 0
            index.find_similar(key, limit=10)
            counts.append(read[0])
    finally:
        BoundedScan.resolve = resolve  # type: ignore[method-assign]
    return counts


if __name__ == "__main__":
    main()
