"""Align the segments of a page with the segments of its translation.

Structure first: when both pages have the same sequence of block tags, blocks pair in order, and
inside a block pair sentences pair 1:1 when both sides have as many (otherwise the whole block is
one unit). When the structures differ, a Gale–Church style dynamic programme over blocks (beads
1-1, 1-2, 2-1, 1-0, 0-1) decides, with shared numbers, URLs, e-mails and names as extra evidence.
Every pair gets a confidence in [0, 1]; 1-0/0-1 beads and pairs below the threshold are dropped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import groupby
from types import MappingProxyType
from typing import Literal

from memory.segmentation import PLACEHOLDER_RE, Segment

__all__ = [
    "DEFAULT_MIN_CONFIDENCE",
    "AlignedPair",
    "align_segments",
    "anchor_agreement",
    "join_segments",
    "length_plausibility",
    "same_block_structure",
]

Method = Literal["block", "sentence", "length"]

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
) -> list[AlignedPair]:
    """Aligned units of two segmented pages, in source order; confidence ≥ min_confidence."""
    source_blocks = _blocks(source)
    target_blocks = _blocks(target)
    if not source_blocks or not target_blocks:
        return []
    ratio = _length_ratio(source_blocks, target_blocks)
    if _same_tags(source_blocks, target_blocks):
        pairs = _align_by_structure(source_blocks, target_blocks, ratio)
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
    source: Sequence[Segment], target: Sequence[Segment], method: Method, ratio: float
) -> AlignedPair:
    source_text, source_markup = join_segments(source)
    target_text, target_markup = join_segments(target)
    source_plain = " ".join(segment.plain for segment in source)
    target_plain = " ".join(segment.plain for segment in target)
    quality = length_plausibility(source_plain, target_plain, ratio)
    evidence = anchor_agreement(source_plain, target_plain)
    if evidence is not None:
        quality = (quality + 2 * evidence) / 3
    # Structure is strong evidence of its own; a length bead has only lengths and anchors.
    confidence = 0.5 + 0.5 * quality if method != "length" else 0.8 * quality
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
