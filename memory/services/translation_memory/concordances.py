"""Concordance search (units whose source or target contains a phrase) and unit counts per
language pair.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from memory.errors import InvalidInput
from memory.models import Language
from memory.services.regions import get_language
from memory.services.translation_memory.keys import segment_key
from memory.tm_models import TranslationUnit


@dataclass(frozen=True)
class ConcordanceHit:
    """A unit whose source or target contains the phrase."""

    unit: TranslationUnit
    matched_side: str  # "source" or "target"


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def concordance(
    session: Session,
    q: str,
    language: str,
    limit: int = 20,
    *,
    target_language: str | None = None,
) -> list[ConcordanceHit]:
    """Units whose source (or target) in `language` contains the phrase `q` (normalised).

    Runs `LIKE` on the stored normalised forms (and `ILIKE` on the texts, for what became a
    placeholder), newest first, at most `limit` units: a scan, bounded by `limit` hits.
    """
    source = get_language(session, language, field="language")
    target = (
        get_language(session, target_language, field="target_language") if target_language else None
    )
    phrase = segment_key(q, source.code).form
    if not phrase:
        raise InvalidInput("The phrase is empty.", errors={"q": ["Empty phrase."]})
    pattern = f"%{_like_escape(phrase)}%"
    # The form finds words whatever their case or spelling variant; the raw text (ILIKE) finds
    # what the form replaced by a placeholder, such as part of an e-mail address or a number.
    raw = f"%{_like_escape(q.strip())}%"
    as_source = (TranslationUnit.source_language_id == source.id) & or_(
        TranslationUnit.source_form.like(pattern, escape="\\"),
        TranslationUnit.source_text.ilike(raw, escape="\\"),
    )
    as_target = (TranslationUnit.target_language_id == source.id) & or_(
        TranslationUnit.target_form.like(pattern, escape="\\"),
        TranslationUnit.target_text.ilike(raw, escape="\\"),
    )
    if target is not None:
        as_source = as_source & (TranslationUnit.target_language_id == target.id)
        as_target = as_target & (TranslationUnit.source_language_id == target.id)
    units = session.scalars(
        select(TranslationUnit)
        .where(or_(as_source, as_target))
        .order_by(TranslationUnit.id.desc())
        .limit(limit)
    ).all()
    return [
        ConcordanceHit(
            unit,
            "source" if unit.source_language_id == source.id else "target",
        )
        for unit in units
    ]


def unit_counts(session: Session) -> dict[str, int]:
    """Units per language pair ("de->en": 1234)."""
    source = Language.__table__.alias("s")
    target = Language.__table__.alias("t")
    rows = session.execute(
        select(source.c.code, target.c.code, func.count(TranslationUnit.id))
        .join(source, source.c.id == TranslationUnit.source_language_id)
        .join(target, target.c.id == TranslationUnit.target_language_id)
        .group_by(source.c.code, target.c.code)
    ).all()
    counts: dict[str, int] = defaultdict(int)
    for source_code, target_code, count in rows:
        counts[f"{source_code}->{target_code}"] = count
    return dict(sorted(counts.items()))
