"""Segment keys and forms: the normalised placeholder form a segment is matched on, its hash,
and the keys that make units and neighbouring contexts distinct.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache

from matchers.normalise import normalise_for_matching
from matchers.placeholders import Placeholder, extract_placeholders
from memory.segmentation import PLACEHOLDER_RE

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class SegmentKey:
    """A segment's matching key: normalised placeholder form, its hash, the values found."""

    form: str
    hash: str
    values: tuple[Placeholder, ...]


def strip_markup(text: str) -> str:
    """A segment text without inline-markup placeholders, whitespace collapsed.

    Paired tags (`<g1>…</g1>`: links, bold) vanish as they do on the rendered page ("<g1>0821
    3102-0</g1>." → "0821 3102-0."); a standalone item (`<x2/>`: a line break, an image) reads
    as a space.
    """
    return _SPACES.sub(" ", PLACEHOLDER_RE.sub(_placeholder_text, text)).strip()


def _placeholder_text(match: re.Match[str]) -> str:
    return "" if match.group(1) is not None else " "


@lru_cache(maxsize=65_536)
def segment_key(text: str, language: str) -> SegmentKey:
    """The matching key of a segment text (with or without inline placeholders) in `language`.

    Cached (keys are immutable): the same sentences and phrases recur across the pages of a
    region and its requests (fragment assembly looks up every phrase of a segment)."""
    extracted = extract_placeholders(strip_markup(text))
    form = normalise_for_matching(extracted.form, language)
    return SegmentKey(form, _sha256(form), extracted.values)


def _sha256(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()


def unit_key(
    source_text: str,
    target_text: str,
    source_language_id: int,
    target_language_id: int,
    region_id: int | None,
    page_id: int | None,
) -> str:
    """The unique key of a unit: the same pair of texts in the same place is stored once.

    Units are distinct by their real text (whitespace runs count as one space): "Raum 202" and
    "Raum 303" are two units although their matching forms (`Raum {NUM}`) are equal — the form
    is only for matching. migrations/versions/0005 computes the same key for stored units.
    """
    return _sha256(
        "text",
        _SPACES.sub(" ", source_text).strip(),
        _SPACES.sub(" ", target_text).strip(),
        source_language_id,
        target_language_id,
        region_id if region_id is not None else "-",
        page_id if page_id is not None else "-",
    )


def context_key(before_form: str | None, after_form: str | None) -> str:
    """Hash of the neighbouring source segments' forms ('' at a page's start or end)."""
    return _sha256("context", before_form or "", after_form or "")
