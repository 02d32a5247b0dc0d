"""The mapped sentence-vector index at platform scale: build, size, a new process's start and
memory, query latency and recall against a full scan.

    .venv/bin/python bench/semantic_snapshot_scale.py [--rows 1250000] [--processes 4]

The vectors: every distinct sentence of the two real regions' German and English pages
(Landkreis Augsburg and München, CC BY 4.0; ≈ 23 000) encoded with the service's model
(cached in bench/out/semantic-scale/), then each drawn again with Gaussian noise until
`--rows` (cosine ≈ 0.9 to its original): many counties writing the same advice in their own
words, the platform's case. `matchers.mapped_vectors.write` builds the files once;
`--processes` new processes each map them and run `--queries` batches of 75 queries (noisy
copies of held-out sentences, as a page's segments are); recall@10 of 200 queries is taken
against `faiss.knn` over every vector.

`--compare` also measures, on the same vectors and queries, the faiss HNSW graph a process
without a snapshot builds in memory (`matchers.semantic_index`, above 200 000 sentences), and
on the real sentence vectors alone (a tenth held out as queries) faiss IVF-flat, which faiss
can map, against HNSW. `--reuse` keeps an index folder built by an earlier run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "bench" / "out" / "semantic-scale"
NOISE = 0.45  # per-dimension σ × √dim: cosine ≈ 0.9 between a sentence and its variants


def corpus_vectors(path: Path) -> np.ndarray:
    """The real sentences' vectors, encoded once with the default model."""
    if path.exists():
        return np.load(path)
    from matchers.embeddings import load_encoder
    from memory.segmentation import build_template
    from memory.services.semantic import segment_text, worth_embedding
    from tm_service.config import DEFAULTS

    corpus = ROOT.parent / "shared" / "corpus"
    texts = []
    for region in ("lkaugsburg", "muenchen"):
        for language in ("de", "en"):
            for page in json.loads((corpus / region / f"{language}_pages.json").read_text()):
                template = build_template(page.get("content") or "", language)
                texts += [segment_text(s.text) for s in template.segments]
                texts.append(" ".join(page["title"].split()))
    texts = [t for t in dict.fromkeys(texts) if worth_embedding(t)]
    encoder = load_encoder(DEFAULTS["EMBEDDING_MODEL"], ROOT / "instance" / "models")
    vectors = np.asarray(encoder.encode_queries(texts), dtype=np.float32)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def variants(base: np.ndarray, rows: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.empty((rows, base.shape[1]), dtype=np.float32)
    for start in range(0, rows, 100_000):
        end = min(rows, start + 100_000)
        chunk = base[rng.integers(0, len(base), end - start)]
        chunk = chunk + rng.standard_normal(chunk.shape, dtype=np.float32) * (
            NOISE / np.sqrt(base.shape[1])
        )
        out[start:end] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def memory_mb() -> dict[str, int]:
    status = Path("/proc/self/status").read_text()
    return {
        key: int(status.split(f"{key}:")[1].split()[0]) // 1024 for key in ("RssAnon", "RssFile")
    }


def measure(folder: Path, queries_path: Path, batches: int) -> dict[str, float]:
    from matchers.mapped_vectors import MappedVectorIndex

    before = memory_mb()
    started = time.perf_counter()
    index = MappedVectorIndex.open(folder)
    open_ms = (time.perf_counter() - started) * 1000
    queries = np.load(queries_path)
    latencies = []
    for batch in range(batches):
        rows = queries[(batch * 75) % len(queries) :][:75]
        started = time.perf_counter()
        index.search(rows, 16)
        latencies.append((time.perf_counter() - started) * 1000)
    after = memory_mb()
    latencies.sort()
    return {
        "open_ms": round(open_ms, 1),
        "search_75_p50_ms": round(statistics.median(latencies), 1),
        "search_75_p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "own_memory_mb": after["RssAnon"] - before["RssAnon"],
        "mapped_pages_touched_mb": after["RssFile"] - before["RssFile"],
    }


def recall_at_10(found: np.ndarray, exact: np.ndarray) -> float:
    return round(
        float(
            np.mean(
                [len(set(a[:10]) & set(b[:10])) / 10 for a, b in zip(found, exact, strict=True)]
            )
        ),
        3,
    )


def compare(
    base: np.ndarray, vectors: np.ndarray, queries: np.ndarray, exact: np.ndarray
) -> dict[str, object]:
    """The in-memory faiss graph on the same vectors; IVF against HNSW on the real ones."""
    import faiss

    from matchers import semantic_index

    faiss.omp_set_num_threads(os.cpu_count() or 1)
    graph = faiss.IndexHNSWFlat(
        vectors.shape[1], semantic_index.HNSW_LINKS, faiss.METRIC_INNER_PRODUCT
    )
    started = time.perf_counter()
    graph.add(vectors)
    result: dict[str, object] = {"faiss_hnsw_build_s": round(time.perf_counter() - started, 1)}
    faiss.omp_set_num_threads(1)
    for ef in (semantic_index.HNSW_EF_SEARCH, 256):
        graph.hnsw.efSearch = ef
        started = time.perf_counter()
        graph.search(queries[:75], 16)
        took = (time.perf_counter() - started) * 1000
        result[f"faiss_hnsw_ef{ef}"] = {
            "search_75_ms": round(took, 1),
            "recall_at_10": recall_at_10(graph.search(queries, 10)[1], exact),
        }
    del graph
    # The real sentences alone: a tenth held out as queries.
    rng = np.random.default_rng(0)
    order = rng.permutation(len(base))
    held_out, rest = (
        base[order[: len(base) // 20]],
        np.ascontiguousarray(base[order[len(base) // 20 :]]),
    )
    truth = faiss.knn(held_out, rest, 10, metric=faiss.METRIC_INNER_PRODUCT)[1]
    lists = 600
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatL2(rest.shape[1]), rest.shape[1], lists)
    ivf.cp.niter = 10
    ivf.train(rest)
    ivf.add(rest)
    for share in (0.02, 0.05, 0.1):
        ivf.nprobe = int(share * lists)
        result[f"real_ivf_{lists}_lists_probe_{share}"] = recall_at_10(
            ivf.search(held_out, 10)[1], truth
        )
    hnsw = faiss.IndexHNSWFlat(rest.shape[1], semantic_index.HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(rest)
    hnsw.hnsw.efSearch = semantic_index.HNSW_EF_SEARCH
    result["real_faiss_hnsw"] = recall_at_10(hnsw.search(held_out, 10)[1], truth)
    # The snapshot's own graph on the real sentences (forced: they are fewer than FLAT_UP_TO).
    from matchers import mapped_vectors
    from matchers.mapped_vectors import MappedVectorIndex

    flat_up_to, mapped_vectors.FLAT_UP_TO = mapped_vectors.FLAT_UP_TO, 0
    try:
        mapped_vectors.write(rest, OUT / "real-graph")
    finally:
        mapped_vectors.FLAT_UP_TO = flat_up_to
    found = MappedVectorIndex.open(OUT / "real-graph").search(held_out, 10)[1]
    result["real_snapshot_graph"] = recall_at_10(found, truth)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_250_000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--queries", type=int, default=100, help="batches of 75 per process")
    parser.add_argument("--vectors", type=Path, default=OUT / "corpus-vectors.npy")
    parser.add_argument("--compare", action="store_true", help="faiss HNSW and IVF as well")
    parser.add_argument(
        "--expansions", default="", help="graph expansions to try as well, e.g. 128,256,400"
    )
    parser.add_argument("--reuse", action="store_true", help="keep an index folder built before")
    parser.add_argument("--measure", nargs=2, help=argparse.SUPPRESS)  # a child process
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(Path(args.measure[0]), Path(args.measure[1]), args.queries)))
        return
    import faiss

    from matchers import mapped_vectors
    from matchers.mapped_vectors import MappedVectorIndex

    base = corpus_vectors(args.vectors)
    held_out = base[: len(base) // 10]
    vectors = variants(base[len(base) // 10 :], args.rows, seed=1)
    queries = variants(held_out, 7_500, seed=2)
    folder = OUT / f"index-{args.rows}"
    started = time.perf_counter()
    if args.reuse and (folder / "index.json").exists():
        written = sum(path.stat().st_size for path in folder.iterdir())
        build_s = json.loads((folder / "build.json").read_text())["build_s"]
    else:
        written = mapped_vectors.write(vectors, folder)
        build_s = time.perf_counter() - started
        (folder / "build.json").write_text(json.dumps({"build_s": build_s}))
    queries_path = OUT / "queries.npy"
    np.save(queries_path, queries)

    index = MappedVectorIndex.open(folder)
    _, found = index.search(queries[:200], 10)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    _, exact = faiss.knn(queries[:200], vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
    top1 = np.mean([b[0] in a for a, b in zip(found, exact, strict=True)])
    expansions = {}
    for expansion in [int(e) for e in args.expansions.split(",") if e] if index.graph else []:
        index.graph.expansion_search = expansion  # type: ignore[misc]
        started = time.perf_counter()
        index.search(queries[:75], 16)
        took = round((time.perf_counter() - started) * 1000, 1)
        rows = index.search(queries[:200], 10)[1]
        expansions[str(expansion)] = {
            "search_75_ms": took,
            "recall_at_10": recall_at_10(rows, exact),
        }
    compared = compare(base, vectors, queries[:200], exact) if args.compare else {}
    del vectors, index

    child = [sys.executable, __file__, "--measure", str(folder), str(queries_path)]
    child += ["--queries", str(args.queries)]
    running = [
        subprocess.Popen(child, stdout=subprocess.PIPE, text=True) for _ in range(args.processes)
    ]
    processes = [json.loads(p.communicate()[0]) for p in running]
    print(
        json.dumps(
            {
                "rows": args.rows,
                "graph": args.rows > mapped_vectors.FLAT_UP_TO,
                "build_s": round(build_s, 1),
                "bytes_mb": round(written / 1e6),
                "recall_at_10": round(float(recall), 3),
                "exact_top1_found": round(float(top1), 3),
                "processes": processes,
                "expansions": expansions,
                **compared,
            }
        )
    )


if __name__ == "__main__":
    main()
