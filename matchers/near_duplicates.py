"""Near-duplicate pages across regions: MinHash bands over word shingles plus embedding cosines.

Two kinds of evidence, because real data needs both: county pages copied from a template share
most word 3-shingles (MinHash finds them), while the same topic written anew or in another
language shares almost none, and only the page vectors relate them.

Text evidence (same language only)
    ``shingle_jaccard``   exact Jaccard of the pages' word 3-shingle sets (pages under
                          ``SHORT_PAGE_WORDS`` words use single words), 0–1.
    ``shared_text_ratio`` word-level Indel similarity 2·LCS/(|a|+|b|) (rapidfuzz), 0–1: the share
                          of words the pages have in common, in order. Unrelated German pages of
                          the Landkreis Augsburg corpus sit at 0.09 median, 0.17 at the 99th
                          percentile, so ``TEXT_RATIO_BASELINE`` = 0.2 counts as nothing.
    text evidence t = max(jaccard, clip((ratio − 0.2) / 0.6, 0, 1)).

Embedding evidence (any language pair), calibrated per language pair
    Multilingual e5 cosines sit in a narrow, language-pair-dependent band (same-language random
    pairs ≈ 0.75–0.8, translations ≈ 0.9), so one global cosine threshold either floods results
    for a pair whose band sits high or misses everything for one that sits low. Instead every
    cosine is standardised against the cosines of *random* page pairs of the same
    (language_a, language_b) pair: z = (cos − mean) / std, from a sample of up to
    ``CALIBRATION_SAMPLE`` random pairs, re-estimated lazily once either language changed by
    more than ``CALIBRATION_STALE_FRACTION`` of its pages. The same sample gives an empirical
    percentile. Embedding evidence e = logistic(1.5 · (z − 4)): a random pair (z ≈ 0) gives
    0.0025, z = 3 gives 0.18, z = 4 gives 0.5, z = 6 gives 0.95.

Title evidence (same language only): rapidfuzz token_set_ratio of the titles, 0–1, weighted
    ``TITLE_WEIGHT`` = 0.15, so a matching title alone never makes a near-duplicate.

Score = 1 − (1 − t)(1 − e)(1 − 0.15 · title), 0–1 (noisy-or): any one strong signal suffices,
agreeing signals reinforce each other, and the reason record carries every input.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal, TypeVar

import numpy as np
from datasketch import MinHash
from rapidfuzz import fuzz, utils
from rapidfuzz.distance import Indel
from threadpoolctl import ThreadpoolController

from matchers.segmented import Ragged, Rows, Strings, VectorRows
from matchers.vector_scan import BoundedScan, ordered_keys

Signal = Literal["text", "embedding", "title"]
# What two pages are to each other, strongest first (see `classify_relation`).
Relation = Literal["same_text", "same_topic", "related", "unrelated"]
RELATION_ORDER: dict[str, int] = {"same_text": 3, "same_topic": 2, "related": 1, "unrelated": 0}

NUM_PERM = 128
# 42 bands of 3 rows (126 of the 128 permutations): a pair with 3-shingle Jaccard 0.5 becomes a
# candidate with probability 0.996, 0.4 → 0.93, 0.3 → 0.68, 0.05 → 0.005.
BANDS = 42
BAND_ROWS = 3
MINHASH_SEED = 1729
SHINGLE_SIZE = 3
SHORT_PAGE_WORDS = 24

TEXT_RATIO_BASELINE = 0.2
TEXT_RATIO_FULL = 0.8
TEXT_FIRES_AT = 0.5
TITLE_WEIGHT = 0.3
TITLE_FIRES_AT = 0.8
Z_MIDPOINT = 4.0
Z_SLOPE = 1.5
RANK_WEIGHT = 0.3
# Titles across languages (no shared words): a title vector cosine at z = 2 against random title
# pairs of the language pair says nothing yet, z = 5 as much as an equal title. Translated titles
# of the same topic in two real regions sit at a median z ≈ 4 (docs/near-duplicates.md).
TITLE_Z_NONE = 2.0
TITLE_Z_FULL = 5.0
TITLE_RELATED_ACROSS = 0.45
# Pages whose titles are nearest the query's title (title vectors) are candidates too, this many
# per language: a page on the query's topic can sit far down the page-vector ranking (a long
# page of the other region covering more), yet carry the translated title.
TITLE_CANDIDATES = 8
# Relations (classify_relation): the z a mutual-nearest (or top-ranked, same-titled) pair
# needs to be the same topic, the z of a related page, and of a translation across languages.
Z_SAME_TOPIC_MUTUAL = 2.0
SAME_TOPIC_MAX_RANK = 3
Z_RELATED = 2.0
Z_RELATED_TOP = 1.0  # … or this for one of the region's SAME_TOPIC_MAX_RANK nearest pages
Z_SAME_TEXT_ACROSS_LANGUAGES = 6.0
# Embedding candidates below this z are never collected, so min_score=0 cannot return the
# whole index: z = 3 is the top ~0.1 % of random pairs of a language pair.
Z_CANDIDATE_FLOOR = 3.0

CALIBRATION_SAMPLE = 4096
CALIBRATION_MIN_PAIRS = 20
CALIBRATION_STALE_FRACTION = 0.1
# Fewer than CALIBRATION_MIN_PAIRS pairs to sample: assume unrelated vectors (cos mean 0) with a
# spread typical of unit vectors in `dim` dimensions; replaced as soon as there is data.
_PRIOR_STD_FLOOR = 0.02

_INITIAL_CAPACITY = 256
_TAIL_MERGE_DOCS = 4096
_COMPACT_DEAD_FRACTION = 0.25
_MAX_BUCKET_PAIR_DISTANCE = 256
_WORD = re.compile(r"\w+")
_MASK32 = np.uint64(0xFFFFFFFF)
_SHINGLE_MULTIPLIERS = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93],
    dtype=np.uint64,
)
_BAND_SALTS = np.random.default_rng(MINHASH_SEED).integers(1, 2**63, size=BANDS, dtype=np.uint64)


@dataclass(frozen=True, slots=True, eq=False)
class PageDoc:
    """One page translation: plain text, optional L2-normalised float32 page and section vectors."""

    key: int
    region: str
    language: str
    title: str
    text: str
    vector: np.ndarray | None = None
    section_vectors: np.ndarray | None = None
    # The title alone, encoded like the page: relates titles across languages.
    title_vector: np.ndarray | None = None


@dataclass(frozen=True, slots=True)
class SimilarityReason:
    """Why two pages matched: every input of the score (all ratios 0–1, cosines −1–1)."""

    shared_text_ratio: float | None  # word-level LCS ratio; None across languages
    shingle_jaccard: float | None  # exact, on word shingles; None across languages
    text_evidence: float  # max(jaccard, ratio above its baseline), 0–1
    embedding_similarity: float | None  # raw cosine of the page vectors
    embedding_z: float | None  # cosine standardised by random pairs of the language pair
    embedding_percentile: float | None  # share of random pairs with a lower cosine, 0–1
    embedding_rank: int | None  # 1 = nearest allowed page of that language to the query
    embedding_evidence: float  # logistic of z, 0–1
    section_similarity: float | None  # best section-to-section cosine; reported, not scored
    # token_set_ratio of the titles, 0–1; across languages from the title vectors (calibrated)
    title_similarity: float | None
    signals: tuple[Signal, ...]  # which evidence fired on its own: text, embedding, title
    # Rank of the other page among its own region's pages of its language (1 = the page of that
    # region nearest to the query), and of the query among the query region's pages for the
    # other page; both 1: mutual nearest neighbours.
    region_rank: int | None = None
    reverse_rank: int | None = None
    rank_evidence: float = 0.0  # 1 mutual nearest, 0.5 nearest one way, else 0
    # Rank of the other page's title among its region's titles of its language for the query's
    # title (title vectors; 1 = the nearest title of that region).
    title_rank: int | None = None
    relation: Relation = "related"


@dataclass(frozen=True, slots=True)
class SimilarPage:
    """A page similar to the query; score 0–1 (noisy-or of text, embedding and title evidence)."""

    key: int
    region: str
    language: str
    score: float
    reason: SimilarityReason


@dataclass(frozen=True, slots=True)
class PairMatch:
    """Two near-duplicate pages of different regions (key_a < key_b); score 0–1."""

    key_a: int
    region_a: str
    language_a: str
    key_b: int
    region_b: str
    language_b: str
    score: float
    reason: SimilarityReason


@dataclass(frozen=True, slots=True, eq=False)
class CosineCalibration:
    """Cosines of random page pairs of one language pair: mean, std and the sorted sample."""

    language_a: str
    language_b: str
    mean: float
    std: float
    sample: np.ndarray
    mutations_at_estimate: tuple[int, int]
    sizes_at_estimate: tuple[int, int]

    def z(self, cosine: float | np.ndarray) -> float | np.ndarray:
        """Standard score of a cosine against random pairs of this language pair."""
        return (cosine - self.mean) / self.std

    def percentile(self, cosine: float) -> float | None:
        """Share of random pairs with a lower cosine, 0–1; None without a sample."""
        if self.sample.size == 0:
            return None
        return float(np.searchsorted(self.sample, cosine, side="left")) / self.sample.size

    def cosine_at(self, z: float) -> float:
        """The cosine that has standard score z."""
        return self.mean + z * self.std


def embedding_evidence(z: float) -> float:
    """Map a calibrated cosine z-score to evidence 0–1 (0.5 at z = 4)."""
    return 1.0 / (1.0 + math.exp(-Z_SLOPE * (z - Z_MIDPOINT)))


def _z_for_evidence(evidence: float) -> float:
    evidence = min(max(evidence, 1e-9), 1 - 1e-9)
    return Z_MIDPOINT + math.log(evidence / (1 - evidence)) / Z_SLOPE


def combine_evidence(
    text: float, embedding: float, title: float | None, rank: float = 0.0
) -> float:
    """Noisy-or of the four kinds of evidence, 0–1."""
    title_part = TITLE_WEIGHT * (title or 0.0)
    rank_part = RANK_WEIGHT * rank
    return 1.0 - (1.0 - text) * (1.0 - embedding) * (1.0 - title_part) * (1.0 - rank_part)


def classify_relation(
    *,
    same_language: bool,
    text_evidence: float,
    z: float | None,
    title_similarity: float | None,
    region_rank: int | None = None,
    reverse_rank: int | None = None,
    title_rank: int | None = None,
) -> Relation:
    """same_text: a near-copy (shared wording; across languages a translation of one);
    same_topic: the other region's page on the query's topic in its own words;
    related: a nearby topic; unrelated: nothing beyond chance. The inputs are those of a
    `SimilarityReason` (z = its embedding_z).

    Calibrated on independently written real regions (docs/near-duplicates.md): between them the
    same topic sits at embedding z ≈ 2–4 and is usually each other's nearest page (mutual rank
    1), while near-copies share most words.
    """
    if text_evidence >= TEXT_FIRES_AT:
        return "same_text"
    if not same_language and z is not None and z >= Z_SAME_TEXT_ACROSS_LANGUAGES:
        return "same_text"
    titled = (title_similarity or 0.0) >= TITLE_FIRES_AT
    if z is None:
        return "related" if titled else "unrelated"
    mutual = region_rank == 1 and reverse_rank == 1
    top = region_rank is not None and region_rank <= SAME_TOPIC_MAX_RANK
    if z >= Z_MIDPOINT or (z >= Z_SAME_TOPIC_MUTUAL and mutual) or (titled and (top or mutual)):
        return "same_topic"
    # Across languages a title vector this near is already rarer than 1 in 1 000 random pairs;
    # so is the title nearest to the query's among the other region's titles, above chance.
    titled_across = not same_language and (
        (title_similarity or 0.0) >= TITLE_RELATED_ACROSS
        or (title_rank == 1 and (title_similarity or 0.0) > 0.0)
    )
    if z >= Z_RELATED or titled or titled_across or (top and z >= Z_RELATED_TOP):
        return "related"
    return "unrelated"


def _fmix64(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xFF51AFD7ED558CCD)
    x = x ^ (x >> np.uint64(33))
    x = x * np.uint64(0xC4CEB9FE1A85EC53)
    return x ^ (x >> np.uint64(33))


def _identity(value: object) -> object:
    return value


@dataclass(slots=True)
class _TextFeatures:
    words: np.ndarray  # uint32 word hashes in page order
    shingles: np.ndarray  # sorted unique uint32 shingle hashes
    signature: np.ndarray  # uint32 MinHash, NUM_PERM values
    band_keys: np.ndarray  # uint64, one per band; empty for a page without words


@dataclass(slots=True)
class _QueryPage:
    """The page others are scored against (`_score`), with what every comparison needs of it
    made once: its words as a list (rapidfuzz's input), its title as fuzz's processor leaves
    it, and the calibrations it has used so far (one look-up per language, not per pair)."""

    language: str
    title: str
    features: _TextFeatures
    sections: np.ndarray | None
    title_vector: np.ndarray | None
    word_list: list[int] = field(init=False)
    processed_title: str = field(init=False)
    calibrations: dict[str, CosineCalibration] = field(init=False, default_factory=dict)
    title_calibrations: dict[str, CosineCalibration | None] = field(
        init=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        self.word_list = self.features.words.tolist()
        self.processed_title = utils.default_process(self.title)


@dataclass(slots=True)
class _Ranks:
    """A candidate's ranks for the query (`SimilarityReason`'s fields of the same names)."""

    region_rank: int | None = None
    reverse_rank: int | None = None
    title_rank: int | None = None


@dataclass(slots=True)
class _Candidate:
    language: str
    row: int
    cosine: float | None = None
    rank: int | None = None
    title_cosine: float | None = None


class _LanguageStore:
    """All pages of one language: rows of arrays (grown in chunks) plus a sorted band table.

    Loaded from a snapshot (`from_arrays`), the big arrays (signatures, vectors, words,
    shingles, band table) are mapped read-only and rows added later are the process's own
    (`matchers.segmented`); the small per-row flags and ids are copied into memory, so a
    discard only clears `alive`.
    """

    def __init__(self, language: str) -> None:
        self.language = language
        self.size = 0
        self.n_alive = 0
        self.mutations = 0
        self.keys = np.zeros(_INITIAL_CAPACITY, dtype=np.int64)
        self.region_codes = np.zeros(_INITIAL_CAPACITY, dtype=np.int32)
        self.alive = np.zeros(_INITIAL_CAPACITY, dtype=bool)
        self.has_vector = np.zeros(_INITIAL_CAPACITY, dtype=bool)
        self.signatures = Rows(NUM_PERM, np.uint32)
        self.vectors: VectorRows | None = None
        self.titles = Strings()
        self.words = Ragged()
        self.shingles = Ragged()
        self.sections = Ragged()
        # Title vectors as rows of one matrix (like `vectors`), so a query's title meets every
        # title of a language in one product.
        self.title_matrix: VectorRows | None = None
        self.has_title = np.zeros(_INITIAL_CAPACITY, dtype=bool)
        # Band table: sorted (band key, row) arrays plus an unsorted tail merged in batches, so an
        # add costs a dict insert and a query one searchsorted over all bands at once. A
        # snapshot's table stays apart (`base_band_*`, mapped); merges touch the own one only.
        self.base_band_keys = np.zeros(0, dtype=np.uint64)
        self.base_band_rows = np.zeros(0, dtype=np.int32)
        self.band_keys = np.zeros(0, dtype=np.uint64)
        self.band_rows = np.zeros(0, dtype=np.int32)
        self.tail: dict[int, list[int]] = {}
        self.tail_docs = 0
        # Rows sorted by region (rebuilt on the first query after a change): a region's pages
        # without a pass over the whole language.
        self._by_region_at = -1
        self._by_region_order = np.zeros(0, dtype=np.int64)
        self._by_region_codes = np.zeros(0, dtype=np.int32)

    @property
    def capacity(self) -> int:
        return int(self.keys.shape[0])

    @property
    def base_rows(self) -> int:
        """Rows mapped from a snapshot (read-only); 0 for a store built in this process."""
        return self.signatures.base_rows

    def _grow(self) -> None:
        new_capacity = max(self.capacity * 2, _INITIAL_CAPACITY)
        for name in ("keys", "region_codes", "alive", "has_vector", "has_title"):
            old = getattr(self, name)
            grown = np.zeros(new_capacity, dtype=old.dtype)
            grown[: self.size] = old[: self.size]
            setattr(self, name, grown)

    def region_rows(self, code: int) -> np.ndarray:
        """Rows of one region (alive or not), in row order."""
        if self._by_region_at != self.mutations:
            codes = self.region_codes[: self.size]
            self._by_region_order = np.argsort(codes, kind="stable")
            self._by_region_codes = codes[self._by_region_order]
            self._by_region_at = self.mutations
        lo, hi = np.searchsorted(self._by_region_codes, [code, code + 1])
        return self._by_region_order[int(lo) : int(hi)]

    def title_vector(self, row: int) -> np.ndarray | None:
        if not self.has_title[row] or self.title_matrix is None:
            return None
        return self.title_matrix[row]

    def append(
        self, doc: PageDoc, region_code: int, features: _TextFeatures, dim: int | None
    ) -> int:
        if self.size == self.capacity:
            self._grow()
        row = self.size
        self.size += 1
        self.n_alive += 1
        self.mutations += 1
        self.keys[row] = doc.key
        self.region_codes[row] = region_code
        self.alive[row] = True
        self.signatures[row] = features.signature
        if doc.vector is not None and dim is not None:
            if self.vectors is None:
                self.vectors = VectorRows(dim)
            self.vectors[row] = doc.vector
            self.has_vector[row] = True
        self.titles.append(doc.title)
        self.words.append(features.words)
        self.shingles.append(features.shingles)
        self.sections.append(doc.section_vectors)
        if doc.title_vector is not None:
            title_vector = np.asarray(doc.title_vector, dtype=np.float32).reshape(-1)
            if self.title_matrix is None:
                self.title_matrix = VectorRows(title_vector.shape[0])
            self.title_matrix[row] = title_vector
            self.has_title[row] = True
        for band_key in features.band_keys.tolist():
            self.tail.setdefault(band_key, []).append(row)
        if features.band_keys.size:
            self.tail_docs += 1
        if self.tail_docs >= _TAIL_MERGE_DOCS:
            self.merge_tail()
        return row

    def merge_tail(self) -> None:
        if not self.tail:
            return
        counts = [len(rows) for rows in self.tail.values()]
        tail_keys = np.repeat(np.fromiter(self.tail.keys(), np.uint64, len(self.tail)), counts)
        tail_rows = np.fromiter(
            (row for rows in self.tail.values() for row in rows), np.int32, sum(counts)
        )
        keys = np.concatenate([self.band_keys, tail_keys])
        rows = np.concatenate([self.band_rows, tail_rows])
        order = np.argsort(keys, kind="stable")
        self.band_keys, self.band_rows = keys[order], rows[order]
        self.tail = {}
        self.tail_docs = 0

    def band_table(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole band table, sorted by key (a merged copy when a snapshot's is mapped)."""
        self.merge_tail()
        if self.base_band_keys.size == 0:
            return self.band_keys, self.band_rows
        keys = np.concatenate([self.base_band_keys, self.band_keys])
        rows = np.concatenate([self.base_band_rows, self.band_rows])
        order = np.argsort(keys, kind="stable")
        return keys[order], rows[order]

    def band_candidates(self, band_keys: np.ndarray) -> np.ndarray:
        """Rows sharing at least one band with the given band keys (alive or not)."""
        found: list[np.ndarray] = []
        if band_keys.size:
            for table_keys, table_rows in (
                (self.base_band_keys, self.base_band_rows),
                (self.band_keys, self.band_rows),
            ):
                if not table_keys.size:
                    continue
                lo = np.searchsorted(table_keys, band_keys, side="left")
                hi = np.searchsorted(table_keys, band_keys, side="right")
                found.extend(
                    table_rows[a:b] for a, b in zip(lo.tolist(), hi.tolist(), strict=True) if b > a
                )
        for band_key in band_keys.tolist():
            rows = self.tail.get(band_key)
            if rows:
                found.append(np.asarray(rows, dtype=np.int32))
        if not found:
            return np.zeros(0, dtype=np.int32)
        return np.unique(np.concatenate(found))

    def discard(self, row: int) -> None:
        self.alive[row] = False
        self.n_alive -= 1
        self.mutations += 1

    def valid_vector_rows(self) -> np.ndarray:
        return np.flatnonzero(self.alive[: self.size] & self.has_vector[: self.size])

    # ---- snapshots ------------------------------------------------------------------------

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The live rows as plain arrays (renumbered 0…n−1): what a snapshot stores."""
        live = np.flatnonzero(self.alive[: self.size])
        rows = live.tolist()
        arrays: dict[str, np.ndarray] = {
            "keys": self.keys[live],
            "region_codes": self.region_codes[live],
            "has_vector": self.has_vector[live],
            "has_title": self.has_title[live],
            "signatures": self.signatures[live],
        }
        for prefix, matrix in (("", self.vectors), ("title_", self.title_matrix)):
            if matrix is not None:
                arrays[f"{prefix}vectors"] = np.ascontiguousarray(matrix[live], dtype=np.float32)
                arrays[f"{prefix}vector_codes"] = np.ascontiguousarray(matrix.codes[live])
                arrays[f"{prefix}vector_bounds"] = np.ascontiguousarray(matrix.bounds[live])
        arrays["title_data"], arrays["title_offsets"] = Strings.pack([self.titles[r] for r in rows])
        for name, store in (("words", self.words), ("shingles", self.shingles)):
            flat, offsets, _ = Ragged.pack([store[r] for r in rows], np.uint32)
            arrays[f"{name}_flat"], arrays[f"{name}_offsets"] = flat, offsets
        sections = [self.sections.get(r) for r in rows]
        if any(s is not None for s in sections):
            width = next(s for s in sections if s is not None).shape[1]
            flat, offsets, present = Ragged.pack(sections, np.float32, width)
            arrays["sections_flat"], arrays["sections_offsets"] = flat, offsets
            arrays["sections_present"] = present
        # The band table of the live rows, renumbered; entries stay sorted by key.
        table_keys, table_rows = self.band_table()
        renumber = np.full(self.size, -1, dtype=np.int64)
        renumber[live] = np.arange(live.size)
        kept = renumber[table_rows] >= 0
        arrays["band_keys"] = np.ascontiguousarray(table_keys[kept])
        arrays["band_rows"] = renumber[table_rows[kept]].astype(np.int32)
        return arrays

    @classmethod
    def from_arrays(cls, language: str, arrays: Mapping[str, np.ndarray]) -> _LanguageStore:
        """A store over a snapshot's arrays (mapped or not); later rows are added in memory."""
        store = cls(language)
        n = int(arrays["keys"].shape[0])
        capacity = max(_INITIAL_CAPACITY, n + n // 8)
        for name in ("keys", "region_codes", "has_vector", "has_title"):
            source = arrays[name]
            copied = np.zeros(capacity, dtype=source.dtype)
            copied[:n] = source
            setattr(store, name, copied)
        store.alive = np.zeros(capacity, dtype=bool)
        store.alive[:n] = True
        store.size = store.n_alive = store.mutations = n
        store.signatures = Rows(NUM_PERM, np.uint32, arrays["signatures"])
        for prefix, name in (("", "vectors"), ("title_", "title_matrix")):
            matrix = arrays.get(f"{prefix}vectors")
            if matrix is not None:
                # A snapshot without the int16 copies (written before them): made at load.
                rows = VectorRows(
                    int(matrix.shape[1]),
                    matrix,
                    arrays.get(f"{prefix}vector_codes"),
                    arrays.get(f"{prefix}vector_bounds"),
                )
                setattr(store, name, rows)
        store.titles = Strings(arrays["title_data"], arrays["title_offsets"])
        store.words = Ragged(arrays["words_flat"], arrays["words_offsets"])
        store.shingles = Ragged(arrays["shingles_flat"], arrays["shingles_offsets"])
        if "sections_flat" in arrays:
            store.sections = Ragged(
                arrays["sections_flat"], arrays["sections_offsets"], arrays["sections_present"]
            )
        else:
            store.sections = Ragged(None, np.zeros(n + 1, dtype=np.int64), np.zeros(n, bool))
        store.base_band_keys = arrays["band_keys"]
        store.base_band_rows = arrays["band_rows"]
        return store


class NearDuplicateIndex:
    """Incremental index of pages for near-duplicate search across regions and languages."""

    def __init__(self, *, shingle_size: int = SHINGLE_SIZE, seed: int = MINHASH_SEED) -> None:
        self.shingle_size = shingle_size
        self._seed = seed
        self._minhash_template = MinHash(num_perm=NUM_PERM, seed=seed, hashfunc=_identity)
        self._stores: dict[str, _LanguageStore] = {}
        self._where: dict[int, tuple[str, int]] = {}
        self._region_codes: dict[str, int] = {}
        self._region_names: list[str] = []
        self._word_hashes: dict[str, int] = {}
        self._calibrations: dict[tuple[str, str], CosineCalibration] = {}
        self._title_calibrations: dict[tuple[str, str], CosineCalibration] = {}
        self._dim: int | None = None

    # ---- building -------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, key: object) -> bool:
        return key in self._where

    def add(self, doc: PageDoc) -> None:
        """Add a page, or replace the stored page with the same key."""
        if doc.key in self._where:
            self.discard(doc.key)
        if doc.vector is not None:
            vector = np.asarray(doc.vector, dtype=np.float32).reshape(-1)
            if self._dim is None:
                self._dim = int(vector.shape[0])
            elif vector.shape[0] != self._dim:
                raise ValueError(f"vector has {vector.shape[0]} dimensions, index has {self._dim}")
        store = self._stores.get(doc.language)
        if store is None:
            store = self._stores[doc.language] = _LanguageStore(doc.language)
        region_code = self._region_code(doc.region)
        row = store.append(doc, region_code, self._text_features(doc.text), self._dim)
        self._where[doc.key] = (doc.language, row)

    def add_many(self, docs: Iterable[PageDoc]) -> None:
        """Add pages in bulk (same as add, then one merge of the band tables)."""
        for doc in docs:
            self.add(doc)
        for store in self._stores.values():
            store.merge_tail()

    def discard(self, key: int) -> None:
        """Remove a page; unknown keys are ignored."""
        where = self._where.pop(key, None)
        if where is None:
            return
        store = self._stores[where[0]]
        store.discard(where[1])
        dead = store.size - store.n_alive
        if dead > _INITIAL_CAPACITY and dead > _COMPACT_DEAD_FRACTION * store.size:
            self._compact(store)

    def _compact(self, store: _LanguageStore) -> None:
        # Rows are renumbered, so rebuild the store from its live rows. A store over a mapped
        # snapshot is not compacted (that would copy the snapshot into this process): its dead
        # rows stay hidden until the next snapshot.
        if store.base_rows:
            return
        live = np.flatnonzero(store.alive[: store.size])
        fresh = _LanguageStore(store.language)
        while fresh.capacity < max(live.size, 1):
            fresh._grow()
        n = live.size
        fresh.size = fresh.n_alive = n
        fresh.mutations = store.mutations
        for name in ("keys", "region_codes", "alive", "has_vector", "has_title"):
            getattr(fresh, name)[:n] = getattr(store, name)[live]
        fresh.signatures.own = store.signatures[live]
        for name in ("vectors", "title_matrix"):
            matrix = getattr(store, name)
            if matrix is not None:
                setattr(fresh, name, matrix.gathered(live))
        live_rows = live.tolist()
        fresh.titles.own = [store.titles[r] for r in live_rows]
        fresh.words.own = [store.words[r] for r in live_rows]
        fresh.shingles.own = [store.shingles[r] for r in live_rows]
        fresh.sections.own = [store.sections.get(r) for r in live_rows]
        for new_row, features_row in enumerate(live_rows):
            for band_key in self._band_keys(
                store.signatures[features_row], store.words[features_row]
            ).tolist():
                fresh.tail.setdefault(band_key, []).append(new_row)
        fresh.merge_tail()
        self._stores[store.language] = fresh
        for new_row, key in enumerate(fresh.keys[:n].tolist()):
            self._where[key] = (store.language, new_row)

    def _region_code(self, region: str) -> int:
        code = self._region_codes.get(region)
        if code is None:
            code = self._region_codes[region] = len(self._region_names)
            self._region_names.append(region)
        return code

    # ---- snapshots ------------------------------------------------------------------------

    def to_arrays(self) -> tuple[dict, dict[str, dict[str, np.ndarray]]]:
        """(meta, arrays per language) of the live pages: what a snapshot stores
        (`matchers.near_duplicate_snapshot`). Calibrations are not stored: they are estimated
        from the pages at the first query, as in a freshly built index."""
        languages = sorted(self._stores)
        meta = {
            "shingle_size": self.shingle_size,
            "seed": self._seed,
            "dim": self._dim,
            "regions": list(self._region_names),
            "languages": languages,
        }
        arrays = {language: self._stores[language].to_arrays() for language in languages}
        return meta, arrays

    @classmethod
    def from_arrays(
        cls, meta: Mapping, arrays: Mapping[str, Mapping[str, np.ndarray]]
    ) -> NearDuplicateIndex:
        """An index over a snapshot's arrays (`to_arrays`; mapped read-only or not). Pages
        added later are held in memory; discards hide the snapshot's row."""
        index = cls(shingle_size=int(meta["shingle_size"]), seed=int(meta["seed"]))
        index._dim = None if meta.get("dim") is None else int(meta["dim"])
        for region in meta["regions"]:
            index._region_code(region)
        for language in meta["languages"]:
            store = index._stores[language] = _LanguageStore.from_arrays(language, arrays[language])
            keys = store.keys[: store.size].tolist()
            index._where.update((key, (language, row)) for row, key in enumerate(keys))
        return index

    # ---- text features --------------------------------------------------------------------

    def _word_hash_array(self, text: str) -> np.ndarray:
        cache = self._word_hashes
        hashes = []
        for word in _WORD.findall(text.casefold()):
            h = cache.get(word)
            if h is None:
                # blake2b, not hash(): stable across processes, so signatures can be persisted.
                digest = hashlib.blake2b(word.encode(), digest_size=4).digest()
                h = cache[word] = int.from_bytes(digest, "little")
            hashes.append(h)
        return np.asarray(hashes, dtype=np.uint32)

    def _shingle_hashes(self, words: np.ndarray) -> np.ndarray:
        # Short pages use single words: three edits in a 15-word page leave few 3-shingles.
        k = self.shingle_size if words.size >= SHORT_PAGE_WORDS else 1
        k = min(k, int(words.size))
        if k == 0:
            return np.zeros(0, dtype=np.uint32)
        wide = words.astype(np.uint64)
        n = wide.size - k + 1
        mixed = np.full(n, np.uint64(k), dtype=np.uint64)
        for offset in range(k):
            mixed = mixed + wide[offset : offset + n] * _SHINGLE_MULTIPLIERS[offset % 4]
        return np.unique((_fmix64(mixed) & _MASK32).astype(np.uint32))

    def _band_keys(self, signature: np.ndarray, words: np.ndarray) -> np.ndarray:
        if words.size == 0:
            # All empty pages share one signature; they are nobody's near-duplicate.
            return np.zeros(0, dtype=np.uint64)
        bands = signature[: BANDS * BAND_ROWS].astype(np.uint64).reshape(BANDS, BAND_ROWS)
        mixed = _BAND_SALTS.copy()
        for offset in range(BAND_ROWS):
            mixed = mixed + bands[:, offset] * _SHINGLE_MULTIPLIERS[offset]
        return _fmix64(mixed)

    def _text_features(self, text: str) -> _TextFeatures:
        words = self._word_hash_array(text)
        shingles = self._shingle_hashes(words)
        minhash = self._minhash_template.copy()
        if shingles.size:
            minhash.update_batch(shingles)
        signature = np.asarray(minhash.hashvalues, dtype=np.uint32)
        return _TextFeatures(words, shingles, signature, self._band_keys(signature, words))

    # ---- calibration ----------------------------------------------------------------------

    def calibration(self, language_a: str, language_b: str) -> CosineCalibration:
        """Random-pair cosine statistics of a language pair (estimated lazily, cached)."""
        pair = (language_a, language_b) if language_a <= language_b else (language_b, language_a)
        store_a, store_b = self._stores.get(pair[0]), self._stores.get(pair[1])
        mutations = (store_a.mutations if store_a else 0, store_b.mutations if store_b else 0)
        cached = self._calibrations.get(pair)
        if cached is not None and not self._is_stale(cached, mutations):
            return cached
        fresh = self._estimate_calibration(pair, store_a, store_b, mutations)
        self._calibrations[pair] = fresh
        return fresh

    def title_calibration(self, language_a: str, language_b: str) -> CosineCalibration | None:
        """Random-pair cosines of the title vectors of a language pair; None without enough."""
        pair = (language_a, language_b) if language_a <= language_b else (language_b, language_a)
        store_a, store_b = self._stores.get(pair[0]), self._stores.get(pair[1])
        if store_a is None or store_b is None:
            return None
        mutations = (store_a.mutations, store_b.mutations)
        cached = self._title_calibrations.get(pair)
        if cached is not None and not self._is_stale(cached, mutations):
            return cached
        rows_a = np.flatnonzero(store_a.alive[: store_a.size] & store_a.has_title[: store_a.size])
        rows_b = np.flatnonzero(store_b.alive[: store_b.size] & store_b.has_title[: store_b.size])
        if len(rows_a) * len(rows_b) < CALIBRATION_MIN_PAIRS:
            return None
        rows_a, rows_b = _by_key(store_a, rows_a), _by_key(store_b, rows_b)
        seed = _content_seed(f"title|{pair}", store_a, rows_a, store_b, rows_b)
        rng = np.random.default_rng(seed)
        n = min(CALIBRATION_SAMPLE, len(rows_a) * len(rows_b))
        pick_a = rng.integers(0, len(rows_a), size=n)
        pick_b = rng.integers(0, len(rows_b), size=n)
        chosen_a, chosen_b = rows_a[pick_a], rows_b[pick_b]
        keep = (chosen_a != chosen_b) if pair[0] == pair[1] else np.ones(n, dtype=bool)
        assert store_a.title_matrix is not None and store_b.title_matrix is not None
        cosines = np.einsum(
            "ij,ij->i",
            store_a.title_matrix[chosen_a[keep]],
            store_b.title_matrix[chosen_b[keep]],
        )
        sizes = (len(rows_a), len(rows_b))
        fresh = CosineCalibration(
            pair[0],
            pair[1],
            float(cosines.mean()),
            max(float(cosines.std()), 1e-4),
            np.sort(cosines),
            mutations,
            sizes,
        )
        self._title_calibrations[pair] = fresh
        return fresh

    @staticmethod
    def _is_stale(calibration: CosineCalibration, mutations: tuple[int, int]) -> bool:
        for then, now, size in zip(
            calibration.mutations_at_estimate, mutations, calibration.sizes_at_estimate, strict=True
        ):
            if now - then > max(1.0, CALIBRATION_STALE_FRACTION * size):
                return True
        return False

    def _estimate_calibration(
        self,
        pair: tuple[str, str],
        store_a: _LanguageStore | None,
        store_b: _LanguageStore | None,
        mutations: tuple[int, int],
    ) -> CosineCalibration:
        rows_a = store_a.valid_vector_rows() if store_a else np.zeros(0, dtype=np.int64)
        rows_b = store_b.valid_vector_rows() if store_b else np.zeros(0, dtype=np.int64)
        same = pair[0] == pair[1]
        possible = rows_a.size * (rows_a.size - 1) // 2 if same else rows_a.size * rows_b.size
        sizes = (int(rows_a.size), int(rows_b.size))
        if possible < CALIBRATION_MIN_PAIRS or store_a is None or store_b is None:
            std = max(_PRIOR_STD_FLOOR, 1.0 / math.sqrt(self._dim or 384))
            return CosineCalibration(
                pair[0], pair[1], 0.0, std, np.zeros(0, dtype=np.float32), mutations, sizes
            )
        assert store_a.vectors is not None and store_b.vectors is not None
        # Seeded by the language pair and the pages it holds, drawn from the rows in key
        # order: the same pages calibrate the same, however the index got them (built here,
        # or a snapshot plus the pages written since).
        rows_a, rows_b = _by_key(store_a, rows_a), _by_key(store_b, rows_b)
        seed = _content_seed(f"{pair[0]}|{pair[1]}", store_a, rows_a, store_b, rows_b)
        rng = np.random.default_rng(seed)
        n = min(CALIBRATION_SAMPLE, possible)
        pick_a = rng.integers(0, rows_a.size, size=n * 2)
        pick_b = rng.integers(0, rows_b.size, size=n * 2)
        if same:
            distinct = pick_a != pick_b
            pick_a, pick_b = pick_a[distinct], pick_b[distinct]
        pick_a, pick_b = pick_a[:n], pick_b[:n]
        vectors_a = store_a.vectors[rows_a[pick_a]]
        vectors_b = store_b.vectors[rows_b[pick_b]]
        cosines = np.einsum("ij,ij->i", vectors_a, vectors_b)
        mean = float(cosines.mean())
        std = max(float(cosines.std()), 1e-4)
        return CosineCalibration(pair[0], pair[1], mean, std, np.sort(cosines), mutations, sizes)

    # ---- queries --------------------------------------------------------------------------

    def find_similar(
        self,
        query: int | PageDoc,
        *,
        limit: int = 10,
        min_score: float = 0.0,
        regions: set[str] | None = None,
        exclude_region: bool = True,
        cross_lingual: bool = True,
        languages: set[str] | None = None,
        min_relation: Relation = "unrelated",
    ) -> list[SimilarPage]:
        """Pages of other regions most similar to a stored key or a given page; scores 0–1.

        Each result carries its relation to the query (`reason.relation`) and its rank evidence;
        results below `min_relation` are left out.
        """
        if isinstance(query, PageDoc):
            doc_language, doc_region, title = query.language, query.region, query.title
            features = self._text_features(query.text)
            vector = None if query.vector is None else np.asarray(query.vector, dtype=np.float32)
            sections = query.section_vectors
            title_vector = query.title_vector
            self_key: int | None = query.key
        else:
            if query not in self._where:
                raise KeyError(query)
            language, row = self._where[query]
            store = self._stores[language]
            doc_language = language
            doc_region = self._region_names[int(store.region_codes[row])]
            title = store.titles[row]
            words = store.words[row]
            features = _TextFeatures(
                words,
                store.shingles[row],
                store.signatures[row],
                self._band_keys(store.signatures[row], words),
            )
            vector = (
                store.vectors[row] if store.has_vector[row] and store.vectors is not None else None
            )
            sections = store.sections.get(row)
            title_vector = store.title_vector(row)
            self_key = query

        target_languages = [
            lang
            for lang in self._stores
            if (cross_lingual or lang == doc_language) and (languages is None or lang in languages)
        ]
        own_code = self._region_codes.get(doc_region)
        allowed_codes = (
            None
            if regions is None
            else np.array(
                [self._region_codes[r] for r in regions if r in self._region_codes], dtype=np.int32
            )
        )

        def allowed(store: _LanguageStore, rows: np.ndarray) -> np.ndarray:
            codes = store.region_codes[rows]
            mask = store.alive[rows].copy()
            if self_key is not None:
                mask &= store.keys[rows] != self_key
            if allowed_codes is not None:
                mask &= np.isin(codes, allowed_codes)
            if exclude_region and own_code is not None:
                mask &= codes != own_code
            return mask

        candidates: dict[tuple[str, int], _Candidate] = {}
        # Per language: the query's products with every row (int16 bounds, exact where a
        # decision needs it: `matchers.vector_scan`) and which rows may be returned.
        all_cosines: dict[str, tuple[BoundedScan, np.ndarray]] = {}
        if doc_language in target_languages and doc_language in self._stores:
            store = self._stores[doc_language]
            rows = store.band_candidates(features.band_keys)
            for row in rows[allowed(store, rows)].tolist():
                candidates[(doc_language, row)] = _Candidate(doc_language, row)

        # Which rows of each language may be returned: computed once, for vectors and titles.
        allowed_rows = {
            lang: allowed(self._stores[lang], np.arange(self._stores[lang].size))
            for lang in target_languages
        }

        if vector is not None:
            per_language = max(4 * limit, 32)
            for lang in target_languages:
                store = self._stores[lang]
                if store.vectors is None or store.size == 0:
                    continue
                valid = allowed_rows[lang] & store.has_vector[: store.size]
                n_valid = int(valid.sum())
                if n_valid == 0:
                    continue
                cosines = store.vectors.bounded_dot(vector, valid.size)
                top = cosines.top(valid, min(per_language, n_valid), store.keys)
                all_cosines[lang] = (cosines, valid)
                for rank, row in enumerate(top.tolist(), start=1):
                    candidate = candidates.setdefault((lang, row), _Candidate(lang, row))
                    candidate.cosine = cosines.value(row)
                    candidate.rank = rank

        title_cosines: dict[str, tuple[BoundedScan, np.ndarray]] = {}
        if title_vector is not None:
            query_title = np.asarray(title_vector, dtype=np.float32).reshape(-1)
            for lang in target_languages:
                store = self._stores[lang]
                if store.title_matrix is None or store.size == 0:
                    continue
                valid = allowed_rows[lang] & store.has_title[: store.size]
                n_valid = int(valid.sum())
                if n_valid == 0:
                    continue
                cosines = store.title_matrix.bounded_dot(query_title, valid.size)
                top = cosines.top(valid, min(TITLE_CANDIDATES, n_valid), store.keys)
                title_cosines[lang] = (cosines, valid)
                for row in top.tolist():
                    candidates.setdefault((lang, row), _Candidate(lang, row))
            _resolve_candidates(candidates, title_cosines)
            for (lang, row), candidate in candidates.items():
                if lang in title_cosines and title_cosines[lang][1][row]:
                    candidate.title_cosine = title_cosines[lang][0].value(row)

        _resolve_candidates(candidates, all_cosines)  # those found by bands or titles
        for candidate in candidates.values():
            if candidate.cosine is None and candidate.language in all_cosines:
                cosines, valid = all_cosines[candidate.language]
                # A page without a vector (found by its text) has no embedding evidence.
                if valid[candidate.row]:
                    candidate.cosine = cosines.value(candidate.row)
        reverse_ranks = (
            self._reverse_ranks(candidates, vector, doc_language, own_code, self_key)
            if vector is not None
            else {}
        )

        # Ranks in the candidates' regions, per language in one pass over each region.
        region_ranks = (
            _ranks_in_regions(self._stores, candidates, all_cosines, "cosine")
            if vector is not None
            else {}
        )
        title_ranks = _ranks_in_regions(self._stores, candidates, title_cosines, "title_cosine")
        results: list[SimilarPage] = []
        needed = RELATION_ORDER[min_relation]
        query_page = _QueryPage(doc_language, title, features, sections, title_vector)
        for candidate in candidates.values():
            store = self._stores[candidate.language]
            where = (candidate.language, candidate.row)
            ranks = _Ranks()
            if candidate.cosine is not None and vector is not None:
                ranks.region_rank = region_ranks[where]
                ranks.reverse_rank = reverse_ranks.get(where)
            if candidate.title_cosine is not None:
                ranks.title_rank = title_ranks[where]
            reason, score = self._score(
                query_page,
                candidate.language,
                candidate.row,
                candidate.cosine,
                candidate.rank,
                ranks,
            )
            if score < min_score or RELATION_ORDER[reason.relation] < needed:
                continue
            region = self._region_names[int(store.region_codes[candidate.row])]
            key = int(store.keys[candidate.row])
            results.append(SimilarPage(key, region, candidate.language, score, reason))
        results.sort(key=lambda page: (-page.score, page.key))
        results = results[:limit]
        # Ranks outside a language's top list cost a pass over its cosines: only for results.
        for i, page in enumerate(results):
            cosine = page.reason.embedding_similarity
            if page.reason.embedding_rank is None and cosine is not None:
                cosines, valid = all_cosines[page.language]
                rank = cosines.count_above(cosine, valid) + 1
                results[i] = replace(page, reason=replace(page.reason, embedding_rank=rank))
        return results

    def _reverse_ranks(
        self,
        candidates: dict[tuple[str, int], _Candidate],
        query_vector: np.ndarray,
        query_language: str,
        query_region: int | None,
        query_key: int | None,
    ) -> dict[tuple[str, int], int]:
        """For each candidate with a cosine: the query's rank among its own region's pages of
        its language for the candidate (1 = the query is the candidate's nearest there)."""
        home = self._stores.get(query_language)
        if query_region is None or home is None or home.vectors is None:
            return {}
        rows = home.region_rows(query_region)
        rows = rows[home.alive[rows] & home.has_vector[rows]]
        if query_key is not None:
            rows = rows[home.keys[rows] != query_key]
        home_matrix = home.vectors[rows]
        ranks: dict[tuple[str, int], int] = {}
        by_language: dict[str, list[int]] = defaultdict(list)
        for (language, row), candidate in candidates.items():
            if candidate.cosine is not None and self._stores[language].vectors is not None:
                by_language[language].append(row)
        for language, candidate_rows in by_language.items():
            matrix = self._stores[language].vectors
            assert matrix is not None
            others = matrix[np.asarray(candidate_rows)]
            with _one_blas_thread():
                back = home_matrix @ others.T  # one small product for all candidates
                back_cosines = others @ query_vector
            counts = np.count_nonzero(back > back_cosines[None, :], axis=0)
            for row, count in zip(candidate_rows, counts.tolist(), strict=True):
                ranks[(language, row)] = count + 1
        return ranks

    def _score_stored_pair(
        self,
        lang_a: str,
        row_a: int,
        lang_b: str,
        row_b: int,
        cosine: float | None,
        rank: int | None,
    ) -> tuple[SimilarityReason, float]:
        """Score two stored pages (0–1); the cosine is computed when not given and both have one."""
        store_a, store_b = self._stores[lang_a], self._stores[lang_b]
        if cosine is None and store_a.has_vector[row_a] and store_b.has_vector[row_b]:
            assert store_a.vectors is not None and store_b.vectors is not None
            cosine = float(store_a.vectors[row_a] @ store_b.vectors[row_b])
        words = store_a.words[row_a]
        features = _TextFeatures(
            words, store_a.shingles[row_a], store_a.signatures[row_a], words[:0]
        )
        page = _QueryPage(
            lang_a,
            store_a.titles[row_a],
            features,
            store_a.sections.get(row_a),
            store_a.title_vector(row_a),
        )
        return self._score(page, lang_b, row_b, cosine, rank, None)

    def explain(self, key_a: int, key_b: int) -> SimilarPage:
        """Score and reason of stored page key_b as a match for key_a (0–1; no embedding rank)."""
        lang_a, row_a = self._where[key_a]
        lang_b, row_b = self._where[key_b]
        reason, score = self._score_stored_pair(lang_a, row_a, lang_b, row_b, None, None)
        store_b = self._stores[lang_b]
        region = self._region_names[int(store_b.region_codes[row_b])]
        return SimilarPage(key_b, region, lang_b, score, reason)

    def _score(
        self,
        query: _QueryPage,
        other_language: str,
        other_row: int,
        cosine: float | None,
        rank: int | None,
        ranks: _Ranks | None,
    ) -> tuple[SimilarityReason, float]:
        """The reason and score (0–1) of a stored page as a match for the query page; `ranks`
        are its ranks among its region's pages for the query (None: not known, no rank
        evidence)."""
        store = self._stores[other_language]
        language = query.language
        jaccard = ratio = title_similarity = None
        text = 0.0
        if other_language == language:
            jaccard = _jaccard(query.features.shingles, store.shingles[other_row])
            other_words = store.words[other_row]
            if query.word_list and other_words.size:
                ratio = float(Indel.normalized_similarity(query.word_list, other_words.tolist()))
            else:
                ratio = 0.0
            scaled = (ratio - TEXT_RATIO_BASELINE) / (TEXT_RATIO_FULL - TEXT_RATIO_BASELINE)
            text = max(jaccard, min(max(scaled, 0.0), 1.0))
            other_title = store.titles[other_row]
            if query.title.strip() and other_title.strip():
                title_similarity = (
                    fuzz.token_set_ratio(query.processed_title, utils.default_process(other_title))
                    / 100.0
                )
        elif (
            query.title_vector is not None
            and (other_title_vector := store.title_vector(other_row)) is not None
        ):
            title_calibration = _once(
                query.title_calibrations,
                other_language,
                lambda: self.title_calibration(language, other_language),
            )
            title_similarity = _title_similarity_across(
                title_calibration, query.title_vector, other_title_vector
            )
        z = percentile = None
        embedding = 0.0
        if cosine is not None:
            calibration = _once(
                query.calibrations,
                other_language,
                lambda: self.calibration(language, other_language),
            )
            z = float(calibration.z(cosine))
            percentile = calibration.percentile(cosine)
            embedding = embedding_evidence(z)
        section_similarity = None
        other_sections = store.sections.get(other_row)
        sections = query.sections
        if (
            sections is not None
            and other_sections is not None
            and len(sections)
            and len(other_sections)
        ):
            section_similarity = float(np.max(np.asarray(sections) @ np.asarray(other_sections).T))
        signals: list[Signal] = []
        if text >= TEXT_FIRES_AT:
            signals.append("text")
        if z is not None and z >= Z_MIDPOINT:
            signals.append("embedding")
        if title_similarity is not None and title_similarity >= TITLE_FIRES_AT:
            signals.append("title")
        ranks = ranks or _Ranks()
        # Rank evidence: 1 for mutual nearest pages, 0.5 for the nearest one way.
        rank_evidence = (
            0.0
            if cosine is None or ranks.region_rank != 1
            else 1.0
            if ranks.reverse_rank == 1
            else 0.5
        )
        relation = classify_relation(
            same_language=other_language == language,
            text_evidence=text,
            z=z,
            title_similarity=title_similarity,
            region_rank=ranks.region_rank,
            reverse_rank=ranks.reverse_rank,
            title_rank=ranks.title_rank,
        )
        reason = SimilarityReason(
            shared_text_ratio=ratio,
            shingle_jaccard=jaccard,
            text_evidence=text,
            embedding_similarity=cosine,
            embedding_z=z,
            embedding_percentile=percentile,
            embedding_rank=rank,
            embedding_evidence=embedding,
            section_similarity=section_similarity,
            title_similarity=title_similarity,
            signals=tuple(signals),
            region_rank=ranks.region_rank,
            reverse_rank=ranks.reverse_rank,
            rank_evidence=rank_evidence,
            title_rank=ranks.title_rank,
            relation=relation,
        )
        return reason, combine_evidence(text, embedding, title_similarity, rank_evidence)

    # ---- all pairs ------------------------------------------------------------------------

    def all_pairs(
        self,
        *,
        min_score: float = 0.5,
        cross_lingual: bool = True,
        top_k: int = 10,
        block_size: int = 2048,
    ) -> Iterator[PairMatch]:
        """Every pair of pages of different regions scoring ≥ min_score (0–1), each once.

        Text candidates come from shared MinHash bands; embedding candidates from a blocked
        matrix product per language pair, keeping each page's top_k neighbours above the
        cosine that min_score needs (never below z = 3).
        """
        found: dict[tuple[str, int, str, int], tuple[float | None, int | None]] = {}
        for language, store in self._stores.items():
            for row_a, row_b in self._text_pairs(store):
                found.setdefault((language, row_a, language, row_b), (None, None))
        if self._dim is not None:
            languages = sorted(self._stores)
            for i, lang_a in enumerate(languages):
                for lang_b in languages[i:]:
                    if lang_a != lang_b and not cross_lingual:
                        continue
                    for row_a, row_b, pair_cosine, pair_rank in self._embedding_pairs(
                        lang_a, lang_b, min_score, top_k, block_size
                    ):
                        found[(lang_a, row_a, lang_b, row_b)] = (pair_cosine, pair_rank)
        for (lang_a, row_a, lang_b, row_b), (cosine, rank) in found.items():
            store_a, store_b = self._stores[lang_a], self._stores[lang_b]
            reason, score = self._score_stored_pair(lang_a, row_a, lang_b, row_b, cosine, rank)
            if score < min_score:
                continue
            page_a = (
                int(store_a.keys[row_a]),
                self._region_names[int(store_a.region_codes[row_a])],
                lang_a,
            )
            page_b = (
                int(store_b.keys[row_b]),
                self._region_names[int(store_b.region_codes[row_b])],
                lang_b,
            )
            if page_a[0] > page_b[0]:
                page_a, page_b = page_b, page_a
            yield PairMatch(*page_a, *page_b, score, reason)

    def _text_pairs(self, store: _LanguageStore) -> Iterator[tuple[int, int]]:
        """Row pairs of different regions that share a band and whose MinHash estimate passes."""
        keys, rows = store.band_table()
        if keys.size < 2:
            return
        chunks: list[np.ndarray] = []
        # Entries are sorted by band key, so members of one bucket are adjacent: pair each entry
        # with the one d places on, for growing d, until no bucket is that large.
        for distance in range(1, min(_MAX_BUCKET_PAIR_DISTANCE, keys.size)):
            same = np.flatnonzero(keys[distance:] == keys[:-distance])
            if same.size == 0:
                break
            a, b = rows[same].astype(np.int64), rows[same + distance].astype(np.int64)
            chunks.append(np.minimum(a, b) * store.size + np.maximum(a, b))
        if not chunks:
            return
        codes = np.unique(np.concatenate(chunks))
        row_a, row_b = codes // store.size, codes % store.size
        keep = (
            store.alive[row_a]
            & store.alive[row_b]
            & (store.region_codes[row_a] != store.region_codes[row_b])
            & (row_a != row_b)
        )
        row_a, row_b = row_a[keep], row_b[keep]
        # The MinHash estimate drops the band's chance hits before exact verification.
        min_estimate = 0.2
        step = 65536
        for start in range(0, row_a.size, step):
            a, b = row_a[start : start + step], row_b[start : start + step]
            estimate = (store.signatures[a] == store.signatures[b]).mean(axis=1)
            passing = estimate >= min_estimate
            yield from zip(a[passing].tolist(), b[passing].tolist(), strict=True)

    def _embedding_pairs(
        self, lang_a: str, lang_b: str, min_score: float, top_k: int, block_size: int
    ) -> Iterator[tuple[int, int, float, int]]:
        """(row_a, row_b, cosine, rank) for each page's top_k cross-region neighbours."""
        store_a, store_b = self._stores[lang_a], self._stores[lang_b]
        if store_a.vectors is None or store_b.vectors is None:
            return
        rows_a, rows_b = store_a.valid_vector_rows(), store_b.valid_vector_rows()
        if rows_a.size == 0 or rows_b.size == 0:
            return
        calibration = self.calibration(lang_a, lang_b)
        # Weakest embedding evidence that can still reach min_score with a perfect title.
        needed = 1.0 - (1.0 - min_score) / (1.0 - TITLE_WEIGHT)
        z_needed = max(Z_CANDIDATE_FLOOR, _z_for_evidence(needed) if needed > 0 else -math.inf)
        threshold = np.float32(calibration.cosine_at(z_needed))
        matrix_a = store_a.vectors[rows_a]
        matrix_b = matrix_a if lang_a == lang_b else store_b.vectors[rows_b]
        codes_a, codes_b = store_a.region_codes[rows_a], store_b.region_codes[rows_b]
        same_language = lang_a == lang_b
        sources: list[np.ndarray] = []
        targets: list[np.ndarray] = []
        values: list[np.ndarray] = []
        for start_a in range(0, rows_a.size, block_size):
            block_a = matrix_a[start_a : start_a + block_size]
            block_codes = codes_a[start_a : start_a + block_size]
            # One language: only blocks on or above the diagonal; each hit serves both rows.
            first_b = start_a if same_language else 0
            for start_b in range(first_b, rows_b.size, block_size * 4):
                block_b = matrix_b[start_b : start_b + block_size * 4]
                sims = block_a @ block_b.T
                hit = sims >= threshold
                if same_language and start_b < start_a + block_a.shape[0]:
                    local_a = np.arange(block_a.shape[0])[:, None] + start_a
                    local_b = np.arange(block_b.shape[0])[None, :] + start_b
                    hit &= local_b > local_a
                i, j = np.nonzero(hit)
                # Same-region pairs are dropped on the (sparse) hits, not on the whole tile.
                other_region = block_codes[i] != codes_b[start_b + j]
                i, j = i[other_region], j[other_region]
                if i.size == 0:
                    continue
                sources.append(i + start_a)
                targets.append(j + start_b)
                values.append(sims[i, j])
        if not sources:
            return
        src, dst, sim = np.concatenate(sources), np.concatenate(targets), np.concatenate(values)
        # Top-k per row, for both directions: a pair is kept if either page ranks the other.
        # Rows of b get ids after those of a unless both sides are the same matrix.
        offset = 0 if same_language else rows_a.size
        both_src = np.concatenate([src, dst + offset])
        both_sim = np.concatenate([sim, sim])
        order = np.lexsort((-both_sim, both_src))
        both_src = both_src[order]
        group_start = np.r_[0, np.flatnonzero(np.diff(both_src)) + 1]
        sizes = np.diff(np.r_[group_start, both_src.size])
        rank = np.arange(both_src.size) - np.repeat(group_start, sizes) + 1
        keep = rank <= top_k
        # Back from the two directions to one row per pair, with its better rank.
        pair_index = order[keep] % src.size
        pair_rank = rank[keep]
        by_pair = np.lexsort((pair_rank, pair_index))
        pair_index, pair_rank = pair_index[by_pair], pair_rank[by_pair]
        first = np.r_[True, pair_index[1:] != pair_index[:-1]]
        pair_index, pair_rank = pair_index[first], pair_rank[first]
        yield from zip(
            rows_a[src[pair_index]].tolist(),
            rows_b[dst[pair_index]].tolist(),
            sim[pair_index].tolist(),
            pair_rank.tolist(),
            strict=True,
        )


_T = TypeVar("_T")


def _once(cache: dict, key: str, make: Callable[[], _T]) -> _T:
    """`cache[key]`, made by `make()` the first time (a value of None is kept too)."""
    if key not in cache:
        cache[key] = make()
    return cache[key]


def _title_similarity_across(
    calibration: CosineCalibration | None, vector: np.ndarray, other: np.ndarray
) -> float | None:
    """Titles of two languages, 0–1: their vectors' cosine, standardised against random title
    pairs of the language pair (`calibration`), from z = TITLE_Z_NONE (0) to TITLE_Z_FULL (1)."""
    if calibration is None:
        return None
    z = float(calibration.z(float(np.dot(vector, other))))
    return min(max((z - TITLE_Z_NONE) / (TITLE_Z_FULL - TITLE_Z_NONE), 0.0), 1.0)


def _resolve_candidates(
    candidates: Mapping[tuple[str, int], _Candidate],
    scans: Mapping[str, tuple[BoundedScan, np.ndarray]],
) -> None:
    """Make the candidates' products exact, in one read per language (not one per row)."""
    by_language: dict[str, list[int]] = defaultdict(list)
    for language, row in candidates:
        if language in scans:
            by_language[language].append(row)
    for language, rows in by_language.items():
        scans[language][0].resolve(np.asarray(rows))


_threadpools: ThreadpoolController | None = None


def _one_blas_thread():
    """BLAS on one thread for a small product: on the 2-core machines OpenBLAS's thread
    hand-off costs more than the product (measured 2.6 → 0.6 ms for 714 × 384 by 384 × 89)."""
    global _threadpools
    if _threadpools is None:
        _threadpools = ThreadpoolController()
    return _threadpools.limit(limits=1, user_api="blas")


def _ranks_in_regions(
    stores: Mapping[str, _LanguageStore],
    candidates: Mapping[tuple[str, int], _Candidate],
    cosines_by_language: Mapping[str, tuple[BoundedScan, np.ndarray]],
    attribute: Literal["cosine", "title_cosine"],
) -> dict[tuple[str, int], int]:
    """For each candidate with that cosine: 1 + how many allowed pages of its own region (in
    its language) are nearer than it.

    One vectorised pass per language: only rows above the weakest candidate of their region can
    count, and those are sorted by (region, cosine) as one int64 key (the region in the high 32
    bits, the float32 cosine's order-preserving bit pattern in the low 32), so each candidate's
    count is two binary searches, exact as comparing the cosines themselves. Rows whose int16
    bounds hold the cosine of a candidate of their region are made exact first; the others
    compare with every candidate of their region as their exact cosines would."""
    by_language: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for (language, row), candidate in candidates.items():
        value = getattr(candidate, attribute)
        if value is not None and language in cosines_by_language:
            by_language[language].append((row, value))
    ranks: dict[tuple[str, int], int] = {}
    for language, members in by_language.items():
        scan, valid = cosines_by_language[language]
        store = stores[language]
        rows = np.array([row for row, _ in members], dtype=np.int64)
        values = np.array([value for _, value in members], dtype=np.float32)
        codes = store.region_codes[rows].astype(np.int64)
        all_codes = store.region_codes[: valid.size]
        # The weakest candidate's cosine per region (+inf for regions without a candidate).
        weakest = np.full(int(all_codes.max(initial=0)) + 1, np.inf, np.float32)
        np.minimum.at(weakest, codes, values)
        scan.resolve_near(all_codes, codes, values, valid)
        cosines = scan.values[: valid.size]
        counted = np.flatnonzero(valid & (cosines > weakest[all_codes]))
        keys = np.sort(ordered_keys(all_codes[counted], cosines[counted]))
        own = ordered_keys(codes, values)
        region_end = np.searchsorted(keys, (codes + 1) << 32, side="left")
        above = region_end - np.searchsorted(keys, own, side="right")
        for row, count in zip(rows.tolist(), above.tolist(), strict=True):
            ranks[(language, row)] = count + 1
    return ranks


def _by_key(store: _LanguageStore, rows: np.ndarray) -> np.ndarray:
    """The rows in the order of their keys (the order of a fresh build is not the same)."""
    return rows[np.argsort(store.keys[rows], kind="stable")]


def _content_seed(
    label: str,
    store_a: _LanguageStore,
    rows_a: np.ndarray,
    store_b: _LanguageStore,
    rows_b: np.ndarray,
) -> int:
    """A seed from the label and the keys of the (key-ordered) rows."""
    seed = zlib.crc32(label.encode())
    seed = zlib.crc32(np.ascontiguousarray(store_a.keys[rows_a]).tobytes(), seed)
    return zlib.crc32(np.ascontiguousarray(store_b.keys[rows_b]).tobytes(), seed)


def _jaccard(a: np.ndarray, b: np.ndarray) -> float:
    if a.size == 0 or b.size == 0:
        return 0.0
    shared = np.intersect1d(a, b, assume_unique=True).size
    return shared / (a.size + b.size - shared)


__all__ = [
    "CosineCalibration",
    "NearDuplicateIndex",
    "PageDoc",
    "PairMatch",
    "SimilarPage",
    "SimilarityReason",
    "Signal",
    "combine_evidence",
    "embedding_evidence",
]
