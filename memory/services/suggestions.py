"""Suggestions for a translation to be made, the pre-translated draft, and translators' reviews.

Per source segment, candidates come from (1) the translation memory (exact, context, fuzzy;
`memory.services.translation_memory`), (2) the aligned units of near-duplicate pages of other
regions (`memory.services.similarity`), and (3) machine translation through DeepL as the last
resort: only for segments without a candidate ≥ `DRAFT_MIN_SCORE`, only where enabled, and only
within the region's word budget, which is charged in the same transaction that stores the
suggestions. DeepL failing (quota, rate limit, server errors, timeouts) never fails the request:
the answer says why there is no machine translation.

Stored suggestions are the review queue: translators accept, edit or reject them; every decision
is audited (`SuggestionReview`), accepted and edited texts go back into the memory as reviewed
units, and rejected units are demoted (a "rejected" penalty per rejection).
"""

from __future__ import annotations

import hashlib
import html as html_lib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session, selectinload

from connectors.deepl_client import (
    MachineTranslationUnavailable,
    UnsupportedLanguage,
    check_budget,
)
from matchers.fragments import Assembly
from matchers.local_details import Gazetteer, check_candidate
from matchers.qa_checks import check_translation, findings_as_records
from matchers.scoring import MatchFlags, PenaltyPolicy, Trust, listed_penalties, trust_of
from matchers.semantic_index import meaning_score
from memory.authorization import Action, Actor, authorize
from memory.errors import (
    ChecksFailed,
    Conflict,
    InvalidInput,
    NotFound,
    QuotaExceeded,
    Unauthorized,
)
from memory.models import (
    Language,
    Origin,
    Page,
    PageTranslation,
    Region,
    utcnow,
)
from memory.review_models import Decision, Suggestion, SuggestionReview, SuggestionStatus
from memory.segmentation import (
    PLACEHOLDER_RE,
    PageTemplate,
    build_template,
    count_words,
    html_to_text,
    render_segment,
)
from memory.services.deepl_glossaries import glossary_for
from memory.services.fragments import assemble_segments
from memory.services.gazetteer import gazetteer_for, gazetteers_for
from memory.services.pages import (
    get_page_or_404,
    latest_public_by_language,
    translation_source_language,
)
from memory.services.regions import get_language, get_region
from memory.services.semantic import SemanticHit
from memory.services.terminology import check_suggestions, qa_terminology
from memory.services.translation_memory import (
    LookupContext,
    LookupMatch,
    TranslationMemoryIndex,
    add_reviewed_unit,
    strip_markup,
)
from memory.tm_models import TranslationUnit

__all__ = [
    "DRAFT_MIN_SCORE",
    "Candidate",
    "SimilarPage",
    "SuggestionResult",
    "get_suggestion",
    "list_suggestions",
    "pending_counts",
    "review_suggestion",
    "suggest_translations",
]

logger = logging.getLogger(__name__)

# A draft takes a memory match from this score up (the usual CAT-tool pre-translation
# threshold); below it, machine translation where there is one, else the source text stays.
DRAFT_MIN_SCORE = 75.0
# Semantic candidates are asked for segments whose best memory match is below this score, and
# enter the draft from SEMANTIC_DRAFT_MIN_SCORE (measured: docs/bench-reuse.md).
SEMANTIC_ASKED_BELOW = 95.0
# z ≥ 4 (matchers.semantic_index.meaning_score 75) after the usual −1 of another region's
# published (approved) unit.
SEMANTIC_DRAFT_MIN_SCORE = 74.0
MACHINE_PROVIDER = "DeepL"
# The part of a page's meta description (one segment, like the title).
META_PART = "meta_description"
# A segment that no candidate reaches, put together from the memory's units of its parts
# (kind "fragments"), goes into the draft when they cover at least this share of its words
# and no machine translation is there (bench/reuse_quality.py, docs/bench-reuse.md).
FRAGMENTS_DRAFT_MIN_SHARE = 0.0


@dataclass(frozen=True)
class SimilarPage:
    """A near-duplicate page of another region (score 0–1), whose units are candidates."""

    page_id: int
    region: str
    external_id: str
    score: float


# Finds near-duplicates of a page translation: (translation id) → pages of other regions.
SimilarPagesFinder = Callable[[int], Sequence[SimilarPage]]
# Finds units by meaning: (source language id, target language id, segment texts, page id to
# leave out) → per segment, units whose source means the same (best first).
SemanticFinder = Callable[[int, int, Sequence[str], int | None], list[list[SemanticHit]]]


@dataclass(frozen=True)
class Candidate:
    """One suggested translation of a segment.

    match: how much of the source matches, 0–100 (100: identical source, whatever its origin;
    101: context), None for machine translation, which has no match. trust: what is known of
    the translation (`trust_record`: score 0–100, status, parts, penalties). score: the
    ranking, match minus the listed penalties (None for machine translation). `text` is plain
    text with the query's local specifics put in; `segment` the same with inline-markup
    placeholders (memory matches), `html` the machine translation as HTML.
    """

    text: str
    kind: str  # exact | context | fuzzy | semantic | machine
    source: str  # translation_memory | near_duplicate | machine_translation
    score: float | None = None
    base_score: float | None = None
    segment: str | None = None
    html: str | None = None
    match_source_text: str | None = None
    penalties: tuple[dict[str, Any], ...] = ()
    placeholder_mismatches: tuple[dict[str, str], ...] = ()
    origin: dict[str, Any] = field(default_factory=dict)
    unit_id: int | None = None
    # Semantic candidates: how near the match's source is to the query by meaning.
    similarity: dict[str, float] | None = None
    # Another region's local details in the text: put in from the query, or to review.
    local_details: tuple[dict[str, Any], ...] = ()
    match: float | None = None
    trust: dict[str, Any] | None = None
    # The quality checks the text fails as a translation of the segment (matchers.qa_checks).
    checks: tuple[dict[str, str], ...] = ()
    # The termbase terms it renders or misses, and deprecated or forbidden ones it uses.
    terminology: dict[str, Any] | None = None
    # Fragment assembly (kind "fragments"): words, covered_words and the pieces put in.
    fragments: dict[str, Any] | None = None

    def as_record(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "kind": self.kind,
            "source": self.source,
            "match": self.match,
            "trust": self.trust,
            "score": self.score,
            "base_score": self.base_score,
            "segment": self.segment,
            "html": self.html,
            "match_source_text": self.match_source_text,
            "penalties": list(self.penalties),
            "placeholder_mismatches": list(self.placeholder_mismatches),
            "origin": self.origin,
            "unit_id": self.unit_id,
            "similarity": self.similarity,
            "local_details": list(self.local_details),
            "checks": list(self.checks),
            "terminology": self.terminology,
            "fragments": self.fragments,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Candidate:
        values = dict(record)
        values["penalties"] = tuple(values.get("penalties") or ())
        values["placeholder_mismatches"] = tuple(values.get("placeholder_mismatches") or ())
        values["local_details"] = tuple(values.get("local_details") or ())
        values["checks"] = tuple(values.get("checks") or ())
        return cls(**values)

    @property
    def reviewed_text(self) -> str:
        """What accepting it stores: the text with inline markup where it has one."""
        return self.segment or self.text

    @property
    def is_machine(self) -> bool:
        return self.source == "machine_translation"


@dataclass
class SegmentSuggestion:
    """A source segment ("title", "meta_description", "content" or "text" part) and its
    ranked candidates."""

    part: str
    index: int
    source_text: str  # with inline-markup placeholders
    words: int
    queue_key: str
    markup: dict[str, str] = field(default_factory=dict)  # placeholder → HTML tag
    candidates: list[Candidate] = field(default_factory=list)
    suggestion: Suggestion | None = None
    chosen: Candidate | None = None  # what the draft uses
    # The page's own published translation of this segment (never offered as a candidate).
    current: Candidate | None = None
    # The termbase terms of the source with their preferred target terms.
    terms: list[dict[str, Any]] = field(default_factory=list)

    @property
    def plain_source(self) -> str:
        return strip_markup(self.source_text)


@dataclass
class MachineTranslationReport:
    """Whether machine translation was used, and why not.

    status: used | not_needed | off (not asked for) | not_configured | no_budget |
    budget_exceeded | quota_exceeded | unavailable | unsupported_language.
    """

    status: str
    detail: str = ""
    segments: int = 0
    words_charged: int = 0
    words_reused: int = 0  # earlier machine translations of the same segments, not charged again
    budget: int = 0
    used: int = 0
    retry_after: int | None = None


@dataclass
class Draft:
    """The pre-translated text: the best candidate per segment, HTML rebuilt."""

    title: str | None
    content: str
    attribution: list[dict[str, Any]]
    coverage: dict[str, int]
    # Other regions' local details the draft kept, each marked in `content` with
    # <mark data-local-detail="KIND">: part, index, kind, value, span, region.
    local_details: list[dict[str, Any]] = field(default_factory=list)
    # The meta description's translation (None: the source has none).
    meta_description: str | None = None


@dataclass
class SuggestionResult:
    region: Region
    page: Page | None
    source_language: Language
    target_language: Language
    source_version: int | None
    segments: list[SegmentSuggestion]
    draft: Draft
    machine_translation: MachineTranslationReport
    near_duplicates: list[SimilarPage]


# --------------------------------------------------------------------------- suggestions


def suggest_translations(
    session: Session,
    index: TranslationMemoryIndex,
    actor: Actor | None,
    region_slug: str,
    *,
    target_language: str,
    page: str | None = None,
    text: str | None = None,
    source_language: str | None = None,
    min_score: float = 70.0,
    limit: int = 3,
    policy: PenaltyPolicy | None = None,
    similar_pages: SimilarPagesFinder | None = None,
    semantic: SemanticFinder | None = None,
    translator: Any | None = None,
    machine_translation: bool = True,
    queue: bool | None = None,
) -> SuggestionResult:
    """Ranked candidates per segment of a page translation to be made (or of free text).

    `page`: the region's page; its source is the latest public translation of the language the
    target is translated from in the region's language tree. `text`: free text (HTML or plain)
    in `source_language`. `queue` (default: yes for pages, no for free text) stores the
    suggestions as the region's review queue. `translator` is a DeepL connector or None.
    """
    authorize(actor, Action.SUGGEST, region_slug)
    region = get_region(session, region_slug)
    target = get_language(session, target_language, field="target_language")
    if (page is None) == (text is None):
        raise InvalidInput(
            "Give either a page or a text.",
            errors={"page": ["Give either page or text."], "text": ["Give either page or text."]},
        )
    page_obj: Page | None = None
    source_translation: PageTranslation | None = None
    if page is not None:
        page_obj = get_page_or_404(session, region, page, field="page")
        source, source_translation = _page_source(region, page_obj, target)
        title = source_translation.title.strip()
        template = build_template(source_translation.content or "", source.code)
        parts = [("title", title)] if title else []
        meta = " ".join((source_translation.meta_description or "").split())
        if meta:
            # Suggested like the title: one segment of its own.
            parts.append((META_PART, meta))
        part_name = "content"
    else:
        if source_language is None:
            raise InvalidInput(
                "Free text needs its source_language.",
                errors={"source_language": ["Required with text."]},
            )
        source = get_language(session, source_language, field="source_language")
        template = build_template(text or "", source.code)
        parts = []
        part_name = "text"
    if source.id == target.id:
        raise InvalidInput(
            "Source and target language are the same.",
            errors={"target_language": ["Must differ from the source language."]},
        )

    def key(part: str, index: int, value: str) -> str:
        return _queue_key(region, page_obj, target, part, index, value)

    segments = [
        SegmentSuggestion(part, 0, value, count_words(value), key(part, 0, value))
        for part, value in parts
    ] + [
        SegmentSuggestion(
            part_name,
            s.index,
            s.text,
            count_words(strip_markup(s.text)),
            key(part_name, s.index, s.text),
            dict(s.markup),
        )
        for s in template.segments
    ]
    if not segments:
        raise InvalidInput("The text has nothing to translate.", errors={"text": ["No text."]})

    context = LookupContext(
        session,
        index,
        source_language=source.code,
        target_language=target.code,
        region=region.slug,
        min_score=min_score,
        # One more for a page: its own current translation may be among the best.
        limit=limit + 1 if page_obj is not None else limit,
        policy=policy,
        # A page's segments with an exact match need no fuzzy search: it would rank lower.
        fuzzy_after_exact=False,
        own_page_id=page_obj.id if page_obj is not None else None,
    )
    near = _near_duplicate_units(session, similar_pages, source_translation, source, target)
    _memory_candidates(context, segments, near, limit, page_obj)
    if semantic is not None:
        _semantic_candidates(context, segments, near, semantic, page_obj, limit)
    _fragment_candidates(context, segments, page_obj)
    _check_local_details(session, region, source, target, segments, context.policy)
    _name_donors(session, region, segments)
    # A text a translator rejected for a segment is not offered again from any other source.
    from memory.services.review_queue import suppress_rejected

    suppress_rejected(session, segments)

    queue = page_obj is not None if queue is None else queue
    stored = _stored_suggestions(session, segments) if queue else {}
    report = _machine_translate(
        session,
        region,
        source,
        target,
        segments,
        stored,
        translator,
        machine_translation,
        context.policy,
    )
    check_suggestions(session, region, source.code, target.code, segments, context.policy)
    terms = qa_terminology(session, region, source.code, target.code)
    for segment in segments:
        segment.candidates = [
            replace(
                c,
                checks=tuple(_checks(segment.source_text, c.reviewed_text, source, target, terms)),
            )
            for c in segment.candidates
        ]
        segment.chosen = _choose(segment.candidates)
    draft = _draft(segments, template, part_name)

    if queue:
        _store_queue(
            session, actor, region, page_obj, source_translation, source, target, segments, stored
        )
    if report.words_charged:
        # Charged atomically in the transaction that stores the suggestions; the first words
        # of a new year start its count from 0.
        year = utcnow().year
        session.execute(
            update(Region)
            .where(Region.id == region.id)
            .values(
                mt_words_used=case(
                    (Region.mt_usage_year == year, Region.mt_words_used + report.words_charged),
                    else_=report.words_charged,
                ),
                mt_usage_year=year,
            )
        )
    session.commit()
    if report.words_charged:
        session.refresh(region)
        report.used = region.mt_words_used_in(utcnow().year)
    return SuggestionResult(
        region=region,
        page=page_obj,
        source_language=source,
        target_language=target,
        source_version=source_translation.version if source_translation else None,
        segments=segments,
        draft=draft,
        machine_translation=report,
        near_duplicates=list(near.pages),
    )


def _page_source(region: Region, page: Page, target: Language) -> tuple[Language, PageTranslation]:
    source = translation_source_language(region, page, target)
    if source is None:
        raise InvalidInput(
            f"'{target.code}' is the source language of page '{page.external_id}'.",
            errors={"target_language": ["The page is written in this language."]},
        )
    latest = latest_public_by_language(page).get(source.id)
    if latest is None:
        raise NotFound(
            f"Page '{page.external_id}' has no public '{source.code}' translation to translate.",
            errors={"page": [f"No public '{source.code}' translation."]},
        )
    return source, latest


@dataclass
class _NearDuplicates:
    pages: list[SimilarPage] = field(default_factory=list)
    units: list[TranslationUnit] = field(default_factory=list)
    page_of_unit: dict[int, SimilarPage] = field(default_factory=dict)


def _near_duplicate_units(
    session: Session,
    finder: SimilarPagesFinder | None,
    source_translation: PageTranslation | None,
    source: Language,
    target: Language,
) -> _NearDuplicates:
    """Aligned units (source → target) of the near-duplicate pages of other regions."""
    found = _NearDuplicates()
    if finder is None or source_translation is None:
        return found
    try:
        found.pages = list(finder(source_translation.id))
    except NotFound:  # not embedded yet (a new page): the memory still answers
        return found
    if not found.pages:
        return found
    by_page = {p.page_id: p for p in found.pages}
    found.units = list(
        session.scalars(
            select(TranslationUnit).where(
                TranslationUnit.page_id.in_(by_page),
                TranslationUnit.source_language_id == source.id,
                TranslationUnit.target_language_id == target.id,
                TranslationUnit.import_batch.is_(None),
            )
        )
    )
    found.page_of_unit = {u.id: by_page[u.page_id] for u in found.units if u.page_id}
    return found


def _memory_candidates(
    context: LookupContext,
    segments: list[SegmentSuggestion],
    near: _NearDuplicates,
    limit: int,
    page: Page | None = None,
) -> None:
    """Translation-memory and near-duplicate candidates for every segment, best first.

    The page's own published translation of a segment is its `current` translation, not a
    candidate: offering it back would be circular.
    """
    by_part: dict[str, list[SegmentSuggestion]] = {}
    for segment in segments:
        by_part.setdefault(segment.part, []).append(segment)
    queries = []
    for part_segments in by_part.values():
        for position, segment in enumerate(part_segments):
            before = part_segments[position - 1].source_text if position > 0 else None
            after = (
                part_segments[position + 1].source_text
                if position + 1 < len(part_segments)
                else None
            )
            queries.append((segment, context.query(segment.source_text, before, after)))
    context.prefetch_exact(query for _, query in queries)
    for segment, query in queries:
        if not query.key.form:
            continue
        matches = context.matches(query)
        seen = {m.match.unit_id for m in matches}
        extra = [m for m in context.score_units(query, near.units) if m.match.unit_id not in seen]
        ranked = sorted(matches + extra, key=lambda m: m.rank)
        texts: set[str] = set()
        for match in ranked:
            if page is not None and _is_own(match, page):
                if segment.current is None:
                    segment.current = _memory_candidate(match, near, False, relation="own")
                continue
            if match.match.target_text in texts:
                continue
            texts.add(match.match.target_text)
            segment.candidates.append(_memory_candidate(match, near, match in extra))
            if len(segment.candidates) >= limit:
                break


def _is_own(match: LookupMatch, page: Page) -> bool:
    """A unit of the page's own published translation (a review decision or import is not)."""
    origin = match.match.origin
    return (
        origin.get("region") == page.region.slug
        and origin.get("page") == page.external_id
        and origin.get("import_batch") is None
    )


def trust_record(trust: Trust) -> dict[str, Any]:
    """A match's trust as stored with a candidate: score 0–100, status, parts, penalties."""
    return {
        "score": round(trust.score, 2),
        "status": trust.status,
        "outdated": trust.outdated,
        "other_region": trust.other_region,
        "pivot": trust.pivot,
        "rejections": trust.rejections,
        "penalties": [
            {"code": p.code, "amount": p.amount, "detail": p.detail} for p in trust.penalties
        ],
    }


def _relation(origin: dict[str, Any], home: str) -> str:
    return "this_region" if origin.get("region") in (None, home) else "other_region"


def _memory_candidate(
    match: LookupMatch, near: _NearDuplicates, from_near: bool, *, relation: str | None = None
) -> Candidate:
    origin = dict(match.match.origin)
    if relation is not None:
        origin["relation"] = relation
    similar = near.page_of_unit.get(match.match.unit_id)
    if similar is not None:
        origin["similar_page"] = {
            "region": similar.region,
            "page": similar.external_id,
            "score": round(similar.score, 4),
        }
    return Candidate(
        text=match.match.target_text,
        kind=match.match.kind,
        source="near_duplicate" if from_near else "translation_memory",
        match=round(match.match.match, 2),
        trust=trust_record(match.match.trust),
        score=round(match.match.score, 2),
        base_score=round(match.match.base_score, 2),
        segment=match.target_segment,
        match_source_text=strip_markup(match.match.source_text),
        penalties=tuple(
            {"code": p.code, "amount": p.amount, "detail": p.detail} for p in match.match.penalties
        ),
        placeholder_mismatches=match.placeholder_mismatches,
        origin=origin,
        unit_id=match.match.unit_id,
    )


def _semantic_candidates(
    context: LookupContext,
    segments: list[SegmentSuggestion],
    near: _NearDuplicates,
    finder: SemanticFinder,
    page: Page | None,
    limit: int,
) -> None:
    """Units whose source means what a segment says (other wording), merged by score.

    Asked only for segments without a memory match ≥ SEMANTIC_ASKED_BELOW; units of the
    page's same-topic pages (near-duplicates) are preferred. The page's own units are left out
    (they would suggest its current translation back).
    """
    wanted = [s for s in segments if _best_score(s) < SEMANTIC_ASKED_BELOW]
    if not wanted:
        return
    hits = finder(
        context.source.id,
        context.target.id,
        [s.source_text for s in wanted],
        page.id if page is not None else None,
    )
    unit_ids = sorted({hit.unit_id for found in hits for hit in found})
    units = {
        unit.id: unit
        for start in range(0, len(unit_ids), 500)
        for unit in context.session.scalars(
            select(TranslationUnit)
            .options(selectinload(TranslationUnit.region), selectinload(TranslationUnit.page))
            .where(TranslationUnit.id.in_(unit_ids[start : start + 500]))
        )
    }
    same_topic = {p.page_id: p for p in near.pages}
    for segment, found in zip(wanted, hits, strict=True):
        query = context.query(segment.source_text)
        texts = {c.text for c in segment.candidates}
        added: list[Candidate] = []
        for hit in found:
            unit = units.get(hit.unit_id)
            if unit is None:
                continue
            similar = same_topic.get(hit.page_id) if hit.page_id is not None else None
            base = meaning_score(hit.neighbour, same_topic=similar is not None)
            if base < context.min_score:
                continue
            match = context.score_as(query, unit, base)
            if match.match.score < context.min_score or match.match.target_text in texts:
                continue
            texts.add(match.match.target_text)
            origin = dict(match.match.origin)
            if similar is not None:
                origin["similar_page"] = {
                    "region": similar.region,
                    "page": similar.external_id,
                    "score": round(similar.score, 4),
                }
            added.append(
                Candidate(
                    text=match.match.target_text,
                    kind="semantic",
                    source="near_duplicate" if similar is not None else "translation_memory",
                    match=round(match.match.match, 2),
                    trust=trust_record(match.match.trust),
                    score=round(match.match.score, 2),
                    base_score=round(base, 2),
                    segment=match.target_segment,
                    match_source_text=strip_markup(match.match.source_text),
                    penalties=tuple(
                        {"code": p.code, "amount": p.amount, "detail": p.detail}
                        for p in match.match.penalties
                    ),
                    placeholder_mismatches=match.placeholder_mismatches,
                    origin=origin,
                    unit_id=unit.id,
                    similarity={
                        "cosine": round(hit.neighbour.cosine, 4),
                        "z": round(hit.neighbour.z, 2),
                        "percentile": round(hit.neighbour.percentile, 4),
                    },
                )
            )
        if added:
            merged = segment.candidates + added
            # Stable: memory matches keep their ranking among equal scores.
            merged.sort(key=lambda c: -(c.score or 0.0))
            segment.candidates = merged[:limit]


def _fragment_candidates(
    context: LookupContext, segments: list[SegmentSuggestion], page: Page | None
) -> None:
    """For segments the draft would leave untranslated: the parts of the segment that the
    memory holds as units of their own, put together (memory.services.fragments)."""
    wanted = [s for s in segments if _choose(s.candidates) is None]
    if not wanted:
        return

    def is_own(match: LookupMatch) -> bool:
        return page is not None and _is_own(match, page)

    assemblies = assemble_segments(context, [s.source_text for s in wanted], is_own)
    for segment, assembly in zip(wanted, assemblies, strict=True):
        if assembly is not None:
            segment.candidates.append(_fragments_candidate(segment, assembly))


def _fragments_candidate(segment: SegmentSuggestion, assembly: Assembly) -> Candidate:
    pieces = []
    for piece in assembly.pieces:
        record: dict[str, Any] = {
            "source": piece.source,
            "target": piece.target,
            "words": piece.words,
            "kind": piece.kind,
        }
        if piece.kind == "memory":
            match = piece.ref.match
            record |= {
                "unit_id": match.unit_id,
                "trust": match.trust.status,
                "origin": dict(match.origin),
            }
        pieces.append(record)
    memory_pieces = [p for p in assembly.pieces if p.kind == "memory"]
    lead = max(memory_pieces, key=lambda p: p.words, default=None)
    origin = dict(lead.ref.match.origin) if lead is not None else {"calendar": "CLDR"}
    return Candidate(
        text=strip_markup(assembly.text),
        kind="fragments",
        source="translation_memory",
        segment=assembly.text,
        match_source_text=_fragments_source(segment.source_text, assembly),
        origin=origin,
        fragments={
            "words": assembly.words,
            "covered_words": assembly.covered,
            "share": round(assembly.share, 4),
            "pieces": pieces,
        },
    )


def _fragments_source(source_text: str, assembly: Assembly) -> str:
    """The source an assembly translates: the segment with each memory piece's phrase put back
    as its unit's own source. A clause matched fuzzily may name the donor's office or town where
    the segment does not; the local-details check then finds it like any match's."""
    out: list[str] = []
    position = 0
    for piece in assembly.pieces:
        if piece.kind != "memory":
            continue
        out.append(source_text[position : piece.start])
        out.append(strip_markup(piece.ref.match.source_text))
        position = piece.end
    out.append(source_text[position:])
    return strip_markup("".join(out))


def _best_score(segment: SegmentSuggestion) -> float:
    scores = [c.score for c in segment.candidates if c.score is not None]
    return max(scores, default=0.0)


def _check_local_details(
    session: Session,
    region: Region,
    source: Language,
    target: Language,
    segments: list[SegmentSuggestion],
    policy: PenaltyPolicy,
) -> None:
    """Other regions' candidates that still carry their region's local details (gazetteer)
    the query lacks: the query's value of the same kind put in, else the span left for review
    with a foreign_local_detail penalty; candidates re-ranked by the new scores."""
    donors = {
        c.origin.get("region")
        for s in segments
        for c in s.candidates
        if not c.is_machine and c.origin.get("region") not in (None, region.slug)
    }
    if not donors:
        return
    home = gazetteer_for(session, region)
    gazetteers = gazetteers_for(session, sorted(str(slug) for slug in donors))
    for segment in segments:
        checked = [
            _with_local_details(c, segment, gazetteers, home, source, target, policy)
            for c in segment.candidates
        ]
        if checked != segment.candidates:
            # Stable: equal scores keep the memory's ranking (region, then unit).
            segment.candidates = sorted(
                checked, key=lambda c: -(c.score if c.score is not None else -1.0)
            )


def _with_local_details(
    candidate: Candidate,
    segment: SegmentSuggestion,
    gazetteers: dict[str, Gazetteer],
    home: Gazetteer,
    source: Language,
    target: Language,
    policy: PenaltyPolicy,
) -> Candidate:
    donor = gazetteers.get(candidate.origin.get("region") or "")
    if donor is None or candidate.is_machine or candidate.match_source_text is None:
        return candidate
    check = check_candidate(
        segment.plain_source,
        candidate.match_source_text,
        candidate.segment or candidate.text,
        donor,
        home,
        source_language=source.code,
        target_language=target.code,
    )
    if not check.findings:
        return candidate
    kept = check.review
    amount = policy.foreign_local_detail if kept else policy.local_detail_replaced
    named = "; ".join(
        f"{f.kind} '{f.value}' of {donor.region}: "
        + (f"'{f.span}' to review" if f.status == "review" else f"replaced by '{f.replacement}'")
        for f in check.findings
    )
    penalties = candidate.penalties
    score = candidate.score
    trust = candidate.trust
    if amount > 0:
        penalty = {"code": "foreign_local_detail", "amount": amount, "detail": named}
        penalties = (*penalties, penalty)
        score = round(max((score or 0.0) - amount, 0.0), 2) if score is not None else None
        if trust is not None:
            trust = {
                **trust,
                "score": round(max(float(trust["score"]) - amount, 0.0), 2),
                "penalties": [*trust["penalties"], penalty],
            }
    # Offsets are left out: `text` and `segment` (with inline markup) differ in them.
    records = tuple(
        {"kind": f.kind, "value": f.value, "span": f.span, "status": f.status}
        | ({"replacement": f.replacement} if f.replacement is not None else {})
        | {"region": donor.region}
        for f in check.findings
    )
    return replace(
        candidate,
        text=strip_markup(check.text),
        segment=check.text if candidate.segment is not None else None,
        score=score,
        trust=trust,
        penalties=penalties,
        local_details=records,
    )


def _machine_translate(
    session: Session,
    region: Region,
    source: Language,
    target: Language,
    segments: list[SegmentSuggestion],
    stored: dict[str, Suggestion],
    translator: Any | None,
    wanted: bool,
    policy: PenaltyPolicy | None = None,
) -> MachineTranslationReport:
    """Add a DeepL candidate to segments without a memory match ≥ DRAFT_MIN_SCORE."""
    year = utcnow().year
    report = MachineTranslationReport(
        status="not_needed", budget=region.mt_word_budget, used=region.mt_words_used_in(year)
    )
    needing = [s for s in segments if _best_score(s) < DRAFT_MIN_SCORE]
    if not needing:
        return report
    if not wanted:
        report.status, report.detail = "off", "Machine translation was not asked for."
        return report
    if translator is None:
        report.status, report.detail = "not_configured", "No DeepL API key is configured."
        return report
    if region.mt_word_budget <= 0:
        report.status = "no_budget"
        report.detail = f"Region '{region.slug}' has no machine-translation word budget."
        return report

    # Machine translations offered earlier for the same segments are reused, not paid again.
    fresh: list[SegmentSuggestion] = []
    for segment in needing:
        earlier = stored.get(segment.queue_key)
        kept = [
            Candidate.from_record(record)
            for record in (earlier.candidates if earlier else [])
            if record.get("source") == "machine_translation"
        ]
        if kept:
            segment.candidates.append(kept[0])
            report.words_reused += segment.words
        else:
            fresh.append(segment)
    report.segments = len(needing)
    if not fresh:
        report.status = "used"
        return report

    # Inline markup restored, so DeepL places it (tag_handling="html").
    htmls = [render_segment(segment.source_text, segment.markup) for segment in fresh]
    try:
        check_budget(sum(count_words(html) for html in htmls), region.mt_word_budget, report.used)
    except QuotaExceeded as error:
        report.status, report.detail = "budget_exceeded", str(error.detail)
        return report
    # The termbase's preferred terms, as a DeepL glossary of this pair (None: none or unsupported).
    glossary = glossary_for(session, translator, region, source.code, target.code)
    try:
        translated = translator.translate_html(
            htmls, source.code, target.code, tag_handling="html", glossary=glossary
        )
    except QuotaExceeded as error:  # DeepL's own quota (456)
        report.status, report.detail = "quota_exceeded", str(error.detail)
        return report
    except UnsupportedLanguage as error:
        report.status, report.detail = "unsupported_language", str(error.detail)
        return report
    except MachineTranslationUnavailable as error:
        report.status, report.detail = "unavailable", str(error.detail)
        report.retry_after = error.retry_after
        return report
    now = utcnow().isoformat()
    for segment, result in zip(fresh, translated, strict=True):
        segment.candidates.append(
            Candidate(
                text=html_to_text(result.text).replace("\n", " "),
                kind="machine",
                source="machine_translation",
                html=result.text,
                trust=_machine_trust(policy or PenaltyPolicy()),
                placeholder_mismatches=(
                    ()
                    if result.protected_intact
                    else (
                        {
                            "kind": "markup",
                            "reason": "a protected value may be missing",
                            "value": "",
                        },
                    )
                ),
                origin={
                    "origin": "machine",
                    "provider": MACHINE_PROVIDER,
                    "date": now,
                    "reviewed": False,
                    "license": None,
                    "attribution": f"Machine translation by {MACHINE_PROVIDER}",
                },
            )
        )
        report.words_charged += result.words
    report.status = "used"
    return report


def _checks(
    source_text: str,
    target_text: str,
    source: Language,
    target: Language,
    terminology: Callable[[str, str], Any] | None = None,
) -> list[dict[str, str]]:
    """The quality checks `target_text` fails as a translation of the segment, as records
    (`terminology`: the termbase's check, memory.services.terminology.qa_terminology)."""
    return findings_as_records(
        check_translation(
            source_text,
            target_text,
            source_language=source.bcp47_tag or source.code,
            target_language=target.bcp47_tag or target.code,
            terminology=terminology,
        )
    )


def _machine_trust(policy: PenaltyPolicy) -> dict[str, Any]:
    """Trust of a fresh machine translation: nobody has read it (its machine_translated points)."""
    penalties = listed_penalties(MatchFlags(machine_translated=True), policy)
    return trust_record(trust_of(penalties, MatchFlags(machine_translated=True)))


def _name_donors(session: Session, region: Region, segments: list[SegmentSuggestion]) -> None:
    """Candidates of other regions name the region, the donor page's title and its address."""
    wanted = {
        c.unit_id
        for s in segments
        for c in s.candidates
        if c.unit_id is not None and not c.is_machine
    }
    if not wanted:
        return
    ids = sorted(wanted)
    rows = {
        row.id: row
        for start in range(0, len(ids), 500)
        for row in session.execute(
            select(TranslationUnit.id, PageTranslation.title, PageTranslation.url)
            .join(PageTranslation, PageTranslation.id == TranslationUnit.target_translation_id)
            .where(TranslationUnit.id.in_(ids[start : start + 500]))
        )
    }
    for segment in segments:
        named = []
        for candidate in segment.candidates:
            if candidate.unit_id is None or candidate.is_machine:
                named.append(candidate)
                continue
            origin = dict(candidate.origin)
            origin["relation"] = _relation(origin, region.slug)
            row = rows.get(candidate.unit_id)
            if row is not None:
                origin["page_title"] = row.title
                origin["url"] = origin.get("url") or row.url or None
            named.append(replace(candidate, origin=origin))
        segment.candidates = named


def _choose(candidates: list[Candidate]) -> Candidate | None:
    """The draft's pick: a memory match ≥ DRAFT_MIN_SCORE (a semantic one ≥
    SEMANTIC_DRAFT_MIN_SCORE whose local specifics all matched the query's), else machine
    translation."""
    for candidate in candidates:
        if candidate.score is None:
            continue
        if candidate.kind == "semantic":
            # Another sentence with the same meaning: its numbers, times and phones are its own
            # when they do not match the query's, so it waits for a translator.
            if candidate.placeholder_mismatches or candidate.score < SEMANTIC_DRAFT_MIN_SCORE:
                continue
            return candidate
        if candidate.score >= DRAFT_MIN_SCORE:
            return candidate
    machine = next((c for c in candidates if c.is_machine), None)
    if machine is not None:
        return machine
    return next(
        (
            c
            for c in candidates
            if c.kind == "fragments"
            and c.fragments is not None
            and c.fragments["share"] >= FRAGMENTS_DRAFT_MIN_SHARE
        ),
        None,
    )


def _without_foreign_placeholders(text: str, markup: dict[str, str]) -> str:
    """Drop placeholders a stored translation has but the query segment lacks."""
    return PLACEHOLDER_RE.sub(lambda m: m.group(0) if m.group(0) in markup else "", text)


def _draft(segments: list[SegmentSuggestion], template: PageTemplate, part_name: str) -> Draft:
    title = None
    meta_description = None
    filled: dict[int, str] = {}
    for segment in segments:
        chosen = segment.chosen
        if segment.part == "title":
            title = chosen.text if chosen else segment.source_text
            continue
        if segment.part == META_PART:
            meta_description = chosen.text if chosen else segment.source_text
            continue
        markup = dict(template.segments[segment.index].markup)
        if chosen is None:
            continue
        if chosen.html is not None:
            filled[segment.index] = chosen.html
        else:
            text = _without_foreign_placeholders(chosen.segment or chosen.text, markup)
            filled[segment.index] = render_segment(*_marked(text, markup, chosen))
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        else:
            segment_obj = template.segments[part]
            out.append(filled.get(part) or render_segment(segment_obj.text, segment_obj.markup))
    return Draft(
        title=title,
        meta_description=meta_description,
        content="".join(out),
        attribution=_attribution(segments),
        coverage=_coverage(segments),
        local_details=[
            {"part": segment.part, "index": segment.index, **detail}
            for segment in segments
            if segment.chosen is not None
            for detail in segment.chosen.local_details
            if detail.get("status") == "review"
        ],
    )


def _marked(text: str, markup: dict[str, str], chosen: Candidate) -> tuple[str, dict[str, str]]:
    """The segment with each local detail to review wrapped in a placeholder that renders as
    <mark data-local-detail="KIND" data-region="SLUG"> (the review UI highlights it)."""
    position = 0
    number = 9000  # above any inline-markup placeholder a page has
    for detail in chosen.local_details:
        if detail.get("status") != "review" or not detail.get("span"):
            continue
        start = text.find(detail["span"], position)
        if start == -1:
            continue
        end = start + len(detail["span"])
        number += 1
        attributes = (
            f'data-local-detail="{html_lib.escape(str(detail.get("kind", "")))}" '
            f'data-region="{html_lib.escape(str(detail.get("region", "")))}"'
        )
        markup = {**markup, f"<g{number}>": f"<mark {attributes}>", f"</g{number}>": "</mark>"}
        text = f"{text[:start]}<g{number}>{text[start:end]}</g{number}>{text[end:]}"
        position = end + len(f"<g{number}></g{number}>")
    return text, markup


def _attribution(segments: list[SegmentSuggestion]) -> list[dict[str, Any]]:
    """Who to credit for the draft: each other region whose text it uses, and DeepL."""
    credits: dict[str, dict[str, Any]] = {}
    for segment in segments:
        chosen = segment.chosen
        if chosen is None:
            continue
        if chosen.is_machine:
            entry = credits.setdefault(
                "machine",
                {
                    "kind": "machine_translation",
                    "provider": MACHINE_PROVIDER,
                    "attribution": chosen.origin.get("attribution"),
                    "segments": 0,
                },
            )
            entry["segments"] += 1
            continue
        for origin in _credited_origins(chosen):
            entry = credits.setdefault(
                f"region:{origin.get('region')}",
                {
                    "kind": "translation_memory",
                    "region": origin.get("region"),
                    "license": origin.get("license"),
                    "attribution": origin.get("attribution"),
                    "urls": [],
                    "segments": 0,
                },
            )
            url = origin.get("url")
            if url and url not in entry["urls"]:
                entry["urls"].append(url)
            entry["segments"] += 1
    return list(credits.values())


def _credited_origins(chosen: Candidate) -> list[dict[str, Any]]:
    """The origins a memory candidate's text comes from: one for a unit, one per region of
    the pieces of an assembly (none for day and month names alone)."""
    if chosen.fragments is None:
        return [chosen.origin]
    by_region: dict[Any, dict[str, Any]] = {}
    for piece in chosen.fragments["pieces"]:
        origin = piece.get("origin")
        if origin is not None:
            by_region.setdefault(origin.get("region"), origin)
    return list(by_region.values())


def _coverage(segments: list[SegmentSuggestion]) -> dict[str, int]:
    """Words of the draft by where they came from; the values sum to `words`."""
    coverage = {
        "segments": len(segments),
        "words": 0,
        "translation_memory": 0,
        "near_duplicate": 0,
        "machine_translation": 0,
        "fragments": 0,
        "untranslated": 0,
    }
    for segment in segments:
        coverage["words"] += segment.words
        chosen = segment.chosen
        if chosen is not None and chosen.fragments is not None:
            # Only the words its pieces cover; the rest of the segment stays as it was.
            covered = min(round(chosen.fragments["share"] * segment.words), segment.words)
            coverage["fragments"] += covered
            coverage["untranslated"] += segment.words - covered
            continue
        key = chosen.source if chosen else "untranslated"
        coverage[key] += segment.words
    return coverage


# --------------------------------------------------------------------------- the queue


def _queue_key(
    region: Region, page: Page | None, target: Language, part: str, index: int, text: str
) -> str:
    form = " ".join(strip_markup(text).split())
    parts = (region.id, page.id if page else "-", target.id, part, index, form)
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()


def _stored_suggestions(
    session: Session, segments: list[SegmentSuggestion]
) -> dict[str, Suggestion]:
    """The latest stored suggestion of each segment (same page, place and text), by key."""
    keys = [s.queue_key for s in segments]
    stored: dict[str, Suggestion] = {}
    for suggestion in session.scalars(
        select(Suggestion).where(Suggestion.queue_key.in_(keys)).order_by(Suggestion.id)
    ):
        stored[suggestion.queue_key] = suggestion
    return stored


def _store_queue(
    session: Session,
    actor: Actor | None,
    region: Region,
    page: Page | None,
    source_translation: PageTranslation | None,
    source: Language,
    target: Language,
    segments: list[SegmentSuggestion],
    stored: dict[str, Suggestion],
) -> None:
    """Store or refresh each segment's pending suggestion; decided ones stay as they are."""
    now = utcnow()
    keys = set()
    for segment in segments:
        key = segment.queue_key
        keys.add(key)
        records = [c.as_record() for c in segment.candidates]
        suggestion = stored.get(key)
        if suggestion is not None and suggestion.status != SuggestionStatus.PENDING:
            segment.suggestion = suggestion  # already decided: not queued again
            continue
        if suggestion is None:
            suggestion = Suggestion(
                region_id=region.id,
                page_id=page.id if page else None,
                source_language_id=source.id,
                target_language_id=target.id,
                part=segment.part,
                segment_index=segment.index,
                source_text=segment.source_text,
                source_hash=hashlib.sha256(segment.plain_source.encode("utf-8")).hexdigest(),
                queue_key=key,
                requested_by=actor.name if actor else "",
            )
            session.add(suggestion)
        suggestion.source_translation_id = source_translation.id if source_translation else None
        suggestion.source_version = source_translation.version if source_translation else None
        suggestion.candidates = records
        suggestion.updated_at = now
        segment.suggestion = suggestion
    if page is not None:
        # Pending suggestions for sentences the page no longer has are obsolete.
        session.execute(
            delete(Suggestion).where(
                Suggestion.page_id == page.id,
                Suggestion.target_language_id == target.id,
                Suggestion.status == SuggestionStatus.PENDING,
                Suggestion.queue_key.not_in(keys),
            )
        )
    session.flush()


def list_suggestions(
    session: Session,
    actor: Actor | None,
    region_slug: str,
    *,
    target_language: str | None = None,
    status: str | None = SuggestionStatus.PENDING.value,
    page: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Suggestion], int]:
    """The region's suggestions (the review queue by default), oldest page order first."""
    authorize(actor, Action.SUGGEST, region_slug)
    region = get_region(session, region_slug)
    query = select(Suggestion).where(Suggestion.region_id == region.id)
    if target_language is not None:
        target = get_language(session, target_language, field="target_language")
        query = query.where(Suggestion.target_language_id == target.id)
    if status is not None:
        query = query.where(Suggestion.status == SuggestionStatus(status))
    if page is not None:
        page_obj = get_page_or_404(session, region, page)
        query = query.where(Suggestion.page_id == page_obj.id)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.options(selectinload(Suggestion.reviews))
        .order_by(
            Suggestion.page_id.is_(None),
            Suggestion.page_id,
            Suggestion.part.desc(),  # "title" before "text"/"content"
            Suggestion.segment_index,
            Suggestion.id,
        )
        .limit(limit)
        .offset(offset)
    ).all()
    return list(rows), int(total)


def pending_counts(session: Session, actor: Actor | None, region_slug: str) -> dict[str, int]:
    """Pending suggestions of the region per target language code (one query)."""
    authorize(actor, Action.SUGGEST, region_slug)
    region = get_region(session, region_slug)
    rows = session.execute(
        select(Language.code, func.count(Suggestion.id))
        .join(Suggestion, Suggestion.target_language_id == Language.id)
        .where(Suggestion.region_id == region.id, Suggestion.status == SuggestionStatus.PENDING)
        .group_by(Language.code)
    )
    return {code: count for code, count in rows}


def get_suggestion(session: Session, actor: Actor | None, suggestion_id: int) -> Suggestion:
    """One suggestion with its audit trail; only for tokens of its region."""
    suggestion = _visible_suggestion(session, actor, suggestion_id)
    authorize(actor, Action.SUGGEST, suggestion.region.slug)
    return suggestion


def _visible_suggestion(session: Session, actor: Actor | None, suggestion_id: int) -> Suggestion:
    """The suggestion if the actor's region holds it. Another region's is as unknown as a missing
    one: a 403 would tell a token of region B which ids region A has."""
    if actor is None:
        raise Unauthorized("This operation needs an API token (Authorization: Bearer …).")
    # Ids are 32-bit serials; PostgreSQL refuses to compare a larger one with them.
    suggestion = session.get(Suggestion, suggestion_id) if 0 < suggestion_id < 2**31 else None
    # Suggestions are never public: the scope that reads drafts is the one that sees them.
    if suggestion is None or not actor.can_read_drafts_of(suggestion.region.slug):
        raise NotFound(f"Suggestion {suggestion_id} does not exist.")
    return suggestion


# --------------------------------------------------------------------------- reviews


def review_suggestion(
    session: Session,
    actor: Actor | None,
    suggestion_id: int,
    *,
    decision: str,
    candidate: int | None = None,
    text: str | None = None,
    confirm_checks: bool = False,
) -> Suggestion:
    """Accept (a candidate), edit (a candidate or nothing, into `text`) or reject a suggestion.

    Accepted and edited texts become reviewed units of the region; a rejected memory candidate
    is demoted (one "rejected" penalty more). An accepted or edited text that fails a quality
    check (matchers.qa_checks) is refused with ChecksFailed, nothing stored, unless
    `confirm_checks`. Every decision is audited, with the failed checks and the confirmation.
    A suggestion is decided once: a second decision is a 409 Conflict.
    """
    suggestion = _visible_suggestion(session, actor, suggestion_id)
    actor = authorize(actor, Action.REVIEW, suggestion.region.slug)
    chosen_decision = Decision(decision)
    if suggestion.status != SuggestionStatus.PENDING:
        raise Conflict(
            f"Suggestion {suggestion_id} was already {suggestion.status.value}.",
            errors={"decision": ["Already reviewed."]},
        )
    # Accept and reject act on the top candidate unless another is named; an edit may start
    # from a candidate or from nothing.
    offered = _offered(suggestion, candidate, required=chosen_decision is not Decision.EDIT)
    final: str | None
    unit_id: int | None = None
    failed: list[dict[str, str]] = []
    if chosen_decision is Decision.REJECT:
        final = None
        if offered is not None and offered.unit_id is not None:
            unit = session.get(TranslationUnit, offered.unit_id)
            if unit is not None:
                unit.rejections = (unit.rejections or 0) + 1
                unit_id = unit.id
        suggestion.status = SuggestionStatus.REJECTED
    else:
        if chosen_decision is Decision.EDIT:
            if text is None or not text.strip():
                raise InvalidInput(
                    "An edit needs the edited text.", errors={"text": ["Required to edit."]}
                )
            final = " ".join(text.split())
            status = SuggestionStatus.EDITED
        else:
            if offered is None:
                raise InvalidInput(
                    "This suggestion has no candidate to accept; edit it instead.",
                    errors={"candidate": ["No candidates."]},
                )
            final = offered.reviewed_text
            status = SuggestionStatus.ACCEPTED
        failed = _checks(
            suggestion.source_text,
            final,
            suggestion.source_language,
            suggestion.target_language,
            qa_terminology(
                session,
                suggestion.region,
                suggestion.source_language.code,
                suggestion.target_language.code,
            ),
        )
        if failed and not confirm_checks:
            raise ChecksFailed(
                f"The text fails {len(failed)} quality check(s): "
                + " ".join(check["message"] for check in failed)
                + " Correct it, or confirm the checks (confirm_checks) to store it as it is.",
                checks=failed,
                errors={"confirm_checks": [check["message"] for check in failed]},
            )
        unit = _reviewed_unit(session, suggestion, offered, final, chosen_decision)
        unit_id = unit.id
        suggestion.unit_id = unit.id
        suggestion.status = status
    now = utcnow()
    suggestion.final_text = final
    suggestion.reviewed_at = now
    session.add(
        SuggestionReview(
            suggestion_id=suggestion.id,
            decision=chosen_decision,
            candidate_index=candidate if offered is not None else None,
            before_text=offered.text if offered is not None else None,
            after_text=strip_markup(final) if final is not None else None,
            unit_id=unit_id,
            actor_token_id=actor.token_id,
            actor_name=actor.name,
            actor_role=actor.role.value,
            created_at=now,
            qa_checks=failed,
            checks_confirmed=bool(failed) and confirm_checks,
        )
    )
    session.commit()
    logger.info(
        "suggestion %d %s by %s", suggestion.id, chosen_decision.value, actor.name or actor.role
    )
    return suggestion


def _offered(suggestion: Suggestion, index: int | None, *, required: bool) -> Candidate | None:
    candidates = suggestion.candidates or []
    if index is None:
        if not required or not candidates:
            return None
        index = 0
    if not 0 <= index < len(candidates):
        raise InvalidInput(
            f"Candidate {index} does not exist (this suggestion has {len(candidates)}).",
            errors={"candidate": [f"Between 0 and {max(len(candidates) - 1, 0)}."]},
        )
    return Candidate.from_record(candidates[index])


def _reviewed_unit(
    session: Session,
    suggestion: Suggestion,
    offered: Candidate | None,
    final: str,
    decision: Decision,
) -> TranslationUnit:
    region = suggestion.region
    own_attribution = region.attribution or f"{region.name} — shared under {region.license}"
    if decision is Decision.EDIT or offered is None:
        origin, license, attribution = Origin.HUMAN, region.license, own_attribution
    elif offered.is_machine:
        origin, license, attribution = Origin.MACHINE, region.license, own_attribution
    elif offered.origin.get("region") not in (None, region.slug):
        # Another county's text: its licence and attribution travel with it.
        origin = Origin.REUSED
        license = offered.origin.get("license") or region.license
        attribution = offered.origin.get("attribution") or own_attribution
    else:
        origin, license, attribution = Origin.HUMAN, region.license, own_attribution
    return add_reviewed_unit(
        session,
        region=region,
        page=suggestion.page,
        source=suggestion.source_language,
        target=suggestion.target_language,
        source_text=suggestion.source_text,
        target_text=final,
        origin=origin,
        license=license,
        attribution=attribution,
        url=(offered.origin.get("url") or "") if offered is not None else "",
    )
