"""Lookup: exact candidates by hash and fuzzy ones from the index, scored and penalised, ranked
by trust and region, through a pivot language when no direct match passes (`lookup`,
`LookupContext`); what is known of a unit's translation (`trust_status`, `approved`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from matchers.placeholders import Placeholder, extract_placeholders, transfer_placeholders
from matchers.scoring import (
    CONTEXT_SCORE,
    TRUST_STATUSES,
    Match,
    MatchFlags,
    PenaltyPolicy,
    apply_penalties,
    classify_match,
    score_match,
    similarity,
)
from memory.errors import InvalidInput
from memory.models import Language, Origin
from memory.services.regions import (
    RegionPlaces,
    cached_language,
    get_region,
    region_places,
)
from memory.services.translation_memory.found_units import (
    AnyUnit,
    FoundUnit,
    units_of_forms,
)
from memory.services.translation_memory.index import TranslationMemoryIndex
from memory.services.translation_memory.keys import (
    SegmentKey,
    context_key,
    segment_key,
    strip_markup,
)
from memory.tm_models import TranslationUnit

DEFAULT_PIVOT_LANGUAGE = "en"
# Fuzzy candidates fetched per requested match: penalties and de-duplication reorder them.
CANDIDATE_FACTOR = 4


@dataclass(frozen=True)
class LookupMatch:
    """A suggestion: the scored match (penalties listed), and how it was reached.

    `match.target_text` is the suggestion without inline markup, with the query's placeholder
    values put in; `target_segment` is the same with the stored inline-markup placeholders.
    `pivot_language` / `pivot_text` are set for a match made through a third language.
    """

    match: Match
    target_segment: str
    pivot_language: str | None = None
    pivot_text: str | None = None
    placeholder_mismatches: tuple[dict[str, str], ...] = ()
    rank: tuple = field(default=(), compare=False, repr=False)

    @property
    def pivot(self) -> bool:
        return self.pivot_language is not None


@dataclass(frozen=True)
class _Query:
    text: str
    key: SegmentKey
    region_id: int | None  # the asking region
    context_hash: str | None


# What LookupContext.query returns, for callers that keep queries (memory.services.fragments).
LookupQuery = _Query


def lookup(
    session: Session,
    index: TranslationMemoryIndex,
    *,
    text: str,
    source_language: str,
    target_language: str,
    region: str | None = None,
    min_score: float = 50.0,
    limit: int = 5,
    policy: PenaltyPolicy | None = None,
    context_before: str | None = None,
    context_after: str | None = None,
    pivot_languages: Sequence[str] | None = None,
) -> list[LookupMatch]:
    """Best translation-memory matches for one segment, scores 0–100 (101: context match).

    Exact matches by hash, fuzzy by the index; each scored on the normalised placeholder form
    minus penalties (machine-translated, unreviewed, outdated, placeholder mismatch, other
    region, pivot, context mismatch, rejected). Ties: same region, then neighbours, then nearer
    regions. Without a direct match ≥ `min_score`, goes through a pivot language (English
    first, then any language with units both ways) via the same pivot-language text.
    """
    context = LookupContext(
        session,
        index,
        source_language=source_language,
        target_language=target_language,
        region=region,
        min_score=min_score,
        limit=limit,
        policy=policy,
        pivot_languages=pivot_languages,
    )
    query = context.query(text, context_before, context_after)
    if not query.key.form:
        raise InvalidInput("The text has nothing to match.", errors={"text": ["Empty text."]})
    return context.matches(query)


class LookupContext:
    """What every lookup of one language pair for one region shares: checked once."""

    def __init__(
        self,
        session: Session,
        index: TranslationMemoryIndex,
        *,
        source_language: str,
        target_language: str,
        region: str | None = None,
        min_score: float = 50.0,
        limit: int = 5,
        policy: PenaltyPolicy | None = None,
        pivot_languages: Sequence[str] | None = None,
        fuzzy_after_exact: bool = True,
        own_page_id: int | None = None,
        threshold: Literal["score", "match"] = "score",
    ) -> None:
        """`fuzzy_after_exact=False` skips the fuzzy index for a segment with a clean exact
        match (pre-translation of whole pages: that match wins anyway). `own_page_id`: the page
        being translated, whose own published units are its current translation, not a match
        that makes the fuzzy search needless. `threshold`: what `min_score` is compared with,
        the ranking score (default) or the match (a CAT analysis counts by match)."""
        if not 0 <= min_score <= 101:
            raise InvalidInput("min_score is 0–101.", errors={"min_score": ["Between 0 and 101."]})
        self.session = session
        self.index = index
        self.policy = policy or PenaltyPolicy()
        self.min_score = min_score
        self.limit = limit
        self.pivot_languages = pivot_languages
        self.fuzzy_after_exact = fuzzy_after_exact
        self.own_page_id = own_page_id
        self.threshold = threshold
        # Exact candidates by source hash, fetched for many segments at once (prefetch_exact).
        self._exact: dict[str, list[FoundUnit]] = {}
        self._pivots: list[Language] | None = None
        self.source = cached_language(session, source_language, field="source_language")
        self.target = cached_language(session, target_language, field="target_language")
        if self.source.id == self.target.id:
            raise InvalidInput(
                "Source and target language are the same.",
                errors={"target_language": ["Must differ from source_language."]},
            )
        places = region_places(session, region) if region else _NOWHERE
        if region is not None and region not in places.ids:
            get_region(session, region)  # raises NotFound, as for any unknown region
        self.home_id = places.ids[region] if region else None
        index.ensure_fresh(session)
        self.ranker = _RegionRanker(self.home_id, places)

    def query(
        self, text: str, context_before: str | None = None, context_after: str | None = None
    ) -> _Query:
        code = self.source.code
        key = segment_key(text, code)
        context_hash = None
        if context_before is not None or context_after is not None:
            context_hash = context_key(
                segment_key(context_before, code).form if context_before else None,
                segment_key(context_after, code).form if context_after else None,
            )
        return _Query(text, key, self.home_id, context_hash)

    def prefetch_exact(self, queries: Iterable[_Query]) -> None:
        """Fetch the exact candidates of many segments in a few queries instead of one each."""
        hashes = sorted({q.key.hash for q in queries if q.key.form} - set(self._exact))
        for start in range(0, len(hashes), 500):
            chunk = hashes[start : start + 500]
            self._exact.update(_units_by_form(self.session, self.source.id, self.target.id, chunk))

    def exact_units(self, query: _Query) -> list[FoundUnit]:
        """The units whose source is the query's (after `prefetch_exact` of that query)."""
        return self._exact.get(query.key.hash, [])

    def matches(self, query: _Query, *, pivots: bool = True) -> list[LookupMatch]:
        """Ranked matches ≥ min_score, at most `limit`, one per suggested text (through a
        pivot language when no direct match passes, unless `pivots` is false)."""
        args = (self.source, self.target, self.min_score, self.limit, self.policy, self.ranker)
        direct = _direct(
            self.session,
            self.index,
            query,
            *args,
            self.fuzzy_after_exact,
            self._exact.get(query.key.hash),
            self.own_page_id,
            self._passes,
        )
        if pivots and not any(self._passes(m) for m in direct):
            if self._pivots is None:  # the same for every segment of this language pair
                self._pivots = _pivot_languages(
                    self.session, self.index, self.source, self.target, self.pivot_languages
                )
            direct = direct + _pivoted(
                self.session, self.index, query, *args, self.pivot_languages, self._pivots
            )
        results = [m for m in direct if self._passes(m)]
        results.sort(key=lambda m: m.rank)
        return _distinct(results)[: self.limit]

    def _passes(self, found: LookupMatch) -> bool:
        value = found.match.match if self.threshold == "match" else found.match.score
        return value >= self.min_score

    def score_units(self, query: _Query, units: Iterable[AnyUnit]) -> list[LookupMatch]:
        """Score chosen units (e.g. a near-duplicate page's) against a query, ≥ min_score."""
        results = []
        for unit in units:
            if unit.source_hash == query.key.hash:
                base = 100.0
            else:
                base = similarity(query.key.form, unit.source_form)
                if base < self.min_score:
                    continue
            stored_values = stored_placeholder_values(unit)
            segment, mismatches = transfer_placeholders(
                stored_values, unit.target_text, query.key.values, self.target.code
            )
            results.append(
                _scored(
                    unit,
                    base,
                    segment,
                    mismatches,
                    query,
                    self.policy,
                    self.ranker,
                    self.source,
                    self.target,
                )
            )
        results = [m for m in results if m.match.score >= self.min_score]
        results.sort(key=lambda m: m.rank)
        return results

    def score_as(self, query: _Query, unit: AnyUnit, base: float) -> LookupMatch:
        """Score one unit against a query at a given base similarity (0–99; e.g. by meaning),
        with the query's placeholder values put in and the usual penalties."""
        stored_values = stored_placeholder_values(unit)
        segment, mismatches = transfer_placeholders(
            stored_values, unit.target_text, query.key.values, self.target.code
        )
        # Meaning, not wording, matched: the neighbouring segments say nothing about context.
        plain_query = replace(query, context_hash=None)
        return _scored(
            unit,
            min(base, 99.0),
            segment,
            mismatches,
            plain_query,
            self.policy,
            self.ranker,
            self.source,
            self.target,
        )


def _units_by_form(
    session: Session, source_id: int, target_id: int, hashes: Sequence[str]
) -> dict[str, list[FoundUnit]]:
    """`units_of_forms` grouped by source hash, each of `hashes` present (empty: no units)."""
    grouped: dict[str, list[FoundUnit]] = {source_hash: [] for source_hash in hashes}
    for unit in units_of_forms(session, source_id, target_id, hashes):
        grouped[unit.source_hash].append(unit)
    return grouped


def _distinct(matches: list[LookupMatch]) -> list[LookupMatch]:
    """One match per suggested text (the best-ranked)."""
    seen: set[str] = set()
    kept = []
    for match in matches:
        text = match.match.target_text
        if text not in seen:
            seen.add(text)
            kept.append(match)
    return kept


def _candidates(
    session: Session,
    index: TranslationMemoryIndex,
    form: str,
    form_hash: str,
    source: Language,
    target: Language,
    min_score: float,
    limit: int,
    fuzzy_after_exact: bool = True,
    exact_units: Sequence[AnyUnit] | None = None,
    own_page_id: int | None = None,
) -> list[tuple[AnyUnit, float]]:
    if exact_units is None and fuzzy_after_exact:
        # One statement for the exact units and those of the fuzzy matches (a lookup's path).
        fuzzy = index.search(source.id, target.id, form, limit * CANDIDATE_FACTOR + 5, min_score)
        scores = {key: score for key, score in fuzzy if key != form_hash}
        units = units_of_forms(session, source.id, target.id, [form_hash, *scores])
        exact_first = sorted(units, key=lambda unit: unit.source_hash != form_hash)
        return [
            (unit, 100.0 if unit.source_hash == form_hash else scores[unit.source_hash])
            for unit in exact_first
        ]
    exact: Sequence[AnyUnit] = (
        units_of_forms(session, source.id, target.id, [form_hash])
        if exact_units is None
        else exact_units
    )
    found: dict[int, tuple[AnyUnit, float]] = {unit.id: (unit, 100.0) for unit in exact}
    if not fuzzy_after_exact and any(
        _clean(unit) and not own_unit(unit, own_page_id) for unit in exact
    ):
        # A clean exact unit (human or reviewed, current, never rejected) outranks every fuzzy
        # one; a flawed exact match may not, so the fuzzy index is still asked then.
        return list(found.values())
    fuzzy = index.search(source.id, target.id, form, limit * CANDIDATE_FACTOR + 5, min_score)
    scores = {key: score for key, score in fuzzy if key != form_hash}
    for unit in units_of_forms(session, source.id, target.id, list(scores)):
        if unit.id not in found:
            found[unit.id] = (unit, scores[unit.source_hash])
    return list(found.values())


def stored_placeholder_values(unit: AnyUnit) -> tuple[Placeholder, ...]:
    """The local values (numbers, phones, dates …) in a unit's source, to be replaced by the
    query's. Its stored form holds a `{KIND}` token for each value found, so a form without a
    brace has none and its text is not read again (most sentences: 0.1 ms a lookup of ≈25
    candidates)."""
    if "{" not in unit.source_form:
        return ()
    return extract_placeholders(strip_markup(unit.source_text)).values


def own_unit(unit: AnyUnit, page_id: int | None) -> bool:
    """A unit of the page's own published translation (not a review decision, not an import)."""
    return page_id is not None and unit.page_id == page_id and unit.import_batch is None


def _clean(unit: AnyUnit) -> bool:
    machine = unit.origin == Origin.MACHINE and not unit.reviewed
    return not machine and not unit.outdated and not unit.rejections


def _direct(
    session: Session,
    index: TranslationMemoryIndex,
    query: _Query,
    source: Language,
    target: Language,
    min_score: float,
    limit: int,
    policy: PenaltyPolicy,
    ranker: _RegionRanker,
    fuzzy_after_exact: bool = True,
    exact_units: Sequence[AnyUnit] | None = None,
    own_page_id: int | None = None,
    passes: Callable[[LookupMatch], bool] | None = None,
) -> list[LookupMatch]:
    """The candidates scored, the highest possible score first. With `passes` (what the caller
    keeps), scoring stops once `limit` kept matches of distinct texts score above what any
    later candidate could: its match minus the penalties its unit's flags already tell (a
    placeholder mismatch, found by scoring, only takes more off), so none of the rest could
    rank among them."""
    candidates = _candidates(
        session,
        index,
        query.key.form,
        query.key.hash,
        source,
        target,
        min_score,
        limit,
        fuzzy_after_exact,
        exact_units,
        own_page_id,
    )
    bounded = sorted(
        ((_highest_score(unit, base, query, policy), unit, base) for unit, base in candidates),
        key=lambda found: -found[0],
    )
    results = []
    kept: dict[str, float] = {}  # the best kept score of each suggested text
    for highest, unit, base in bounded:
        if len(kept) >= limit and heapq.nlargest(limit, kept.values())[-1] > highest:
            break
        stored_values = stored_placeholder_values(unit)
        segment, mismatches = transfer_placeholders(
            stored_values, unit.target_text, query.key.values, target.code
        )
        found = _scored(unit, base, segment, mismatches, query, policy, ranker, source, target)
        results.append(found)
        if passes is not None and passes(found):
            text = found.match.target_text
            kept[text] = max(kept.get(text, found.match.score), found.match.score)
    return results


def _highest_score(unit: AnyUnit, base: float, query: _Query, policy: PenaltyPolicy) -> float:
    """The score `_scored` gives this candidate if all its placeholders transfer: an upper
    bound, found without transferring them."""
    neighbours_match = query.context_hash is not None and unit.context_hash == query.context_hash
    kind = classify_match(base, neighbours_match)
    flags = _flags(unit, query, 0, pivot=False)
    return apply_penalties(CONTEXT_SCORE if kind == "context" else base, flags, policy, kind)[0]


def approved(unit: AnyUnit) -> bool:
    """A region's published human translation: a page unit (units come from public versions
    only) that no machine made. Approved content, not "unreviewed"."""
    return unit.import_batch is None and unit.page_id is not None and unit.origin != Origin.MACHINE


def trust_status(unit: AnyUnit) -> str:
    """What is known of a unit's translation: reviewed, approved (a region published it),
    unreviewed (a human translation of unknown standing, e.g. from TMX) or machine."""
    if unit.reviewed:
        return "reviewed"
    if unit.origin == Origin.MACHINE:
        return "machine"
    return "approved" if approved(unit) else "unreviewed"


def _flags(unit: AnyUnit, query: _Query, mismatches: int, *, pivot: bool) -> MatchFlags:
    machine = unit.origin == Origin.MACHINE and not unit.reviewed
    return MatchFlags(
        machine_translated=machine,
        unreviewed=not unit.reviewed and not machine and not approved(unit),
        reviewed=unit.reviewed,
        outdated=unit.outdated,
        placeholder_mismatches=mismatches,
        other_region=query.region_id is not None and unit.region_id != query.region_id,
        pivot=pivot,
        context_mismatch=query.context_hash is not None and unit.context_hash != query.context_hash,
        rejections=unit.rejections or 0,
    )


def _scored(
    unit: AnyUnit,
    base: float,
    segment: str,
    mismatches: Sequence[Any],
    query: _Query,
    policy: PenaltyPolicy,
    ranker: _RegionRanker,
    source: Language,
    target: Language,
) -> LookupMatch:
    flags = _flags(unit, query, len(mismatches), pivot=False)
    neighbours_match = query.context_hash is not None and unit.context_hash == query.context_hash
    if base >= 100.0 and unit.source_hash != query.key.hash:
        base = 99.0  # equal forms by the index but not by hash cannot happen; stay honest
    match = score_match(
        unit.id,
        unit.source_text,
        strip_markup(segment),
        base,
        flags,
        policy,
        neighbours_match=neighbours_match,
        origin=_origin(unit, source, target),
    )
    return LookupMatch(
        match=match,
        target_segment=segment,
        placeholder_mismatches=tuple(
            {"kind": m.kind, "reason": m.reason, "value": m.value} for m in mismatches
        ),
        rank=(-match.score, *_trust_rank(match), *ranker.rank(unit.region_id), unit.id),
    )


def _trust_rank(match: Match) -> tuple[float, int]:
    """At equal score the more trusted first: higher trust, then reviewed before approved
    (a translator's decision before the published page), unreviewed, machine."""
    trust = match.trust
    return (-trust.score, TRUST_STATUSES.index(trust.status))


def _pivot_languages(
    session: Session,
    index: TranslationMemoryIndex,
    source: Language,
    target: Language,
    preferred: Sequence[str] | None,
) -> list[Language]:
    """English (or `preferred`) first, then any language with units source→P and P→target.

    The language pairs come from the in-process index (a DISTINCT over the unit table is a full
    scan: 200 ms at 100 000 units on PostgreSQL).
    """
    order = list(preferred or (DEFAULT_PIVOT_LANGUAGE,))
    if index.ready:
        pairs = index.language_pairs()
        from_source = {t for s, t in pairs if s == source.id}
        to_target = {s for s, t in pairs if t == target.id}
        usable = (from_source & to_target) - {source.id, target.id}
    else:
        # Warming up (no index yet): only the preferred pivots, each leg checked by one
        # indexed EXISTS each.
        usable = {
            language.id
            for language in session.scalars(select(Language).where(Language.code.in_(order)))
            if language.id not in (source.id, target.id)
            and _has_units(session, source.id, language.id)
            and _has_units(session, language.id, target.id)
        }
    if not usable:
        return []
    languages = {
        language.id: language
        for language in session.scalars(select(Language).where(Language.id.in_(usable)))
    }
    return sorted(
        languages.values(),
        key=lambda lang: (order.index(lang.code) if lang.code in order else len(order), lang.code),
    )


def _has_units(session: Session, source_id: int, target_id: int) -> bool:
    return (
        session.scalar(
            select(TranslationUnit.id)
            .where(
                TranslationUnit.source_language_id == source_id,
                TranslationUnit.target_language_id == target_id,
            )
            .limit(1)
        )
        is not None
    )


def _pivoted(
    session: Session,
    index: TranslationMemoryIndex,
    query: _Query,
    source: Language,
    target: Language,
    min_score: float,
    limit: int,
    policy: PenaltyPolicy,
    ranker: _RegionRanker,
    preferred: Sequence[str] | None,
    pivots: Sequence[Language] | None = None,
) -> list[LookupMatch]:
    if pivots is None:
        pivots = _pivot_languages(session, index, source, target, preferred)
    results: list[LookupMatch] = []
    for pivot in pivots:
        first_legs = _candidates(
            session, index, query.key.form, query.key.hash, source, pivot, min_score, limit
        )
        # The second legs of every first leg in one statement: the units of their targets.
        second_legs = _units_by_form(
            session, pivot.id, target.id, [first.target_hash for first, _ in first_legs]
        )
        for first, base in first_legs:
            for second in second_legs[first.target_hash]:
                results.append(
                    _pivot_match(first, second, base, query, policy, ranker, source, pivot, target)
                )
        if any(m.match.score >= min_score for m in results):
            break
    return results


def _pivot_match(
    first: AnyUnit,
    second: AnyUnit,
    base: float,
    query: _Query,
    policy: PenaltyPolicy,
    ranker: _RegionRanker,
    source: Language,
    pivot: Language,
    target: Language,
) -> LookupMatch:
    stored_values = stored_placeholder_values(first)
    segment, mismatches = transfer_placeholders(
        stored_values, second.target_text, query.key.values, target.code
    )
    one = _flags(first, query, len(mismatches), pivot=True)
    two = _flags(second, query, 0, pivot=True)
    flags = MatchFlags(
        machine_translated=one.machine_translated or two.machine_translated,
        unreviewed=(one.unreviewed or two.unreviewed)
        and not (one.machine_translated or two.machine_translated),
        reviewed=one.reviewed and two.reviewed,
        outdated=one.outdated or two.outdated,
        placeholder_mismatches=len(mismatches),
        other_region=one.other_region,
        pivot=True,
        context_mismatch=one.context_mismatch,
        rejections=one.rejections + two.rejections,
    )
    neighbours_match = query.context_hash is not None and first.context_hash == query.context_hash
    origin = _origin(second, pivot, target)
    origin["pivot"] = {
        "language": pivot.code,
        "text": strip_markup(first.target_text),
        "first_leg": _origin(first, source, pivot),
    }
    match = score_match(
        second.id,
        first.source_text,
        strip_markup(segment),
        base,
        flags,
        policy,
        neighbours_match=neighbours_match,
        origin=origin,
    )
    return LookupMatch(
        match=match,
        target_segment=segment,
        pivot_language=pivot.code,
        pivot_text=strip_markup(first.target_text),
        placeholder_mismatches=tuple(
            {"kind": m.kind, "reason": m.reason, "value": m.value} for m in mismatches
        ),
        rank=(
            -match.score,
            *_trust_rank(match),
            *ranker.rank(first.region_id),
            first.id,
            second.id,
        ),
    )


def _origin(unit: AnyUnit, source: Language, target: Language) -> dict[str, Any]:
    """Where a unit came from, as shown next to a suggestion."""
    return {
        "region": unit.region.slug if unit.region else None,
        "region_name": unit.region.name if unit.region else None,
        "page": unit.page.external_id if unit.page else None,
        "url": unit.url or None,
        "source_language": source.code,
        "target_language": target.code,
        "version": unit.target_version,
        "source_version": unit.source_version,
        "date": unit.translated_at.isoformat() if unit.translated_at else None,
        "origin": unit.origin.value,
        "reviewed": unit.reviewed,
        "outdated": unit.outdated,
        "license": unit.license or None,
        "attribution": unit.attribution or None,
        "import_batch": unit.import_batch,
    }


_NOWHERE = RegionPlaces(ids={}, neighbours={}, coordinates={})


class _RegionRanker:
    """Tie-break at equal score: same region, then neighbours, then other regions by distance."""

    def __init__(self, home_id: int | None, places: RegionPlaces) -> None:
        self.home_id = home_id
        self.neighbours = places.neighbours.get(home_id, frozenset()) if home_id else frozenset()
        self._coordinates = places.coordinates

    def rank(self, region_id: int | None) -> tuple[int, float]:
        if self.home_id is None or region_id == self.home_id:
            return (0, 0.0)
        group = 1 if region_id in self.neighbours else 2
        return (group, self._distance(region_id))

    def _distance(self, region_id: int | None) -> float:
        here = self._coordinates.get(self.home_id, (None, None)) if self.home_id else (None, None)
        there = self._coordinates.get(region_id, (None, None)) if region_id else (None, None)
        if None in here or None in there:
            return math.inf
        lat1, lon1, lat2, lon2 = map(math.radians, (*here, *there))  # type: ignore[arg-type]
        # Haversine, kilometres.
        a = (
            math.sin((lat2 - lat1) / 2) ** 2
            + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
        )
        return 12_742.0 * math.asin(math.sqrt(a))
