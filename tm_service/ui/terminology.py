"""The termbase in the review UI: a segment's terms marked in its source text, and a list of
them with the preferred rendering in the target language (template globals)."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from markupsafe import Markup

from memory.models import Region
from memory.services.terminology import SegmentTerm, Termbase, termbase_for
from tm_service.extensions import db

# Markup.format escapes every value put in.
MARK = Markup('<mark class="term term-{}" data-concept="{}" title="{} → {}">{}</mark>')


def segment_terms(region: Region, segment: Any) -> list[SegmentTerm]:
    """The termbase terms of a review segment's source, once per request and segment."""
    cache: dict[int, list[SegmentTerm]] = g.setdefault("segment_terms", {})
    if segment.id not in cache:
        termbases: dict[str, Termbase] = g.setdefault("termbases", {})
        slug = getattr(region, "slug", "")
        if slug not in termbases:  # one termbase check per request, not one per segment
            termbases[slug] = termbase_for(db.session, region if slug else None)
        termbase = termbases[slug]
        cache[segment.id] = (
            termbase.terms_in(segment.source_text, segment.source.code, segment.target.code)
            if termbase
            else []
        )
    return cache[segment.id]


def term_marked(region: Region, segment: Any) -> Markup:
    """The segment's source text, each termbase term in a <mark class="term"> that names the
    preferred target term."""
    text = segment.source_text
    pieces: list[str | Markup] = []
    cursor = 0
    for term in segment_terms(region, segment):
        if term.start < cursor:
            continue  # overlapping terms: the first one is marked
        preferred = " / ".join(term.preferred) or "no term in this language yet"
        pieces.append(text[cursor : term.start])
        pieces.append(
            MARK.format(
                term.status, term.concept_key, term.term, preferred, text[term.start : term.end]
            )
        )
        cursor = term.end
    pieces.append(text[cursor:])
    return Markup("").join(pieces)  # Markup.join escapes the plain-text pieces


def register_terminology_helpers(app: Flask) -> None:
    app.add_template_global(term_marked)
    app.add_template_global(segment_terms)
