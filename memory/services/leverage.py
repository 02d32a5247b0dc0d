"""Leverage report: how much of a region's untranslated or outdated content the TM already covers.

For every page and target language whose latest public translation is missing or outdated, the
latest public translation it is made from (the region's language tree: Arabic from English where
the region translates so) is segmented like the units are (title, then content segments) and each
segment is looked up in the translation memory. Its words fall into the band of its best match
— 101, 100, 95–99, 85–94, 75–84, no match — or into "repetitions" when the same segment came
earlier in the same language's batch, as CAT tools analyse a batch. The match is how much of the
source matches (an identical source is 100 whoever translated it); each band breaks its words
down by the trust of the translation that matched (reviewed, approved, unreviewed, machine,
outdated). Numbers only: no text of any page leaves this module.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from matchers.scoring import CONTEXT_SCORE, EXACT_SCORE, PenaltyPolicy, Trust
from memory.errors import InvalidInput
from memory.models import Language, Page, PageTranslation, Region, TranslationStatus, utcnow
from memory.segmentation import count_words, segment_html, strip_placeholders
from memory.services.pages import is_outdated, translation_source_language
from memory.services.regions import get_language, get_region
from memory.services.translation_memory import (
    LookupContext,
    TranslationMemoryIndex,
)
from memory.tm_models import TranslationUnit

__all__ = [
    "BANDS",
    "DEFAULT_PRICE_PER_MILLION_CHARACTERS",
    "LEVERAGED_BANDS",
    "MATCH_BANDS",
    "MIN_LEVERAGE_SCORE",
    "TRUST_CLASSES",
    "BandCount",
    "BudgetCheck",
    "LanguageLeverage",
    "LeverageCounts",
    "LeverageReport",
    "MachineTranslationSavings",
    "PageLeverage",
    "band_of",
    "leverage_report",
]

# Report order; "repetitions" sits where memoQ and Trados put it: after context matches.
BANDS = ("101", "100", "repetitions", "95-99", "85-94", "75-84", "no_match")
# Segments in these bands need no machine translation: the memory (or the batch) has them.
LEVERAGED_BANDS = BANDS[:-1]
MIN_LEVERAGE_SCORE = 75.0
# DeepL API Pro's published price per million billed characters (EUR, before the base fee).
DEFAULT_PRICE_PER_MILLION_CHARACTERS = 20.0

# Bands reached by a memory match: they say what kind of translation matched (trust).
MATCH_BANDS = ("101", "100", "95-99", "85-94", "75-84")
# The trust breakdown of a band: one class per segment, so the classes add up to the band.
# machine: an unreviewed machine translation; outdated: its source changed since (human);
# else the status: reviewed, approved (a region published it), unreviewed (e.g. from TMX).
TRUST_CLASSES = ("reviewed", "approved", "unreviewed", "machine", "outdated")

Band = Literal["101", "100", "repetitions", "95-99", "85-94", "75-84", "no_match"]


def trust_class(trust: Trust) -> str:
    """The one trust class a matched segment is counted in (TRUST_CLASSES)."""
    if trust.status == "machine":
        return "machine"
    if trust.outdated:
        return "outdated"
    return trust.status


def band_of(score: float | None, *, repeated: bool = False) -> Band:
    """The band of a segment's best match (0–100, 101 context; None: no match ≥ 75)."""
    if score is not None and score >= CONTEXT_SCORE:
        return "101"
    if repeated:
        return "repetitions"
    if score is None or score < MIN_LEVERAGE_SCORE:
        return "no_match"
    if score >= EXACT_SCORE:
        return "100"
    if score >= 95:
        return "95-99"
    if score >= 85:
        return "85-94"
    return "75-84"


@dataclass
class BandCount:
    """Segments, words (Integreat's count) and characters (DeepL's billing unit) of one band;
    for a band reached by a match, the same per trust class (they add up to the band)."""

    segments: int = 0
    words: int = 0
    characters: int = 0
    trust: dict[str, BandCount] = field(default_factory=dict)

    def add(self, other: BandCount) -> None:
        self.segments += other.segments
        self.words += other.words
        self.characters += other.characters
        for name, count in other.trust.items():
            self.trust.setdefault(name, BandCount()).add(count)

    def add_one(self, words: int, characters: int) -> None:
        self.segments += 1
        self.words += words
        self.characters += characters


def _band_counts() -> dict[str, BandCount]:
    return {
        band: BandCount(trust={name: BandCount() for name in TRUST_CLASSES})
        if band in MATCH_BANDS
        else BandCount()
        for band in BANDS
    }


@dataclass
class LeverageCounts:
    """Counts per band; the totals are the bands' sums by construction."""

    bands: dict[str, BandCount] = field(default_factory=_band_counts)

    def add_segment(
        self, band: Band, words: int, characters: int, trust: str | None = None
    ) -> None:
        count = self.bands[band]
        count.add_one(words, characters)
        if trust is not None and band in MATCH_BANDS:
            count.trust.setdefault(trust, BandCount()).add_one(words, characters)

    def add(self, other: LeverageCounts) -> None:
        for band, count in other.bands.items():
            self.bands[band].add(count)

    @property
    def segments(self) -> int:
        return sum(count.segments for count in self.bands.values())

    @property
    def words(self) -> int:
        return sum(count.words for count in self.bands.values())

    @property
    def characters(self) -> int:
        return sum(count.characters for count in self.bands.values())


@dataclass(frozen=True)
class MachineTranslationSavings:
    """What the leveraged bands save on DeepL, and what the no-match part still needs.

    Cost = characters × price per million characters / 1 000 000 (EUR, rounded to 4 places).
    """

    words_saved: int
    characters_saved: int
    cost_saved: float
    words_needed: int
    characters_needed: int
    cost_needed: float

    @classmethod
    def of(cls, counts: LeverageCounts, price_per_million: float) -> MachineTranslationSavings:
        saved = BandCount()
        for band in LEVERAGED_BANDS:
            saved.add(counts.bands[band])
        needed = counts.bands["no_match"]
        return cls(
            words_saved=saved.words,
            characters_saved=saved.characters,
            cost_saved=_cost(saved.characters, price_per_million),
            words_needed=needed.words,
            characters_needed=needed.characters,
            cost_needed=_cost(needed.characters, price_per_million),
        )


def _cost(characters: int, price_per_million: float) -> float:
    return round(characters * price_per_million / 1_000_000, 4)


@dataclass
class PageLeverage:
    """One page's content to translate into one language."""

    external_id: str
    source_language: str
    state: Literal["missing", "outdated"]
    counts: LeverageCounts = field(default_factory=LeverageCounts)


@dataclass
class LanguageLeverage:
    """Everything to translate into one language, with its pages when asked for."""

    language: str
    price_per_million_characters: float
    # False: the region has not added the language yet (`note` says how); counted all the same.
    in_region: bool = True
    note: str | None = None
    pages_missing: int = 0
    pages_outdated: int = 0
    # Missing or outdated, but the language it is translated from has no public version yet.
    pages_waiting_for_source: int = 0
    counts: LeverageCounts = field(default_factory=LeverageCounts)
    page_details: list[PageLeverage] | None = None

    @property
    def pages(self) -> int:
        return self.pages_missing + self.pages_outdated

    @property
    def machine_translation(self) -> MachineTranslationSavings:
        return MachineTranslationSavings.of(self.counts, self.price_per_million_characters)


@dataclass(frozen=True)
class BudgetCheck:
    """The region's machine-translation word budget against the words the no-match part needs."""

    word_budget: int
    words_used: int
    words_needed: int

    @property
    def words_left(self) -> int:
        return max(self.word_budget - self.words_used, 0)

    @property
    def fits(self) -> bool:
        return self.words_needed <= self.words_left

    @property
    def shortfall(self) -> int:
        return max(self.words_needed - self.words_left, 0)


@dataclass
class LeverageReport:
    region: Region
    price_per_million_characters: float
    languages: list[LanguageLeverage]
    totals: LanguageLeverage
    budget: BudgetCheck
    lookups: int
    seconds: float


def leverage_report(
    session: Session,
    index: TranslationMemoryIndex,
    region: str,
    *,
    target_languages: Sequence[str] | None = None,
    policy: PenaltyPolicy | None = None,
    price_per_million_characters: float = DEFAULT_PRICE_PER_MILLION_CHARACTERS,
    include_pages: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> LeverageReport:
    """Words of the region's missing or outdated translations per TM match band and language.

    Bands are by best match (0–100, 101 for a context match; an identical source is 100
    whoever translated it), each with its words per trust class of the matched translation
    (reviewed, approved, unreviewed, machine, outdated); words are
    Integreat's count (DeepL budgets), characters DeepL's (Unicode code points without markup).
    Read-only: public versions only, drafts are never read. Unknown language → NotFound; the
    region's source language → InvalidInput. A language the region has not added yet is
    reported too (`in_region` False): every page missing, made from its source language.
    `progress(done, total)` counts the pages × languages looked at so far (a background job).
    """
    started = time.perf_counter()
    home = get_region(session, region)
    languages = _target_languages(session, home, target_languages)
    # A CAT analysis counts an exact match in another context as 100 % and tells context matches
    # apart by 101 %, so the ranking nudge for a different context is not applied here (bands
    # are by match; the penalties only pick the best-ranked among equal matches).
    policy = dataclasses.replace(policy or PenaltyPolicy(), context_mismatch=0.0)
    latest = _latest_public_translations(session, home)
    published = {page_id for page_id, _ in latest}
    pages = [
        page
        for page in session.scalars(
            select(Page).where(Page.region_id == home.id).order_by(Page.position, Page.id)
        )
        if page.id in published  # a page with drafts only does not exist for the public
    ]
    hashes = {key: translation.content_hash for key, translation in latest.items()}
    analyser = _Analyser(session, index, home, policy)

    reports = []
    steps = len(pages) * len(languages)
    for step, (language, in_region) in enumerate(languages):
        report = LanguageLeverage(
            language.code,
            price_per_million_characters,
            in_region=in_region,
            note=None if in_region else _not_in_region_note(home, language),
            page_details=[] if include_pages else None,
        )
        seen: set[tuple[int, str]] = set()  # (source language, segment hash) met in this batch
        for number, page in enumerate(pages, start=1):
            if progress is not None:
                progress(step * len(pages) + number - 1, steps)
            if language.id == page.source_language_id:
                continue
            source_language = translation_source_language(home, page, language)
            if source_language is None:
                continue
            target = latest.get((page.id, language.id))
            if target is not None and not is_outdated(target, source_language, hashes):
                continue
            source = latest.get((page.id, source_language.id))
            if source is None:
                report.pages_waiting_for_source += 1
                continue
            detail = PageLeverage(
                page.external_id, source_language.code, "missing" if target is None else "outdated"
            )
            if target is None:
                report.pages_missing += 1
            else:
                report.pages_outdated += 1
            # An outdated page's own units pair the old translation with the source version it
            # was made from, so they count for unchanged sentences only, like a CAT tool's
            # previous version.
            analyser.count(source, source_language, language, seen, detail.counts)
            report.counts.add(detail.counts)
            if report.page_details is not None:
                report.page_details.append(detail)
        reports.append(report)

    totals = LanguageLeverage("all", price_per_million_characters)
    for report in reports:
        totals.pages_missing += report.pages_missing
        totals.pages_outdated += report.pages_outdated
        totals.pages_waiting_for_source += report.pages_waiting_for_source
        totals.counts.add(report.counts)
    return LeverageReport(
        region=home,
        price_per_million_characters=price_per_million_characters,
        languages=reports,
        totals=totals,
        budget=BudgetCheck(
            home.mt_word_budget,
            home.mt_words_used_in(utcnow().year),
            totals.counts.bands["no_match"].words,
        ),
        lookups=analyser.lookups,
        seconds=round(time.perf_counter() - started, 3),
    )


def _target_languages(
    session: Session, region: Region, codes: Sequence[str] | None
) -> list[tuple[Language, bool]]:
    """The languages asked for, or all of the region's but its source language; each with
    whether the region has it (its language tree or its published pages)."""
    available = {node.language.code: node.language for node in region.languages}
    # A region without a language tree still publishes in the languages its pages have.
    available.update(
        (language.code, language)
        for language in session.scalars(
            select(Language)
            .join(PageTranslation, PageTranslation.language_id == Language.id)
            .join(Page, Page.id == PageTranslation.page_id)
            .where(Page.region_id == region.id, PageTranslation.status == TranslationStatus.PUBLIC)
            .distinct()
        )
    )
    available.pop(region.source_language.code, None)
    if codes is None:
        return [(language, True) for _, language in sorted(available.items())]
    chosen = []
    for code in dict.fromkeys(codes):
        language = get_language(session, code, field="target_language")
        if language.id == region.source_language_id:
            raise InvalidInput(
                f"'{code}' is the source language of region '{region.slug}'.",
                errors={"target_language": [f"'{code}' is what the region translates from."]},
            )
        # A language the region has not added yet is answered too: "what would English cost
        # us?" is asked before adding it. Every page counts as missing, made from its source.
        chosen.append((language, code in available))
    return chosen


def _not_in_region_note(region: Region, language: Language) -> str:
    return (
        f"'{language.code}' is not a language of region '{region.slug}' yet: every page is "
        f"counted as missing, translated from its source language. An admin of the region adds "
        f"it with PATCH /api/v1/regions/{region.slug} (languages: "
        f'{{"code": "{language.code}", "parent": "{region.source_language.code}"}} '
        "besides the present ones)."
    )


def _latest_public_translations(
    session: Session, region: Region
) -> dict[tuple[int, int], PageTranslation]:
    """The latest public version per (page, language) of the region's pages; no draft is read."""
    latest = (
        select(
            PageTranslation.page_id,
            PageTranslation.language_id,
            func.max(PageTranslation.version).label("version"),
        )
        .join(Page, Page.id == PageTranslation.page_id)
        .where(Page.region_id == region.id, PageTranslation.status == TranslationStatus.PUBLIC)
        .group_by(PageTranslation.page_id, PageTranslation.language_id)
        .subquery()
    )
    rows = session.scalars(
        select(PageTranslation).join(
            latest,
            (PageTranslation.page_id == latest.c.page_id)
            & (PageTranslation.language_id == latest.c.language_id)
            & (PageTranslation.version == latest.c.version),
        )
    ).all()
    return {(row.page_id, row.language_id): row for row in rows}


class _Analyser:
    """Looks segments up (one lookup context per language pair, scores cached) and bands them."""

    def __init__(
        self, session: Session, index: TranslationMemoryIndex, region: Region, policy: PenaltyPolicy
    ) -> None:
        self.session = session
        self.index = index
        self.region = region
        self.policy = policy
        self.lookups = 0
        self._contexts: dict[tuple[int, int], LookupContext] = {}
        self._targets_with_units: dict[int, bool] = {}
        # (source id, target id, text) → best match of its first lookup; and per neighbours too.
        self._first_scores: dict[tuple[int, int, str], _Best | None] = {}
        self._scores: dict[tuple[object, ...], _Best | None] = {}

    def count(
        self,
        source: PageTranslation,
        source_language: Language,
        target_language: Language,
        seen: set[tuple[int, str]],
        counts: LeverageCounts,
    ) -> None:
        context = self._context(source_language, target_language)
        texts = list(_segment_texts(source, source_language.code))
        # Neighbours as context ("" at a page's ends, as units record it): 101 % possible.
        queries = [
            context.query(
                text,
                texts[position - 1] if position > 0 else "",
                texts[position + 1] if position + 1 < len(texts) else "",
            )
            for position, text in enumerate(texts)
        ]
        context.prefetch_exact(queries)
        for position, (text, query) in enumerate(zip(texts, queries, strict=True)):
            before = texts[position - 1] if position > 0 else ""
            after = texts[position + 1] if position + 1 < len(texts) else ""
            best = self._best_match(context, query, (text, before, after))
            repeated = (source_language.id, query.key.hash) in seen
            seen.add((source_language.id, query.key.hash))
            counts.add_segment(
                band_of(best.match if best else None, repeated=repeated),
                count_words(text),
                len(strip_placeholders(text)),
                best.trust if best else None,
            )

    def _has_units_into(self, target: Language) -> bool:
        # Every match, direct or through a pivot, is a unit into the target language: without
        # one, no segment needs a lookup (a language new to the whole memory).
        if target.id not in self._targets_with_units:
            self._targets_with_units[target.id] = (
                self.session.scalar(
                    select(TranslationUnit.id)
                    .where(TranslationUnit.target_language_id == target.id)
                    .limit(1)
                )
                is not None
            )
        return self._targets_with_units[target.id]

    def _context(self, source: Language, target: Language) -> LookupContext:
        key = (source.id, target.id)
        if key not in self._contexts:
            self._contexts[key] = LookupContext(
                self.session,
                self.index,
                source_language=source.code,
                target_language=target.code,
                region=self.region.slug,
                min_score=MIN_LEVERAGE_SCORE,
                # The best match counts, which need not be the best-ranked: a machine exact
                # match is a 100 ranked below a human 96.
                limit=5,
                threshold="match",
                policy=self.policy,
                # A clean exact match is the best match: no fuzzy search needed.
                fuzzy_after_exact=False,
            )
        return self._contexts[key]

    def _best_match(
        self,
        context: LookupContext,
        query: Any,
        texts: tuple[str, str, str],
    ) -> _Best | None:
        """Best match ≥ 75 of a segment (text, before, after) and its trust; None: no match."""
        if not query.key.form or not self._has_units_into(context.target):
            return None
        pair = (context.source.id, context.target.id)
        first_key = (*pair, texts[0])
        if first_key in self._first_scores:
            first = self._first_scores[first_key]
            # A repeat is a repetition unless it is a 101, and only an exact unit can become
            # one; without it (first match below 100) other neighbours change nothing.
            if first is None or first.match < EXACT_SCORE:
                return first
        key = (*pair, *texts)
        if key not in self._scores:
            self.lookups += 1
            matches = context.matches(query)
            # The highest match; among equal ones the best-ranked (most trusted, nearest).
            best = max(matches, key=lambda m: m.match.match, default=None)
            self._scores[key] = (
                _Best(best.match.match, trust_class(best.match.trust)) if best else None
            )
            self._first_scores.setdefault(first_key, self._scores[key])
        return self._scores[key]


@dataclass(frozen=True)
class _Best:
    match: float
    trust: str


def _segment_texts(translation: PageTranslation, language: str) -> Iterable[str]:
    """Title, then content segments with inline placeholders: what units and DeepL get."""
    title = translation.title.strip()
    if title:
        yield title
    for segment in segment_html(translation.content or "", language):
        yield segment.text
