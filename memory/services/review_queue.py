"""The review queue as a translator works through it: context, progress, filters, undo, batch.

- `segment_contexts`: per queued segment its page's title, the page's current translation of
  the segment (the page's own published unit of that sentence), the neighbouring segments'
  source texts, and the page's progress in that language ("5 of 18 done").
- `queue`: the pending segments of one language with filters — `untranslated` (the page has
  no current translation of the segment), `outdated` (the page's translation is outdated),
  `fuzzy` (best match 75–99), `exact` (100/101), `none` (no candidate) — and a text search in
  the source and the candidates.
- `undo_decision`: the last decision on a segment undone — the segment is pending again, a
  reviewed unit that only this decision wrote leaves the memory, a rejection's penalty is taken
  back; the audit row stays, marked undone.
- `batch_candidates` / `batch_accept`: the segments whose top candidate is a 100/101 % human
  translation of exactly the same source sentence, without a failed check or a local detail to
  replace, accepted in one go (each audited as a decision of its own).
- `suppress_rejected`: candidates whose text a translator rejected for the same segment are
  not offered again, whatever other source brings the identical text.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from memory.authorization import Action, Actor, authorize
from memory.errors import Conflict
from memory.models import Language, Page, PageTranslation, Region, TranslationStatus, utcnow
from memory.review_models import Decision, Suggestion, SuggestionReview, SuggestionStatus
from memory.services.pages import (
    _current_source_hashes,
    is_outdated,
    translation_source_language,
)
from memory.services.suggestions import _visible_suggestion
from memory.services.translation_memory import (
    next_revision,
    segment_key,
    strip_markup,
)
from memory.services.translation_memory.units import _delete_units
from memory.tm_models import TranslationUnit

__all__ = [
    "FILTERS",
    "SegmentContext",
    "batch_accept",
    "batch_candidates",
    "language_progress",
    "queue",
    "segment_contexts",
    "suppress_rejected",
    "undo_decision",
]

log = logging.getLogger(__name__)

FILTERS = ("all", "untranslated", "outdated", "fuzzy", "exact", "none")
HUMAN_TRUST = ("reviewed", "approved", "unreviewed")


@dataclass(frozen=True)
class SegmentContext:
    page_title: str | None
    current_translation: str | None  # the page's published translation of this segment
    previous: str | None  # the neighbouring segments' source texts
    following: str | None
    page_done: int
    page_total: int
    outdated: bool  # the page's translation into this language is outdated


# --------------------------------------------------------------------------- context


def page_titles(session: Session, page_ids: Iterable[int]) -> dict[int, str]:
    """Each page's title: its latest public translation in its source language, else any."""
    ids = sorted(set(page_ids))
    if not ids:
        return {}
    titles: dict[int, tuple[bool, int, str]] = {}
    for page_id, language_id, source_id, version, title in session.execute(
        select(
            PageTranslation.page_id,
            PageTranslation.language_id,
            Page.source_language_id,
            PageTranslation.version,
            PageTranslation.title,
        )
        .join(Page, Page.id == PageTranslation.page_id)
        .where(PageTranslation.page_id.in_(ids), PageTranslation.status == TranslationStatus.PUBLIC)
    ):
        rank = (language_id == source_id, version, title)
        if page_id not in titles or rank[:2] > titles[page_id][:2]:
            titles[page_id] = rank
    return {page_id: rank[2] for page_id, rank in titles.items()}


def _current_units(session: Session, suggestions: Sequence[Suggestion]) -> dict[int, str]:
    """Suggestion id → the page's own published unit of the segment (target text)."""
    wanted: dict[tuple[int | None, int, int, str], list[int]] = {}
    for suggestion in suggestions:
        if suggestion.page_id is None:
            continue
        key = segment_key(suggestion.source_text, suggestion.source_language.code).hash
        wanted.setdefault(
            (suggestion.page_id, suggestion.source_language_id, suggestion.target_language_id, key),
            [],
        ).append(suggestion.id)
    found: dict[int, str] = {}
    page_ids = sorted({key[0] for key in wanted if key[0] is not None})
    for start in range(0, len(page_ids), 200):
        chunk = page_ids[start : start + 200]
        for unit in session.scalars(
            select(TranslationUnit).where(
                TranslationUnit.page_id.in_(chunk),
                TranslationUnit.target_translation_id.is_not(None),
            )
        ):
            ids = wanted.get(
                (unit.page_id, unit.source_language_id, unit.target_language_id, unit.source_hash)
            )
            for suggestion_id in ids or ():
                found.setdefault(suggestion_id, strip_markup(unit.target_text))
    return found


def _outdated_pages(
    session: Session, region: Region, page_ids: Sequence[int], target: Language
) -> set[int]:
    if not page_ids:
        return set()
    hashes = _current_source_hashes(session, page_ids)
    outdated = set()
    pages = session.scalars(
        select(Page).where(Page.id.in_(page_ids)).options(selectinload(Page.translations))
    )
    for page in pages:
        public = [
            t
            for t in page.translations
            if t.language_id == target.id and t.status is TranslationStatus.PUBLIC
        ]
        latest = max(public, key=lambda t: t.version, default=None)
        source = translation_source_language(region, page, target)
        if latest is not None and is_outdated(latest, source, hashes):
            outdated.add(page.id)
    return outdated


def segment_contexts(
    session: Session, suggestions: Sequence[Suggestion]
) -> dict[int, SegmentContext]:
    """Context of each suggestion shown in the queue (a few queries for all of them)."""
    if not suggestions:
        return {}
    page_ids = sorted({s.page_id for s in suggestions if s.page_id is not None})
    titles = page_titles(session, page_ids)
    current = _current_units(session, suggestions)
    targets = {s.target_language_id for s in suggestions}
    # Every segment of those pages in those languages, decided or not: neighbours, progress.
    rows = (
        session.execute(
            select(
                Suggestion.id,
                Suggestion.page_id,
                Suggestion.target_language_id,
                Suggestion.part,
                Suggestion.segment_index,
                Suggestion.source_text,
                Suggestion.status,
            ).where(Suggestion.page_id.in_(page_ids), Suggestion.target_language_id.in_(targets))
        ).all()
        if page_ids
        else []
    )
    by_page: dict[tuple[int | None, int], list[Any]] = {}
    for row in rows:
        by_page.setdefault((row.page_id, row.target_language_id), []).append(row)
    for segments in by_page.values():
        segments.sort(key=lambda r: (r.part != "title", r.segment_index, r.id))
    outdated: dict[int, set[int]] = {}
    for suggestion in suggestions:
        target_id = suggestion.target_language_id
        if target_id not in outdated:
            outdated[target_id] = _outdated_pages(
                session, suggestion.region, page_ids, suggestion.target_language
            )
    contexts = {}
    for suggestion in suggestions:
        segments = by_page.get((suggestion.page_id, suggestion.target_language_id), [])
        # A page asked for twice has a row per version of a sentence: one per place counts.
        places = {(r.part, r.segment_index): r for r in segments}
        ordered = sorted(places.values(), key=lambda r: (r.part != "title", r.segment_index))
        position = next(
            (
                i
                for i, r in enumerate(ordered)
                if (r.part, r.segment_index) == (suggestion.part, suggestion.segment_index)
            ),
            None,
        )
        previous = following = None
        if position is not None:
            if position > 0:
                previous = strip_markup(ordered[position - 1].source_text)
            if position + 1 < len(ordered):
                following = strip_markup(ordered[position + 1].source_text)
        contexts[suggestion.id] = SegmentContext(
            page_title=titles.get(suggestion.page_id) if suggestion.page_id else None,
            current_translation=current.get(suggestion.id),
            previous=previous,
            following=following,
            page_done=sum(1 for r in ordered if r.status is not SuggestionStatus.PENDING),
            page_total=len(ordered),
            outdated=suggestion.page_id in outdated.get(suggestion.target_language_id, set()),
        )
    return contexts


def language_progress(session: Session, region: Region, target: Language) -> tuple[int, int]:
    """(decided, all) segments of the region's queue in one language."""
    rows = dict(
        session.execute(
            select(Suggestion.status, func.count(Suggestion.id))
            .where(Suggestion.region_id == region.id, Suggestion.target_language_id == target.id)
            .group_by(Suggestion.status)
        ).all()
    )
    total = sum(rows.values())
    return total - rows.get(SuggestionStatus.PENDING, 0), total


# --------------------------------------------------------------------------- filters


def _best_match(suggestion: Suggestion) -> float | None:
    matches = [
        float(c["match"])
        for c in suggestion.candidates or []
        if c.get("match") is not None and c.get("source") != "machine_translation"
    ]
    return max(matches, default=None)


def queue(
    session: Session,
    actor: Actor | None,
    region: Region,
    target: Language,
    *,
    page_id: int | None = None,
    show: str = "all",
    text: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Suggestion], int, dict[int, SegmentContext]]:
    """Pending segments of one language, filtered, in page order; the total and their context.

    `show` is one of FILTERS; `text` a case-insensitive search in the source and the
    candidates' texts.
    """
    authorize(actor, Action.SUGGEST, region.slug)
    if show not in FILTERS:
        show = "all"
    query = select(Suggestion).where(
        Suggestion.region_id == region.id,
        Suggestion.target_language_id == target.id,
        Suggestion.status == SuggestionStatus.PENDING,
    )
    if page_id is not None:
        query = query.where(Suggestion.page_id == page_id)
    ordered = query.options(selectinload(Suggestion.reviews)).order_by(
        Suggestion.page_id.is_(None),
        Suggestion.page_id,
        Suggestion.part.desc(),
        Suggestion.segment_index,
        Suggestion.id,
    )
    needle = " ".join((text or "").split()).casefold()
    if show == "all" and not needle:
        # The whole queue: counted and paged by the database (a county has thousands).
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        shown = list(session.scalars(ordered.limit(limit).offset(offset)))
        return shown, int(total), segment_contexts(session, shown)
    rows = list(session.scalars(ordered))
    if needle:
        rows = [
            s
            for s in rows
            if needle in " ".join(strip_markup(s.source_text).split()).casefold()
            or any(needle in str(c.get("text") or "").casefold() for c in s.candidates or [])
        ]
    if show in ("fuzzy", "exact", "none"):
        wanted = []
        for s in rows:
            best = _best_match(s)
            kind = "none" if best is None or best < 75 else ("exact" if best >= 100 else "fuzzy")
            if kind == show:
                wanted.append(s)
        rows = wanted
    elif show in ("untranslated", "outdated"):
        contexts = segment_contexts(session, rows)
        if show == "untranslated":
            rows = [s for s in rows if contexts[s.id].current_translation is None]
        else:
            rows = [s for s in rows if contexts[s.id].outdated]
    total = len(rows)
    shown = rows[offset : offset + limit]
    return shown, total, segment_contexts(session, shown)


# --------------------------------------------------------------------------- undo


def undo_decision(session: Session, actor: Actor | None, suggestion_id: int) -> Suggestion:
    """Put a decided segment back into the queue, taking back what its last decision did."""
    suggestion = _visible_suggestion(session, actor, suggestion_id)
    actor = authorize(actor, Action.REVIEW, suggestion.region.slug)
    if suggestion.status is SuggestionStatus.PENDING:
        raise Conflict(
            f"Suggestion {suggestion_id} waits for review: there is no decision to undo.",
            errors={"suggestion": ["Not decided."]},
        )
    review = next((r for r in reversed(suggestion.reviews) if r.undone_at is None), None)
    if review is not None and review.unit_id is not None:
        unit = session.get(TranslationUnit, review.unit_id)
        if unit is not None and review.decision is Decision.REJECT:
            unit.rejections = max(0, (unit.rejections or 0) - 1)
        elif unit is not None and unit.target_translation_id is None:
            # A reviewed unit: it leaves the memory unless another standing decision wrote it.
            others = session.scalar(
                select(func.count(SuggestionReview.id)).where(
                    SuggestionReview.unit_id == unit.id,
                    SuggestionReview.id != review.id,
                    SuggestionReview.undone_at.is_(None),
                    SuggestionReview.decision.in_([Decision.ACCEPT, Decision.EDIT]),
                )
            )
            if not others:
                _delete_units(session, [unit.id], next_revision(session))
    now = utcnow()
    if review is not None:
        review.undone_at = now
        review.undone_by = actor.name or actor.role.value
    suggestion.status = SuggestionStatus.PENDING
    suggestion.final_text = None
    suggestion.unit_id = None
    suggestion.reviewed_at = None
    session.commit()
    log.info("suggestion %d: decision undone by %s", suggestion.id, actor.name or actor.role)
    return suggestion


# --------------------------------------------------------------------------- batch accept


def _batch_ready(suggestion: Suggestion) -> bool:
    return _batch_ready_record(suggestion.source_text, suggestion.candidates or [])


def _batch_ready_record(source_text: str, candidates: list[dict[str, Any]]) -> bool:
    """Top candidate: a human translation of exactly this source sentence (not one whose
    numbers or links were put in), reviewed or published, not outdated or rejected, no failed
    check, no local detail to replace."""
    if not candidates:
        return False
    top = candidates[0]
    trust = top.get("trust") or {}
    return (
        _normal(str(top.get("match_source_text") or "")) == _normal(source_text)
        and top.get("match") is not None
        and float(top["match"]) >= 100
        and top.get("source") != "machine_translation"
        and trust.get("status") in HUMAN_TRUST
        and not trust.get("outdated")
        and not int(trust.get("rejections") or 0)
        and not top.get("checks")
        and not top.get("placeholder_mismatches")
        and not any(d.get("status") == "review" for d in top.get("local_details") or [])
    )


def batch_candidates(
    session: Session,
    actor: Actor | None,
    region: Region,
    target: Language,
    *,
    page_id: int | None = None,
) -> list[Suggestion]:
    """Pending segments whose top candidate is a clean 100/101 % human match."""
    authorize(actor, Action.SUGGEST, region.slug)
    query = select(Suggestion.id, Suggestion.source_text, Suggestion.candidates).where(
        Suggestion.region_id == region.id,
        Suggestion.target_language_id == target.id,
        Suggestion.status == SuggestionStatus.PENDING,
    )
    if page_id is not None:
        query = query.where(Suggestion.page_id == page_id)
    ready = [
        row.id
        for row in session.execute(query)
        if _batch_ready_record(row.source_text, row.candidates or [])
    ]
    if not ready:
        return []
    found: list[Suggestion] = []
    for start in range(0, len(ready), 500):
        found.extend(
            session.scalars(select(Suggestion).where(Suggestion.id.in_(ready[start : start + 500])))
        )
    return sorted(
        found, key=lambda s: (s.page_id is None, s.page_id or 0, s.part != "title", s.segment_index)
    )


def batch_accept(
    session: Session,
    actor: Actor | None,
    region: Region,
    target: Language,
    suggestion_ids: Sequence[int],
) -> list[Suggestion]:
    """Accept the top candidate of each named segment that still qualifies (one decision
    each, audited like any accept); returns those accepted."""
    from memory.services.suggestions import review_suggestion

    authorize(actor, Action.REVIEW, region.slug)
    accepted = []
    for suggestion_id in suggestion_ids:
        suggestion = session.get(Suggestion, suggestion_id)
        if (
            suggestion is None
            or suggestion.region_id != region.id
            or suggestion.target_language_id != target.id
            or suggestion.status is not SuggestionStatus.PENDING
            or not _batch_ready(suggestion)
        ):
            continue
        accepted.append(
            review_suggestion(session, actor, suggestion_id, decision="accept", candidate=0)
        )
    return accepted


# --------------------------------------------------------------------------- suppression


def rejected_texts(session: Session, queue_keys: Iterable[str]) -> dict[str, set[str]]:
    """queue key → the candidate texts translators rejected for that segment (standing)."""
    keys = sorted(set(queue_keys))
    found: dict[str, set[str]] = {}
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for key, text in session.execute(
            select(Suggestion.queue_key, SuggestionReview.before_text)
            .join(SuggestionReview, SuggestionReview.suggestion_id == Suggestion.id)
            .where(
                Suggestion.queue_key.in_(chunk),
                SuggestionReview.decision == Decision.REJECT,
                SuggestionReview.undone_at.is_(None),
                SuggestionReview.before_text.is_not(None),
            )
        ):
            found.setdefault(key, set()).add(_normal(text or ""))
    return found


def _normal(text: str) -> str:
    return " ".join(strip_markup(text).split()).casefold()


def suppress_rejected(session: Session, segments: Sequence[Any]) -> int:
    """Drop each segment's candidates whose text was rejected for that segment (any source);
    `segments` have `queue_key` and `candidates` (memory.services.suggestions). Returns how
    many were dropped."""
    rejected = rejected_texts(session, [s.queue_key for s in segments])
    dropped = 0
    for segment in segments:
        texts = rejected.get(segment.queue_key)
        if not texts:
            continue
        kept = [c for c in segment.candidates if _normal(c.text) not in texts]
        dropped += len(segment.candidates) - len(kept)
        segment.candidates = kept
    return dropped
