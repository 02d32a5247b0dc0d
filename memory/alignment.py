"""Align the segments of a page with the segments of its translation.

Structure first: when both pages have the same sequence of block tags, blocks pair in order, and
inside a block pair sentences pair 1:1 when both sides have as many (otherwise the whole block is
one unit). When the structures differ and sentence vectors are at hand (an ``embed`` function or
precomputed vectors), sentences align by meaning: a dynamic programme over beads 1-1, 1-2, 2-1,
2-2, 1-0 and 0-1 scored by the cosine of multilingual sentence embeddings, normalised against the
page's own unrelated pairs (Thompson & Koehn's vecalign, 2019), with a small length term. Without
vectors, a Gale–Church style dynamic programme over blocks (same beads but 2-2) decides, with
shared numbers, URLs, e-mails and names as extra evidence. Every pair gets a confidence in [0, 1];
1-0/0-1 beads and pairs below the threshold are dropped.

This module loads no model: callers pass ``embed`` (texts → L2-normalised vectors, e.g. an
encoder's ``encode_queries`` behind a vector cache) or the vectors themselves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from types import MappingProxyType
from typing import Literal

import numpy as np

from memory.segmentation import PLACEHOLDER_RE, Segment

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "EMBEDDING_BEADS",
    "EMBEDDING_SKIP_COST",
    "AlignedPair",
    "Bead",
    "Embed",
    "align_segments",
    "align_vectors",
    "anchor_agreement",
    "join_segments",
    "length_plausibility",
    "same_block_structure",
]

Method = Literal["block", "sentence", "length", "embedding"]
Embed = Callable[[list[str]], np.ndarray]
"""Texts → vectors (len(texts), dim), float32, L2-normalised; the same prompt for both languages."""

# Pairs below this confidence are left out of align_segments' result.
DEFAULT_MIN_CONFIDENCE = 0.4

# Gale & Church (1993): bead priors and the variance of target length per source character.
BEAD_PRIORS: dict[tuple[int, int], float] = {
    (1, 1): 0.89,
    (1, 0): 0.0099 / 2,
    (0, 1): 0.0099 / 2,
    (2, 1): 0.089 / 2,
    (1, 2): 0.089 / 2,
}
GC_VARIANCE = 6.8
# How much shared anchors lower a bead's cost (in nats): strong enough to pull a bead across a
# paragraph that was merged in translation, too weak to override lengths without anchors.
EVIDENCE_WEIGHT = 3.0
# Spread of log(length ratio) that still looks like a translation (≈ a factor of 1.4 at 1 σ).
LENGTH_LOG_SIGMA = 0.35
# Cells further than this from the diagonal are not explored (keeps huge pages near-linear).
MIN_BAND = 24

# Alignment by embeddings (settings chosen on the dev pages of tests/data/alignment/gold.json,
# see docs/bench-alignment.md). Beads besides 1-0 / 0-1: lists of short German items are often
# one English sentence, hence 3-1; 2-2 is left out, it mostly joined two good 1-1 pairs.
EMBEDDING_BEADS: tuple[tuple[int, int], ...] = ((1, 1), (1, 2), (2, 1), (1, 3), (3, 1))
# Cost of leaving one sentence out, where an unrelated pair costs ≈ 1 and an identical one 0:
# a 1-1 bead wins over two skips when its margin is above ≈ 1 − 2 · 0.4.
EMBEDDING_SKIP_COST = 0.4
# Weight of the squared log length ratio (against the page's ratio) in a bead's cost.
EMBEDDING_LENGTH_WEIGHT = 0.1
# Cost added per bead for numbers, URLs and e-mails: weight · (0.5 − their Jaccard agreement),
# when both sides have some. Contact blocks look alike to the model; their numbers do not.
EMBEDDING_ANCHOR_WEIGHT = 0.5
# Floor of a span's normalisation (1 − its mean cosine to the other side).
_MIN_NORM = 0.02

_NUMBER_RE = re.compile(r"\d{1,30}")
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>\"')\]]+", re.IGNORECASE)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TOKEN_RE = re.compile(r"\w[\w-]*")


@dataclass(frozen=True)
class AlignedPair:
    """A source unit and its translation, how they were paired and how sure that is (0–1)."""

    source_text: str
    target_text: str
    source_indices: tuple[int, ...]
    target_indices: tuple[int, ...]
    method: Method
    confidence: float
    source_markup: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)
    target_markup: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    @property
    def source_plain(self) -> str:
        """Source text without placeholders."""
        return PLACEHOLDER_RE.sub("", self.source_text)

    @property
    def target_plain(self) -> str:
        """Target text without placeholders."""
        return PLACEHOLDER_RE.sub("", self.target_text)


@dataclass(frozen=True)
class _Block:
    tag: str
    segments: tuple[Segment, ...]

    @property
    def plain(self) -> str:
        return " ".join(segment.plain for segment in self.segments)


def align_segments(
    source: Sequence[Segment],
    target: Sequence[Segment],
    source_language: str,
    target_language: str,
    *,
    min_confidence: float = DEFAULT_MIN_CONFIDENCE,
    embed: Embed | None = None,
    source_vectors: np.ndarray | None = None,
    target_vectors: np.ndarray | None = None,
) -> list[AlignedPair]:
    """Aligned units of two segmented pages, in source order; confidence ≥ min_confidence.

    Where the block structure does not decide, sentences align by their vectors: the rows of
    source_vectors / target_vectors (one per segment, L2-normalised), or else embed's vectors of
    the segments' plain texts (called once, with the source texts then the target texts, and only
    for such pages). With neither, blocks align by length and anchors.
    """
    source_blocks = _blocks(source)
    target_blocks = _blocks(target)
    if not source_blocks or not target_blocks:
        return []
    ratio = _length_ratio(source_blocks, target_blocks)
    if _same_tags(source_blocks, target_blocks):
        pairs = _align_by_structure(source_blocks, target_blocks, ratio)
    elif embed is not None or (source_vectors is not None and target_vectors is not None):
        pairs = _align_by_embeddings(
            source,
            target,
            ratio,
            _segment_vectors(source, target, embed, source_vectors, target_vectors),
        )
    else:
        pairs = _align_by_length(source_blocks, target_blocks, ratio)
    return [pair for pair in pairs if pair.confidence >= min_confidence]


def same_block_structure(source: Sequence[Segment], target: Sequence[Segment]) -> bool:
    """Whether both pages have the same sequence of block tags (then blocks pair in order)."""
    return _same_tags(_blocks(source), _blocks(target))


def _same_tags(source: list[_Block], target: list[_Block]) -> bool:
    # Tags, not full paths: translators' editors add or drop wrapper <div>s freely.
    return [block.tag for block in source] == [block.tag for block in target]


def _blocks(segments: Sequence[Segment]) -> list[_Block]:
    """Group segments into their blocks, in order."""
    return [
        _Block(group[0].block_tag, tuple(group))
        for _, grouped in groupby(segments, key=lambda segment: segment.block_index)
        for group in [list(grouped)]
    ]


def _length_ratio(source: list[_Block], target: list[_Block]) -> float:
    """Target characters per source character on this page (language pairs differ a lot)."""
    source_chars = sum(len(block.plain) for block in source)
    target_chars = sum(len(block.plain) for block in target)
    if source_chars == 0 or target_chars == 0:
        return 1.0
    # Clamp so one odd page (e.g. a half-translated one) cannot skew every bead.
    return min(max(target_chars / source_chars, 0.5), 2.0)


def _align_by_structure(
    source: list[_Block], target: list[_Block], ratio: float
) -> list[AlignedPair]:
    pairs: list[AlignedPair] = []
    for source_block, target_block in zip(source, target, strict=True):
        source_count = len(source_block.segments)
        if source_count > 1 and source_count == len(target_block.segments):
            for source_segment, target_segment in zip(
                source_block.segments, target_block.segments, strict=True
            ):
                pairs.append(_pair([source_segment], [target_segment], "sentence", ratio))
        else:
            pairs.append(_pair(source_block.segments, target_block.segments, "block", ratio))
    return pairs


def _align_by_length(source: list[_Block], target: list[_Block], ratio: float) -> list[AlignedPair]:
    pairs: list[AlignedPair] = []
    for source_part, target_part in _gale_church(source, target, ratio):
        if not source_part or not target_part:
            continue  # 1-0 / 0-1: text on one side only
        if (
            len(source_part) == 1
            and len(target_part) == 1
            and len(source_part[0].segments) > 1
            and len(source_part[0].segments) == len(target_part[0].segments)
        ):
            for source_segment, target_segment in zip(
                source_part[0].segments, target_part[0].segments, strict=True
            ):
                pairs.append(_pair([source_segment], [target_segment], "length", ratio))
            continue
        source_segments = [segment for block in source_part for segment in block.segments]
        target_segments = [segment for block in target_part for segment in block.segments]
        pairs.append(_pair(source_segments, target_segments, "length", ratio))
    return pairs


def _gale_church(
    source: list[_Block], target: list[_Block], ratio: float
) -> list[tuple[list[_Block], list[_Block]]]:
    """Beads of a Gale–Church alignment of blocks, cost lowered by shared anchors."""
    n, m = len(source), len(target)
    band = max(MIN_BAND, abs(n - m) + MIN_BAND // 2)
    source_lengths = [len(block.plain) for block in source]
    target_lengths = [len(block.plain) for block in target]
    source_anchors = [_anchors(block.plain) for block in source]
    target_anchors = [_anchors(block.plain) for block in target]
    infinity = math.inf
    cost: dict[tuple[int, int], float] = {(0, 0): 0.0}
    back: dict[tuple[int, int], tuple[int, int]] = {}
    for i in range(n + 1):
        centre = round(i * m / n) if n else 0
        for j in range(max(0, centre - band), min(m, centre + band) + 1):
            if i == 0 and j == 0:
                continue
            best, best_step = infinity, (0, 0)
            for (di, dj), prior in BEAD_PRIORS.items():
                previous = cost.get((i - di, j - dj))
                if previous is None:
                    continue
                source_length = sum(source_lengths[i - di : i])
                target_length = sum(target_lengths[j - dj : j])
                step = -math.log(prior) + _length_cost(source_length, target_length, ratio)
                if di and dj:
                    evidence = _agreement(
                        _merge_anchors(source_anchors[i - di : i]),
                        _merge_anchors(target_anchors[j - dj : j]),
                    )
                    if evidence is not None:
                        step -= EVIDENCE_WEIGHT * (evidence - 0.5)
                if previous + step < best:
                    best, best_step = previous + step, (di, dj)
            if best < infinity:
                cost[(i, j)] = best
                back[(i, j)] = best_step
    beads: list[tuple[list[_Block], list[_Block]]] = []
    i, j = n, m
    if (i, j) not in back:
        return [(source, target)]  # outside the band: keep the page as one unit
    while i > 0 or j > 0:
        di, dj = back[(i, j)]
        beads.append((source[i - di : i], target[j - dj : j]))
        i, j = i - di, j - dj
    beads.reverse()
    return beads


def _length_cost(source_length: int, target_length: int, ratio: float) -> float:
    """Gale–Church −log P(match | lengths), in nats."""
    if source_length == 0 and target_length == 0:
        return 0.0
    mean = (source_length + target_length / ratio) / 2
    delta = (target_length - source_length * ratio) / math.sqrt(mean * GC_VARIANCE)
    probability = math.erfc(abs(delta) / math.sqrt(2))  # two-tailed normal
    return -math.log(max(probability, 1e-12))


# ------------------------------------------------------------------ alignment by embeddings


@dataclass(frozen=True)
class Bead:
    """One step of an alignment by vectors: positions on each side and how alike they are.

    similarity is the cosine of the merged vectors (normalised sums of the parts), in [-1, 1];
    margin is that similarity relative to the page's unrelated pairs: 1 = identical vectors,
    0 = no more alike than a random pair of the page, below 0 less. Both are 0 for 1-0 / 0-1.
    """

    source: tuple[int, ...]
    target: tuple[int, ...]
    similarity: float
    margin: float


def align_vectors(
    source_vectors: np.ndarray,
    target_vectors: np.ndarray,
    source_lengths: Sequence[int] | None = None,
    target_lengths: Sequence[int] | None = None,
    *,
    source_anchors: Sequence[frozenset[str]] | None = None,
    target_anchors: Sequence[frozenset[str]] | None = None,
    beads: Sequence[tuple[int, int]] = EMBEDDING_BEADS,
    skip_cost: float = EMBEDDING_SKIP_COST,
    length_weight: float = EMBEDDING_LENGTH_WEIGHT,
    anchor_weight: float = EMBEDDING_ANCHOR_WEIGHT,
) -> list[Bead]:
    """Monotone alignment of two sequences of sentence vectors (rows L2-normalised), in order.

    Beads are the (source, target) sizes allowed besides 1-0 and 0-1; a merge's vector is the
    normalised sum of its parts' vectors. A bead costs (1 − margin) · k · l for k source and l
    target sentences (vecalign's cost: margin = 1 − 2 · (1 − cos) / (n_s + n_t), where n_s, n_t
    are 1 − the mean cosine of either side to all single sentences of the other side, so that a
    sentence resembling everything on the page is no strong match), plus length_weight ·
    log(length ratio)² when lengths are given and anchor_weight · (0.5 − agreement) where both
    sides have anchors (numbers, URLs, e-mails); a 1-0 or 0-1 bead costs skip_cost. Returns the
    path of least total cost, covering every position once, in order.
    """
    source_vectors = np.asarray(source_vectors, dtype=np.float64)
    target_vectors = np.asarray(target_vectors, dtype=np.float64)
    n, m = len(source_vectors), len(target_vectors)
    if n == 0 or m == 0:
        return [Bead((i,), (), 0.0, 0.0) for i in range(n)] + [
            Bead((), (j,), 0.0, 0.0) for j in range(m)
        ]
    sizes = [(ks, kt) for ks, kt in dict.fromkeys(beads) if 1 <= ks <= n and 1 <= kt <= m]
    source_spans = {ks: _span_vectors(source_vectors, ks) for ks, _ in sizes}
    target_spans = {kt: _span_vectors(target_vectors, kt) for _, kt in sizes}
    source_norms = {
        ks: np.maximum(1.0 - (spans @ target_vectors.T).mean(axis=1), _MIN_NORM)
        for ks, spans in source_spans.items()
    }
    target_norms = {
        kt: np.maximum(1.0 - (source_vectors @ spans.T).mean(axis=0), _MIN_NORM)
        for kt, spans in target_spans.items()
    }
    length_terms = _length_terms(source_lengths, target_lengths, (n, m), sizes, length_weight)
    anchor_terms = _anchor_terms(source_anchors, target_anchors, (n, m), sizes, anchor_weight)
    # similarity[ks, kt][a, b]: the bead of source a .. a+ks-1 and target b .. b+kt-1.
    similarity = {(ks, kt): source_spans[ks] @ target_spans[kt].T for ks, kt in sizes}
    margin = {
        (ks, kt): 1.0
        - 2.0 * (1.0 - similarity[ks, kt]) / (source_norms[ks][:, None] + target_norms[kt][None, :])
        for ks, kt in sizes
    }
    step_cost = {
        # k · l as in vecalign: a merge has to beat a 1-1 plus skips clearly to win.
        (ks, kt): (1.0 - margin[ks, kt]) * (ks * kt)
        + length_terms.get((ks, kt), 0.0)
        + anchor_terms.get((ks, kt), 0.0)
        for ks, kt in sizes
    }

    # cost[i, j]: best path over source[:i] and target[:j]; back[i, j]: its last bead's sizes.
    cost = np.full((n + 1, m + 1), np.inf)
    back = np.zeros((n + 1, m + 1, 2), dtype=np.int64)
    columns = np.arange(m + 1)
    cost[0] = columns * skip_cost
    back[0, 1:] = (0, 1)
    for i in range(1, n + 1):
        row = cost[i - 1] + skip_cost  # 1-0: source sentence i-1 left out
        row_back = np.zeros((m + 1, 2), dtype=np.int64)
        row_back[:] = (1, 0)
        for ks, kt in sizes:  # 1-1 first, and only strictly better beads replace it
            if ks > i:
                continue
            candidate = cost[i - ks, : m + 1 - kt] + step_cost[ks, kt][i - ks]
            better = candidate < row[kt:]
            row[kt:][better] = candidate[better]
            row_back[kt:][better] = (ks, kt)
        # 0-1 runs within the row, vectorised: cost[i, j] = min over j' ≤ j of
        # row[j'] + (j − j') · skip_cost.
        shifted = row - columns * skip_cost
        best = np.minimum.accumulate(shifted)
        from_left = best < shifted
        cost[i] = best + columns * skip_cost
        row_back[from_left] = (0, 1)
        back[i] = row_back

    path: list[Bead] = []
    i, j = n, m
    while i > 0 or j > 0:
        ks, kt = (int(v) for v in back[i, j])
        source_part, target_part = tuple(range(i - ks, i)), tuple(range(j - kt, j))
        if ks and kt:
            cell = (i - ks, j - kt)
            path.append(
                Bead(
                    source_part,
                    target_part,
                    float(similarity[ks, kt][cell]),
                    float(margin[ks, kt][cell]),
                )
            )
        else:
            path.append(Bead(source_part, target_part, 0.0, 0.0))
        i, j = i - ks, j - kt
    path.reverse()
    return path


def _span_vectors(vectors: np.ndarray, size: int) -> np.ndarray:
    """Normalised sums of every run of `size` consecutive rows (row a: rows a .. a+size-1)."""
    if size == 1:
        return vectors
    summed = np.lib.stride_tricks.sliding_window_view(vectors, size, axis=0).sum(axis=2)
    norms = np.linalg.norm(summed, axis=1, keepdims=True)
    return summed / np.maximum(norms, 1e-12)


def _length_terms(
    source_lengths: Sequence[int] | None,
    target_lengths: Sequence[int] | None,
    shape: tuple[int, int],
    sizes: Sequence[tuple[int, int]],
    weight: float,
) -> dict[tuple[int, int], np.ndarray]:
    """weight · log(target/source length, over the page's ratio)² for every bead."""
    if source_lengths is None or target_lengths is None or weight == 0.0:
        return {}
    source = np.asarray(source_lengths, dtype=np.float64)
    target = np.asarray(target_lengths, dtype=np.float64)
    if (len(source), len(target)) != shape:
        raise ValueError("one length per vector expected")
    ratio = min(max(target.sum() / max(source.sum(), 1.0), 0.5), 2.0)
    terms: dict[tuple[int, int], np.ndarray] = {}
    for ks, kt in sizes:
        # +1 per joining space, +10 so that short lines ("Tel.", "Fax") do not dominate.
        source_span = np.convolve(source, np.ones(ks), mode="valid") + (ks - 1) + 10
        target_span = np.convolve(target, np.ones(kt), mode="valid") + (kt - 1) + 10
        log_ratio = np.log(target_span[None, :] / (source_span[:, None] * ratio))
        terms[ks, kt] = weight * log_ratio**2
    return terms


def _anchor_terms(
    source_anchors: Sequence[frozenset[str]] | None,
    target_anchors: Sequence[frozenset[str]] | None,
    shape: tuple[int, int],
    sizes: Sequence[tuple[int, int]],
    weight: float,
) -> dict[tuple[int, int], np.ndarray]:
    """weight · (0.5 − Jaccard agreement of anchors) for beads with anchors on both sides."""
    if source_anchors is None or target_anchors is None or weight == 0.0:
        return {}
    if (len(source_anchors), len(target_anchors)) != shape:
        raise ValueError("one anchor set per vector expected")
    n, m = shape
    terms: dict[tuple[int, int], np.ndarray] = {}
    for ks, kt in sizes:
        source_spans = [frozenset().union(*source_anchors[a : a + ks]) for a in range(n - ks + 1)]
        target_spans = [frozenset().union(*target_anchors[b : b + kt]) for b in range(m - kt + 1)]
        term = np.zeros((len(source_spans), len(target_spans)))
        # Few segments carry anchors (contact lines, links): loop over those only.
        with_anchors = [(b, anchors) for b, anchors in enumerate(target_spans) if anchors]
        for a, anchors in enumerate(source_spans):
            if not anchors:
                continue
            for b, other in with_anchors:
                term[a, b] = weight * (0.5 - len(anchors & other) / len(anchors | other))
        terms[ks, kt] = term
    return terms


def _segment_vectors(
    source: Sequence[Segment],
    target: Sequence[Segment],
    embed: Embed | None,
    source_vectors: np.ndarray | None,
    target_vectors: np.ndarray | None,
) -> tuple[np.ndarray, np.ndarray]:
    """One vector per segment on each side: the given ones, or embed's of the plain texts."""
    if source_vectors is None or target_vectors is None:
        assert embed is not None
        vectors = np.asarray(embed([s.plain for s in source] + [t.plain for t in target]))
        source_vectors, target_vectors = vectors[: len(source)], vectors[len(source) :]
    if len(source_vectors) != len(source) or len(target_vectors) != len(target):
        raise ValueError("one vector per segment expected")
    return source_vectors, target_vectors


def _align_by_embeddings(
    source: Sequence[Segment],
    target: Sequence[Segment],
    ratio: float,
    vectors: tuple[np.ndarray, np.ndarray],
) -> list[AlignedPair]:
    beads = align_vectors(
        vectors[0],
        vectors[1],
        [len(segment.plain) for segment in source],
        [len(segment.plain) for segment in target],
        source_anchors=[_anchors(segment.plain).hard for segment in source],
        target_anchors=[_anchors(segment.plain).hard for segment in target],
    )
    pairs: list[AlignedPair] = []
    for bead in beads:
        if not bead.source or not bead.target:
            continue  # 1-0 / 0-1: text on one side only
        pairs.append(
            _pair(
                [source[i] for i in bead.source],
                [target[j] for j in bead.target],
                "embedding",
                ratio,
                margin=bead.margin,
            )
        )
    return pairs


def length_plausibility(source_text: str, target_text: str, ratio: float = 1.0) -> float:
    """How plausible the two lengths are for a translation, 1.0 = expected ratio, → 0 far off."""
    log_ratio = math.log((len(target_text) + 10) / ((len(source_text) + 10) * ratio))
    return math.exp(-(log_ratio**2) / (2 * LENGTH_LOG_SIGMA**2))


@dataclass(frozen=True)
class _Anchors:
    hard: frozenset[str]  # numbers, URLs, e-mails: a translation keeps them
    names: frozenset[str]  # capitalised tokens: shared when they are names


def _anchors(text: str) -> _Anchors:
    """Numbers, URLs, e-mails and capitalised tokens of a text."""
    urls = {url.rstrip(".,;:").lower() for url in _URL_RE.findall(text)}
    emails = {email.lower() for email in _EMAIL_RE.findall(text)}
    rest = _EMAIL_RE.sub(" ", _URL_RE.sub(" ", text))
    # int() folds Arabic-Indic and other decimal digits into one form.
    numbers = {str(int(number)) for number in _NUMBER_RE.findall(rest)}
    names = {
        token
        for token in _TOKEN_RE.findall(rest)
        if len(token) >= 3 and token[0].isupper() and not token.isdigit()
    }
    return _Anchors(frozenset(urls | emails | numbers), frozenset(names))


def _merge_anchors(parts: Sequence[_Anchors]) -> _Anchors:
    if len(parts) == 1:
        return parts[0]
    return _Anchors(
        frozenset().union(*(part.hard for part in parts)),
        frozenset().union(*(part.names for part in parts)),
    )


def _agreement(source: _Anchors, target: _Anchors) -> float | None:
    """Share of anchors both sides agree on, 0–1; None when there is nothing to compare."""
    # Names only count when shared: German capitalises every noun, so unshared ones say nothing.
    shared_names = min(len(source.names & target.names), 3) * 0.5
    union = len(source.hard | target.hard)
    if union == 0 and shared_names == 0:
        return None
    return (len(source.hard & target.hard) + shared_names) / (union + shared_names)


def anchor_agreement(source_text: str, target_text: str) -> float | None:
    """Agreement of numbers, URLs, e-mails and shared names, 0–1; None without any."""
    return _agreement(_anchors(source_text), _anchors(target_text))


def _pair(
    source: Sequence[Segment],
    target: Sequence[Segment],
    method: Method,
    ratio: float,
    *,
    margin: float | None = None,
) -> AlignedPair:
    source_text, source_markup = join_segments(source)
    target_text, target_markup = join_segments(target)
    source_plain = " ".join(segment.plain for segment in source)
    target_plain = " ".join(segment.plain for segment in target)
    quality = length_plausibility(source_plain, target_plain, ratio)
    evidence = anchor_agreement(source_plain, target_plain)
    if evidence is not None:
        quality = (quality + 2 * evidence) / 3
    if margin is not None:
        confidence = _embedding_confidence(margin, quality)
    elif method == "length":
        confidence = 0.8 * quality  # a length bead has only lengths and anchors
    else:
        confidence = 0.5 + 0.5 * quality  # structure is strong evidence of its own
    return AlignedPair(
        source_text=source_text,
        target_text=target_text,
        source_indices=tuple(segment.index for segment in source),
        target_indices=tuple(segment.index for segment in target),
        method=method,
        confidence=round(confidence, 4),
        source_markup=MappingProxyType(source_markup),
        target_markup=MappingProxyType(target_markup),
    )


def _embedding_confidence(margin: float, quality: float) -> float:
    """Confidence of an embedding bead from its margin and its length/anchor quality, 0–1."""
    # Margins of right pairs run from ≈ 0.2 (short list items) to 1 (identical lines); the
    # length and anchor quality catches what margins miss: a 1-1 bead that should have been a
    # 3-1 has a good margin but a target far too long. Weights chosen on the gold's dev pages.
    similar = min(max((margin - 0.1) / 0.4, 0.0), 1.0)
    return 0.6 * similar + 0.4 * quality


def join_segments(segments: Sequence[Segment]) -> tuple[str, dict[str, str]]:
    """Join segment texts with spaces, renumbering placeholders so they stay unique."""
    if len(segments) == 1:
        return segments[0].text, dict(segments[0].markup)
    texts: list[str] = []
    markup: dict[str, str] = {}
    offset = 0
    for segment in segments:
        numbers = [int(n) for m in PLACEHOLDER_RE.finditer(segment.text) for n in m.groups() if n]
        texts.append(_renumber(segment.text, segment.markup, offset, markup))
        offset += max(numbers, default=0)
    return " ".join(texts), markup


def _renumber(text: str, markup: Mapping[str, str], offset: int, into: dict[str, str]) -> str:
    """Shift a segment's placeholder numbers by offset, collecting the shifted markup."""

    def shift(match: re.Match[str]) -> str:
        token = match.group(0)
        if token not in markup:
            return token
        number = match.group(1) or match.group(2)
        renamed = token.replace(number, str(int(number) + offset), 1)
        into[renamed] = markup[token]
        return renamed

    return PLACEHOLDER_RE.sub(shift, text)
