"""Source segments by meaning: one vector index per source language (faiss), calibrated.

The translation memory's fuzzy index finds sentences that share their *wording* with a query.
Two counties writing the same advice in their own words share almost none, so a second index
holds the sentence vectors of the memory's distinct source texts (multilingual e5, L2-normalised)
and returns the nearest ones by cosine.

Cosines of e5 sentence vectors sit in a narrow band (two unrelated German sentences ≈ 0.75–0.8),
so a raw cosine says little on its own. Every index estimates the cosines of *random* pairs of
its own vectors (mean, standard deviation, the sorted sample) and reports each hit with its
standard score z = (cos − mean) / std and its percentile among random pairs: the same z means
the same rarity in every language.

Pure computation: numpy and faiss, no database. Keys are the caller's integers (row ids of
distinct source texts); a key added again replaces its vector.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

import faiss
import numpy as np

CALIBRATION_SAMPLE = 4096
# A few pages' sentences are all on a few topics: their "random" pairs are too alike, so below
# this many texts the index keeps the prior.
CALIBRATION_MIN_VECTORS = 1000
# Re-estimate the random-pair cosines once the index grew or shrank by this fraction.
CALIBRATION_STALE_FRACTION = 0.2
# Below this many vectors a flat (exact) index; above it HNSW, whose recall at 32 links and
# efSearch 128 is > 0.99 for top-10 on sentence vectors, at a fraction of the scan. The graph
# takes minutes at a million vectors (187 s at 1.25 M on 2 cores): only `prepare()` builds it,
# which its holder calls off the request path; until then a search scans.
HNSW_ABOVE = 200_000
HNSW_LINKS = 32
HNSW_EF_SEARCH = 128
_SEED = 20261203

# faiss parallelises one search over OpenMP threads; on the 2-core machines a web worker
# searching 75 segments gains nothing from it and competes with the other workers.
faiss.omp_set_num_threads(1)


@dataclass(frozen=True, slots=True)
class Calibration:
    """Cosines of random vector pairs of one index: mean, std and the sorted sample."""

    mean: float
    std: float
    sample: np.ndarray
    size_at_estimate: int

    def z(self, cosine: float) -> float:
        return (cosine - self.mean) / self.std

    def percentile(self, cosine: float) -> float:
        """Share of random pairs with a lower cosine, 0–1."""
        if self.sample.size == 0:
            return 0.0
        return float(np.searchsorted(self.sample, cosine, side="left")) / self.sample.size


# Without enough vectors to sample: random German sentence pairs of multilingual-e5-small, as
# measured over the 7 354 distinct source sentences of Landkreis Augsburg and München.
PRIOR = Calibration(mean=0.805, std=0.03, sample=np.empty(0, dtype=np.float32), size_at_estimate=0)


def calibration_pairs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row numbers of CALIBRATION_SAMPLE random pairs among `size` rows (a fixed seed), never a
    row with itself."""
    rng = np.random.default_rng(_SEED)
    count = min(CALIBRATION_SAMPLE, size * (size - 1) // 2)
    a = rng.integers(0, size, count)
    b = rng.integers(0, size - 1, count)
    return a, np.where(b >= a, b + 1, b)


def calibration_of(cosines: np.ndarray, size: int) -> Calibration:
    return Calibration(
        mean=float(cosines.mean()),
        std=max(float(cosines.std()), 1e-4),
        sample=np.sort(cosines),
        size_at_estimate=size,
    )


def estimate_calibration(matrix: np.ndarray) -> Calibration:
    """Cosines of CALIBRATION_SAMPLE random pairs of the rows of `matrix` (a fixed seed: the same
    rows in the same order give the same calibration); PRIOR below CALIBRATION_MIN_VECTORS."""
    size = len(matrix)
    if size < CALIBRATION_MIN_VECTORS:
        return PRIOR
    a, b = calibration_pairs(size)
    return calibration_of(np.einsum("ij,ij->i", matrix[a], matrix[b]), size)


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A stored source text near the query: its key, cosine (−1–1), z and percentile (0–1)."""

    key: int
    cosine: float
    z: float
    percentile: float


class SegmentVectorIndex:
    """Nearest stored vectors of one source language by cosine; thread-safe."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self._lock = threading.RLock()
        self._flat = faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._hnsw: faiss.IndexHNSWFlat | None = None
        # Graph row → key (a removed key's row stays; searches skip it).
        self._hnsw_keys = np.zeros(0, dtype=np.int64)
        self._vectors: dict[int, np.ndarray] = {}
        self._calibration: Calibration | None = None

    def __len__(self) -> int:
        return len(self._vectors)

    def __contains__(self, key: object) -> bool:
        return key in self._vectors

    def add(self, keys: Sequence[int], vectors: np.ndarray) -> None:
        """Add (or replace) vectors; `vectors` is (n, dim), L2-normalised float32."""
        if not len(keys):
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(keys), -1)
        if vectors.shape[1] != self.dim:
            raise ValueError(f"vectors of dimension {vectors.shape[1]}, index is {self.dim}")
        ids = np.asarray(keys, dtype=np.int64)
        with self._lock:
            replaced = [int(k) for k in ids if int(k) in self._vectors]
            if replaced:
                self._flat.remove_ids(np.asarray(replaced, dtype=np.int64))  # type: ignore[arg-type]
            self._flat.add_with_ids(vectors, ids)
            for key, vector in zip(ids.tolist(), vectors, strict=True):
                self._vectors[key] = vector
            if self._hnsw is not None:  # the graph grows with the index (a replaced key's
                self._hnsw.add(vectors)  # old row is filtered out at search)
                self._hnsw_keys = np.concatenate([self._hnsw_keys, ids])

    def remove(self, keys: Sequence[int]) -> None:
        with self._lock:
            present = [int(k) for k in keys if int(k) in self._vectors]
            if not present:
                return
            # faiss takes an id array where its stubs say IDSelector.
            self._flat.remove_ids(np.asarray(present, dtype=np.int64))  # type: ignore[arg-type]
            for key in present:
                del self._vectors[key]
            # The graph keeps their rows; a search skips keys no longer held.

    def calibration(self) -> Calibration:
        """Random-pair cosines of this index (estimated lazily, re-estimated as it grows)."""
        with self._lock:
            size = len(self._vectors)
            held = self._calibration
            if held is not None and abs(size - held.size_at_estimate) <= (
                CALIBRATION_STALE_FRACTION * max(held.size_at_estimate, 1)
            ):
                return held
            if size < CALIBRATION_MIN_VECTORS:
                return PRIOR
            # `estimate_calibration` of the vectors in insertion order, reading only the rows
            # of the sampled pairs (not a copy of every vector).
            vectors = list(self._vectors.values())
            a, b = calibration_pairs(size)
            first = np.stack([vectors[i] for i in a.tolist()])
            second = np.stack([vectors[i] for i in b.tolist()])
            self._calibration = calibration_of(np.einsum("ij,ij->i", first, second), size)
            return self._calibration

    def search(self, queries: np.ndarray, k: int = 5) -> list[list[Neighbour]]:
        """The k nearest stored vectors of each query (rows of `queries`), best first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        with self._lock:
            if not self._vectors or not len(queries):
                return [[] for _ in range(len(queries))]
            calibration = self.calibration()
            take = min(k, len(self._vectors))
            if len(self._vectors) > HNSW_ABOVE and self._hnsw is not None:
                cosines, ids = self._search_hnsw(queries, take)
            else:
                cosines, ids = self._flat.search(queries, take)
        results: list[list[Neighbour]] = []
        for row_cosines, row_ids in zip(cosines, ids, strict=True):
            hits = []
            for cosine, key in zip(row_cosines.tolist(), row_ids.tolist(), strict=True):
                if key < 0:
                    continue
                hits.append(
                    Neighbour(
                        key=int(key),
                        cosine=float(cosine),
                        z=calibration.z(cosine),
                        percentile=calibration.percentile(cosine),
                    )
                )
            results.append(hits)
        return results

    def _build_graph(self) -> None:
        with self._lock:
            if self._hnsw is not None or len(self._vectors) <= HNSW_ABOVE:
                return
            keys = list(self._vectors)
            index = faiss.IndexHNSWFlat(self.dim, HNSW_LINKS, faiss.METRIC_INNER_PRODUCT)
            index.add(np.stack([self._vectors[key] for key in keys]))
            index.hnsw.efSearch = HNSW_EF_SEARCH
            self._hnsw, self._hnsw_keys = index, np.asarray(keys, dtype=np.int64)

    def prepare(self) -> None:
        """What a search would otherwise compute first, off the request path (its holder's
        refresh calls it): the calibration, and the HNSW graph past HNSW_ABOVE vectors
        (minutes at a million)."""
        self.calibration()
        self._build_graph()

    def _search_hnsw(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        assert self._hnsw is not None
        stale = len(self._hnsw_keys) - len(self._vectors)  # rows of removed or replaced keys
        cosines, rows = self._hnsw.search(queries, k + min(max(stale, 0), k))
        ids = np.where(rows >= 0, self._hnsw_keys[np.maximum(rows, 0)], -1)
        if stale > 0:
            held = np.fromiter((int(i) in self._vectors for i in ids.ravel()), bool, ids.size)
            ids = np.where(held.reshape(ids.shape), ids, -1)
            # The held ones first, in their order; then fill with −1.
            order = np.argsort(ids < 0, axis=1, kind="stable")
            ids = np.take_along_axis(ids, order, axis=1)[:, :k]
            cosines = np.take_along_axis(cosines, order, axis=1)[:, :k]
        return cosines, ids


# A semantic match never reaches the 95–100 band: its wording differs from the query's.
MEANING_SCORE_MAX = 94.0
# Calibrated on independently written real regions (docs/bench-reuse.md): a donor translation
# of a sentence at z ≥ 4 scores a higher sentence chrF++ against the recipient's own human
# translation than the untouched German in 68–79 % of cases (z 3–3.5: 43–60 %; z ≥ 5: 84–96 %).
# So z = 4 scores 75, the usual pre-translation threshold, and each standard deviation 10.
MEANING_SCORE_AT_Z = (4.0, 75.0)
MEANING_SCORE_SLOPE = 10.0
SAME_TOPIC_BONUS = 3.0


def meaning_score(neighbour: Neighbour, *, same_topic: bool = False) -> float:
    """A 0–94 score for a match by meaning, comparable in use to a fuzzy score: linear in the
    calibrated z of its cosine, plus SAME_TOPIC_BONUS when it comes from a same-topic page."""
    z0, at = MEANING_SCORE_AT_Z
    score = at + MEANING_SCORE_SLOPE * (neighbour.z - z0) + (SAME_TOPIC_BONUS if same_topic else 0)
    return float(min(max(score, 0.0), MEANING_SCORE_MAX))
