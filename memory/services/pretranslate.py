"""Pre-translation of a whole region into one language: a draft per page, every segment queued.

For each page of the region whose latest public translation into the language is missing or
outdated, the page's suggestions are made as for one page (`suggestions.suggest_translations`:
memory, similar pages, meaning, machine translation within the region's word budget), every
segment goes into the review queue, and the best candidate per segment is stored as a **draft**
version of the page in that language (never public: the CMS or an editor publishes it after
review). A page whose latest version in the language is already a draft or in review keeps it
(somebody may be working on it); its segments are queued all the same.

The region's machine-translation budget is charged page by page in the transaction that stores
the page's suggestions, so a run stops using DeepL where the budget ends and no page is charged
twice (asking again reuses the stored machine translations). Running it again stores nothing
new for a page whose draft would be the same (same content hash).

Runs as a background job (`tm_service.region_jobs`); `progress(done, total, message)` is called
after each page.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from memory.authorization import Action, Actor, authorize
from memory.errors import InvalidInput, NotFound
from memory.models import (
    Language,
    Origin,
    Page,
    Region,
    ReviewStatus,
    TranslationStatus,
)
from memory.review_models import SuggestionStatus
from memory.services.pages import (
    _current_source_hashes,
    is_outdated,
    latest_public_by_language,
    store_translation,
    translation_source_language,
)
from memory.services.regions import get_language, get_region
from memory.services.suggestions import SuggestionResult

__all__ = ["PretranslationReport", "check_pretranslation", "pages_to_pretranslate", "pretranslate"]

log = logging.getLogger(__name__)

Suggest = Callable[[Page], SuggestionResult]
"""Makes and queues one page's suggestions into the target language (the app's services)."""
Progress = Callable[[int, int, str], None]


@dataclass
class PretranslationReport:
    """What a region's pre-translation did (the job's result)."""

    region: str
    language: str
    pages: int = 0  # pages that needed the language (missing or outdated)
    pages_done: int = 0
    drafts_stored: int = 0
    drafts_unchanged: int = 0  # the same draft was stored by an earlier run
    drafts_kept: int = 0  # somebody's draft or review version is the latest: left as it is
    # Pages whose source language has no public version yet (a count: the report is public in
    # GET /jobs/{id}, and such a page may exist only as drafts).
    pages_waiting_for_source: int = 0
    segments: int = 0
    segments_pending: int = 0  # waiting in the review queue
    words: int = 0
    coverage: dict[str, int] = field(default_factory=dict)  # words by where the draft took them
    machine_translation: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_pretranslation(
    session: Session, actor: Actor | None, region_slug: str, language_code: str
) -> tuple[Region, Language]:
    """The region and language, if `actor` may pre-translate (it stores drafts: write content).

    Unknown region or language → NotFound; the region's source language → InvalidInput.
    """
    authorize(actor, Action.WRITE_CONTENT, region_slug)
    region = get_region(session, region_slug)
    language = get_language(session, language_code, field="target_language")
    if language.id == region.source_language_id:
        raise InvalidInput(
            f"'{language.code}' is the source language of region '{region.slug}'.",
            errors={"target_language": [f"'{language.code}' is what the region translates from."]},
        )
    return region, language


def pages_to_pretranslate(session: Session, region: Region, language: Language) -> list[Page]:
    """The region's pages whose latest public translation into `language` is missing or
    outdated, in page order (external id); pages written in `language` are left out."""
    pages = session.scalars(
        select(Page)
        .where(Page.region_id == region.id)
        .options(selectinload(Page.translations))
        .order_by(Page.external_id)
    ).all()
    hashes = _current_source_hashes(session, [page.id for page in pages]) if pages else {}
    wanted = []
    for page in pages:
        source = translation_source_language(region, page, language)
        if source is None:
            continue
        current = latest_public_by_language(page).get(language.id)
        if current is None or is_outdated(current, source, hashes):
            wanted.append(page)
    return wanted


def pretranslate(
    session: Session,
    actor: Actor,
    region_slug: str,
    language_code: str,
    suggest: Suggest,
    *,
    progress: Progress | None = None,
) -> PretranslationReport:
    """Queue every segment and store a draft per page that needs `language_code`."""
    started = time.perf_counter()
    region, language = check_pretranslation(session, actor, region_slug, language_code)
    pages = pages_to_pretranslate(session, region, language)
    page_ids = [page.id for page in pages]
    report = PretranslationReport(region=region.slug, language=language.code, pages=len(pages))
    coverage: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    charged = 0
    session.commit()  # end the read: each page is its own transaction
    if progress is not None:
        progress(0, len(page_ids), "pre-translating pages")
    for done, page_id in enumerate(page_ids, start=1):
        page = session.get(Page, page_id)
        if page is None:  # deleted meanwhile
            continue
        try:
            result = suggest(page)
        except NotFound:
            # Its source language has no public version yet (Arabic from a missing English).
            session.rollback()
            report.pages_waiting_for_source += 1
        else:
            _tally(report, result, coverage, statuses)
            charged += result.machine_translation.words_charged
            _store_draft(session, region, page, language, result, report)
            session.commit()
            report.pages_done += 1
        if progress is not None:
            progress(done, len(page_ids), "pre-translating pages")
    report.coverage = dict(coverage)
    report.machine_translation = {"pages_by_status": dict(statuses), "words_charged": charged}
    region = get_region(session, region_slug)
    report.machine_translation["budget"] = region.mt_word_budget
    report.seconds = round(time.perf_counter() - started, 2)
    log.info(
        "pre-translated %s into %s: %d pages, %d drafts, %d segments queued, %.1f s",
        region.slug,
        language.code,
        report.pages_done,
        report.drafts_stored,
        report.segments_pending,
        report.seconds,
    )
    return report


def _tally(
    report: PretranslationReport,
    result: SuggestionResult,
    coverage: Counter[str],
    statuses: Counter[str],
) -> None:
    report.segments += len(result.segments)
    report.segments_pending += sum(
        1
        for segment in result.segments
        if segment.suggestion is not None and segment.suggestion.status is SuggestionStatus.PENDING
    )
    for key, value in result.draft.coverage.items():
        if key == "segments":
            continue
        if key == "words":
            report.words += value
        else:
            coverage[key] += value
    statuses[result.machine_translation.status] += 1


def _store_draft(
    session: Session,
    region: Region,
    page: Page,
    language: Language,
    result: SuggestionResult,
    report: PretranslationReport,
) -> None:
    """The draft as a new draft version, unless a draft or review version is the latest."""
    versions = [t for t in page.translations if t.language_id == language.id]
    latest = max(versions, key=lambda t: t.version, default=None)
    if latest is not None and latest.status is not TranslationStatus.PUBLIC:
        if latest.content_hash and _same_draft(latest.title, latest.content, result):
            report.drafts_unchanged += 1
        else:
            report.drafts_kept += 1
        return
    draft = result.draft
    coverage = draft.coverage
    uses_machine = coverage.get("machine_translation", 0) > 0
    stored = store_translation(
        session,
        region,
        page.external_id,
        language,
        {
            "title": draft.title or page.external_id,
            "content": draft.content,
            "meta_description": draft.meta_description or "",
            "status": TranslationStatus.DRAFT.value,
            "origin": (Origin.MACHINE if uses_machine else Origin.REUSED).value,
            "review_status": ReviewStatus.UNREVIEWED.value,
            "source_version": result.source_version,
        },
    )
    if stored.created:
        report.drafts_stored += 1
    else:
        report.drafts_unchanged += 1


def _same_draft(title: str, content: str, result: SuggestionResult) -> bool:
    return title == (result.draft.title or "") and content == result.draft.content
