"""A read-only sentence-vector index in one folder, opened mapped: every process of a machine
shares its pages (the page cache) instead of holding its own copy.

`write(vectors, folder)` stores the vectors of one source language, in the caller's row order,
with their calibration (`matchers.semantic_index.estimate_calibration`, so the same rows give
the same z as the in-memory `SegmentVectorIndex`):

    vectors.npy         rows × dim float32: every cosine reported is computed from these
    graph.usearch       above FLAT_UP_TO rows: an HNSW graph (usearch, half-precision copies
                        of the vectors) that proposes the candidates
    calibration.npy     the sorted random-pair cosines; mean and std in index.json
    index.json          rows, dimension, graph parameters

Opening maps both files (`np.load(mmap_mode="r")`, usearch's `view`): milliseconds and a few MB
of the process's own. Up to FLAT_UP_TO rows a query scans them all (exact); above, the graph's
candidates are re-scored exactly. Why usearch: faiss reads an HNSW graph into each process
(≈ 270 bytes a vector, 340 MB per process at 1.25 M sentences), usearch maps it; an IVF index,
which faiss does map, found only 87–92 % of the ten nearest on the real regions' sentence
vectors at 5 % of its lists probed (e5 vectors sit in a narrow cone), HNSW 98–99 %.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss
import numpy as np

from matchers.semantic_index import Calibration, estimate_calibration

if TYPE_CHECKING:  # usearch (and the tqdm it imports) loads when a graph is opened or built
    from usearch.index import Index

FORMAT = 1
META = "index.json"
# Up to this many vectors a query scans them all (75 queries × 100 000 × 384: ≈ 40 ms).
FLAT_UP_TO = 100_000
# The HNSW graph: links per node, candidate lists when building and searching, and how many
# candidates a query re-scores for each neighbour asked for.
GRAPH_LINKS = 16
GRAPH_EXPANSION_ADD = 128
GRAPH_EXPANSION_SEARCH = 160
GRAPH_BUILD_THREADS = 2


@dataclass(frozen=True)
class MappedVectorIndex:
    """One opened folder: the mapped vectors, the mapped graph (None: exact scans) and the
    calibration."""

    vectors: np.ndarray
    graph: Index | None
    calibration: Calibration

    @property
    def rows(self) -> int:
        return int(self.vectors.shape[0])

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1])

    @classmethod
    def open(cls, folder: Path) -> MappedVectorIndex:
        """Map a folder `write` made. Raises FileNotFoundError when it is gone, ValueError for
        another format."""
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
        if meta.get("format") != FORMAT:
            raise ValueError(f"vector index format {meta.get('format')}, expected {FORMAT}")
        vectors = np.asarray(np.load(folder / "vectors.npy", mmap_mode="r", allow_pickle=False))
        graph = None
        if meta["graph"]:
            from usearch.index import Index

            graph = Index.restore(
                str(folder / "graph.usearch"),
                view=True,
                expansion_search=GRAPH_EXPANSION_SEARCH,
            )
            if graph is None:
                raise ValueError(f"{folder / 'graph.usearch'} is not a usearch index")
        calibration = Calibration(
            mean=float(meta["mean"]),
            std=float(meta["std"]),
            sample=np.load(folder / "calibration.npy", allow_pickle=False),
            size_at_estimate=int(meta["calibrated_on"]),
        )
        return cls(vectors, graph, calibration)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(cosines, rows) of the k nearest vectors of each query row, best first; row −1
        where fewer were found."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        k = min(k, self.rows)
        if not k or not len(queries):
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self.graph is None:
            return faiss.knn(queries, self.vectors, k, metric=faiss.METRIC_INNER_PRODUCT)
        from usearch.index import BatchMatches

        found = self.graph.search(queries, k, threads=1)
        if isinstance(found, BatchMatches):
            candidates, counts = np.asarray(found.keys, dtype=np.int64), found.counts
        else:  # usearch answers a single query with a single result
            candidates = np.asarray(found.keys, dtype=np.int64).reshape(1, -1)
            counts = np.array([candidates.shape[1]])
        cosines = np.full(candidates.shape, -np.inf, dtype=np.float32)
        rows = np.full(candidates.shape, -1, dtype=np.int64)
        for i, count in enumerate(counts.tolist()):
            keys = candidates[i, :count]
            exact = self.vectors[keys] @ queries[i]
            order = np.argsort(-exact, kind="stable")
            cosines[i, :count], rows[i, :count] = exact[order], keys[order]
        return cosines, rows


def write(vectors: np.ndarray, folder: Path) -> int:
    """Store `vectors` (rows × dim, L2-normalised float32) in `folder` (created); its bytes.

    The caller fsyncs the files (`memory.snapshot_folder`)."""
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    rows, dim = vectors.shape
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / "vectors.npy", vectors, allow_pickle=False)
    meta: dict[str, Any] = {"format": FORMAT, "rows": rows, "dim": dim, "graph": False}
    if rows > FLAT_UP_TO:
        from usearch.index import Index

        graph = Index(
            ndim=dim,
            metric="ip",
            dtype="f16",
            connectivity=GRAPH_LINKS,
            expansion_add=GRAPH_EXPANSION_ADD,
            expansion_search=GRAPH_EXPANSION_SEARCH,
        )
        graph.add(np.arange(rows, dtype=np.uint64), vectors, threads=GRAPH_BUILD_THREADS)
        graph.save(str(folder / "graph.usearch"))
        meta |= {"graph": True, "links": GRAPH_LINKS, "expansion_add": GRAPH_EXPANSION_ADD}
    calibration = estimate_calibration(vectors)
    np.save(folder / "calibration.npy", calibration.sample, allow_pickle=False)
    meta |= {
        "mean": calibration.mean,
        "std": calibration.std,
        "calibrated_on": calibration.size_at_estimate,
    }
    (folder / META).write_text(json.dumps(meta), encoding="utf-8")
    return sum(path.stat().st_size for path in folder.iterdir())


__all__ = ["FLAT_UP_TO", "MappedVectorIndex", "write"]
