"""Translation memory: units built from public page translations, fuzzy lookup, concordance.

Units (memory.tm_models.TranslationUnit) are aligned segment pairs of the latest *public*
source and target translation of a page, one set per language pair of the region's language
tree (Arabic from English where the region translates so, else from the page's source
language). `refresh_units` rebuilds a page's units idempotently after new versions arrive.

Lookup matches on the normalised placeholder form of a segment: inline markup stripped, local
specifics (phone numbers, dates, amounts …) as typed `{KIND}` tokens (matchers.placeholders),
normalised (matchers.normalise). Exact matches come from the database by hash; fuzzy ones from
an in-process `TranslationMemoryIndex` (matchers.fuzzy_index), rescored exactly and penalised
(matchers.scoring). The query's own values are put into the suggested translation.
"""

from __future__ import annotations

import hashlib
import logging
import math
import re
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from matchers.form_index import FrozenFormIndex
from matchers.fuzzy_index import FuzzyIndex
from matchers.normalise import normalise_for_matching
from matchers.placeholders import Placeholder, extract_placeholders, transfer_placeholders
from matchers.scoring import (
    TRUST_STATUSES,
    Match,
    MatchFlags,
    PenaltyPolicy,
    score_match,
    similarity,
)
from memory.alignment import Embed, align_segments
from memory.errors import InvalidInput
from memory.models import (
    Language,
    Origin,
    Page,
    PageTranslation,
    Region,
    ReviewStatus,
    TranslationStatus,
    utcnow,
)
from memory.segmentation import PLACEHOLDER_RE, segment_html
from memory.services.pages import (
    _current_source_hashes,
    is_outdated,
    latest_public_by_language,
    translation_source_language,
)
from memory.services.regions import (
    RegionPlaces,
    cached_language,
    get_language,
    get_region,
    region_places,
)
from memory.snapshot_folder import SnapshotRequests
from memory.tm_models import (
    TmDeferredRevision,
    TmRevision,
    TranslationUnit,
    TranslationUnitDeletion,
)
from memory.tm_snapshot import (
    IndexSnapshot,
    SnapshotManifest,
    current_name,
    open_snapshot,
    read_manifest,
    write_snapshot,
)

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_PIVOT_LANGUAGE",
    "FUZZY_READY",
    "FUZZY_WARMING_UP",
    "LookupContext",
    "LookupMatch",
    "RefreshReport",
    "SegmentKey",
    "TranslationMemoryIndex",
    "concordance",
    "lookup",
    "publish_revision",
    "refresh_all_units",
    "refresh_units",
    "rekey_units",
    "reserve_revision",
    "add_reviewed_unit",
    "build_frozen_indexes",
    "build_index_snapshot",
    "index_from",
    "segment_key",
    "trust_status",
    "unit_key",
    "units_written_since",
]

DEFAULT_PIVOT_LANGUAGE = "en"
DEFAULT_REFRESH_SECONDS = 2.0
# Units written since the snapshot (or forms in the delta) beyond which a process asks for a
# new snapshot instead of catching up itself.
DEFAULT_DELTA_LIMIT = 50_000
# A delta of more than this many forms and this share of the snapshot's asks for a new one:
# the bulk of the index stays shared between processes.
DELTA_REBUILD_MINIMUM = 1_000
DELTA_REBUILD_SHARE = 0.1
# A process without a usable snapshot asks for one at most this often.
SNAPSHOT_REQUEST_INTERVAL_S = 30.0
FUZZY_READY = "ready"
FUZZY_WARMING_UP = "warming_up"
# Fuzzy candidates fetched per requested match: penalties and de-duplication reorder them.
CANDIDATE_FACTOR = 4
MAX_EXACT_CANDIDATES = 50
_SPACES = re.compile(r"\s+")


# --------------------------------------------------------------------------- keys and forms


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


# --------------------------------------------------------------------------- revisions


def next_revision(session: Session) -> int:
    """Bump the TM change counter inside the caller's transaction and return the new value.

    The row stays locked until the transaction ends (PostgreSQL; SQLite serialises all writers),
    so revisions become visible to readers in order. Only short writes may hold it: a long one
    (a TMX import) takes `reserve_revision` / `publish_revision` instead, so that no other
    writer waits for it.
    """
    bumped = session.execute(
        update(TmRevision).where(TmRevision.id == 1).values(revision=TmRevision.revision + 1)
    )
    if getattr(bumped, "rowcount", 0) == 0:
        session.add(TmRevision(id=1, revision=1, epoch=0, memory_id=uuid.uuid4().hex))
        session.flush()
    return int(session.scalar(select(TmRevision.revision).where(TmRevision.id == 1)) or 0)


def reserve_revision(session: Session) -> int:
    """Take a revision for a long write in a short transaction of its own, and commit it.

    The long write stamps its rows with it while holding no lock on the counter; readers that
    pass this revision before the write commits find none of its rows (not committed yet) and
    learn of them from `publish_revision`.
    """
    revision = next_revision(session)
    session.commit()
    return revision


def publish_revision(session: Session, reserved: int) -> int:
    """Make the rows a long write stamped `reserved` visible to readers: call it inside that
    write's transaction just before it commits. Bumps the counter (the lock is held only until
    the commit) and records that rows of `reserved` appeared at the new revision."""
    revision = next_revision(session)
    session.add(TmDeferredRevision(revision=reserved, published=revision))
    session.flush()
    return revision


def units_written_since(revision: int) -> ColumnElement[bool]:
    """Condition on `TranslationUnit`: written by a transaction a reader at `revision` has not
    seen — a later revision, or a long write's reserved one published after it."""
    published_late = select(TmDeferredRevision.revision).where(
        TmDeferredRevision.published > revision, TmDeferredRevision.revision <= revision
    )
    return or_(TranslationUnit.revision > revision, TranslationUnit.revision.in_(published_late))


def current_revision(session: Session) -> tuple[int, int]:
    """(revision, epoch) of the translation memory; (0, 0) before the first write."""
    row = session.execute(
        select(TmRevision.revision, TmRevision.epoch).where(TmRevision.id == 1)
    ).first()
    return (int(row.revision), int(row.epoch)) if row else (0, 0)


def memory_id(session: Session) -> str | None:
    """The random id of this database's memory (None before the first write)."""
    return session.scalar(select(TmRevision.memory_id).where(TmRevision.id == 1))


def bump_epoch(session: Session) -> int:
    """Make every process rebuild its index from scratch at its next freshness check."""
    next_revision(session)
    session.execute(update(TmRevision).where(TmRevision.id == 1).values(epoch=TmRevision.epoch + 1))
    session.commit()
    return current_revision(session)[1]


class _Revision:
    """Takes a revision number on the first write only, so a no-op refresh bumps nothing."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.value: int | None = None

    def __call__(self) -> int:
        if self.value is None:
            self.value = next_revision(self.session)
        return self.value


# --------------------------------------------------------------------------- refresh


@dataclass
class RefreshReport:
    """What `refresh_units` did: pages looked at, units created/updated/deleted/unchanged."""

    pages: int = 0
    language_pairs: int = 0
    created: int = 0
    updated: int = 0
    deleted: int = 0
    unchanged: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "pages": self.pages,
            "language_pairs": self.language_pairs,
            "created": self.created,
            "updated": self.updated,
            "deleted": self.deleted,
            "unchanged": self.unchanged,
            "seconds": round(self.seconds, 3),
        }

    def add(self, other: RefreshReport) -> None:
        for name in ("pages", "language_pairs", "created", "updated", "deleted", "unchanged"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


# Fields compared on an existing unit to decide whether it changed.
_MUTABLE_FIELDS = (
    "source_text",
    "target_text",
    "context_hash",
    "position",
    "source_translation_id",
    "target_translation_id",
    "source_version",
    "target_version",
    "origin",
    "reviewed",
    "outdated",
    "license",
    "attribution",
    "url",
    "translated_at",
)


def refresh_units(
    session: Session, translation_ids: Sequence[int], *, embed: Embed | None = None
) -> RefreshReport:
    """Rebuild the units of the pages these page translations belong to, and commit.

    `embed` (plain sentence texts → L2-normalised vectors of a multilingual model) aligns the
    pages whose block structure does not decide by meaning; without it, by length.

    For every language pair of each page (the region's language tree, else page source →
    language) the latest public source and target versions are segmented and aligned; units
    are upserted by key, units that no longer exist are deleted, units of outdated
    translations are marked outdated. Drafts never give units. Idempotent: a second call with
    nothing changed writes nothing.
    """
    started = time.perf_counter()
    report = RefreshReport()
    if not translation_ids:
        return report
    page_ids = sorted(
        set(
            session.scalars(
                select(PageTranslation.page_id).where(PageTranslation.id.in_(list(translation_ids)))
            )
        )
    )
    revision = _Revision(session)
    for chunk_start in range(0, len(page_ids), 200):
        chunk = page_ids[chunk_start : chunk_start + 200]
        pages = session.scalars(
            select(Page)
            .where(Page.id.in_(chunk))
            .options(selectinload(Page.translations), selectinload(Page.region))
        ).all()
        hashes = _current_source_hashes(session, chunk)
        for page in pages:
            report.add(_refresh_page(session, page, hashes, revision, embed))
    session.commit()
    report.seconds = time.perf_counter() - started
    return report


def refresh_all_units(
    session: Session,
    *,
    region_slug: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    chunk_size: int = 50,
    embed: Embed | None = None,
) -> RefreshReport:
    """`refresh_units` over every page with a public translation (of one region), in chunks."""
    # One public translation per page is enough: refresh_units works page by page.
    query = select(func.min(PageTranslation.id)).where(
        PageTranslation.status == TranslationStatus.PUBLIC
    )
    if region_slug is not None:
        region = get_region(session, region_slug)
        query = query.join(Page).where(Page.region_id == region.id)
    representatives = list(
        session.scalars(query.group_by(PageTranslation.page_id).order_by(PageTranslation.page_id))
    )
    total = len(representatives)
    report = RefreshReport()
    started = time.perf_counter()
    for start in range(0, total, chunk_size):
        report.add(refresh_units(session, representatives[start : start + chunk_size], embed=embed))
        if progress is not None:
            progress(min(start + chunk_size, total), total)
    report.seconds = time.perf_counter() - started
    return report


def rekey_units(session: Session, *, region_slug: str | None = None) -> int:
    """Recompute matching forms, hashes and keys of units not built from pages (TMX imports,
    reviewed units), after an upgrade changed how forms are computed. Returns units changed.

    Page units are rebuilt by `refresh_all_units`; a unit whose new key another unit already
    has is a duplicate and is deleted.
    """
    query = select(TranslationUnit).where(TranslationUnit.import_batch.is_not(None))
    if region_slug is not None:
        query = query.where(TranslationUnit.region_id == get_region(session, region_slug).id)
    languages = {language.id: language.code for language in session.scalars(select(Language))}
    revision = _Revision(session)
    changed = 0
    duplicates: list[int] = []
    for unit in session.scalars(query.order_by(TranslationUnit.id)).all():
        source_key = segment_key(unit.source_text, languages[unit.source_language_id])
        target_key = segment_key(unit.target_text, languages[unit.target_language_id])
        key = unit_key(
            unit.source_text,
            unit.target_text,
            unit.source_language_id,
            unit.target_language_id,
            unit.region_id,
            unit.page_id,
        )
        if unit.import_batch == REVIEW_BATCH:
            key = _sha256(REVIEW_BATCH, key)
        if (unit.source_form, unit.target_form, unit.unit_key) == (
            source_key.form,
            target_key.form,
            key,
        ):
            continue
        taken = session.scalar(
            select(TranslationUnit.id).where(
                TranslationUnit.unit_key == key, TranslationUnit.id != unit.id
            )
        )
        if taken is not None:
            duplicates.append(unit.id)
            continue
        unit.source_form, unit.source_hash = source_key.form, source_key.hash
        unit.target_form, unit.target_hash = target_key.form, target_key.hash
        unit.unit_key = key
        unit.revision = revision()
        changed += 1
        session.flush()
    if duplicates:
        _delete_units(session, duplicates, revision())
    session.commit()
    return changed + len(duplicates)


def _language_pairs(region: Region, page: Page, languages: Iterable[Language]) -> set[tuple]:
    """(source language, target language) pairs a page's translations are made in."""
    pairs = set()
    for language in languages:
        source = translation_source_language(region, page, language)
        if source is not None and source.id != language.id:
            pairs.add((source, language))
    return pairs


def _made_from(
    page: Page, target: PageTranslation, source_language: Language
) -> PageTranslation | None:
    """The source version `target` was translated from, when it is still stored."""
    if target.source_version is None:
        return None
    for translation in page.translations:
        if (
            translation.language_id == source_language.id
            and translation.version == target.source_version
            and translation.status == TranslationStatus.PUBLIC
            and (
                target.source_content_hash is None
                or translation.content_hash == target.source_content_hash
            )
        ):
            return translation
    return None


@dataclass(frozen=True)
class _NewUnit:
    key: str
    values: dict[str, Any]


def _refresh_page(
    session: Session,
    page: Page,
    hashes: Mapping[tuple[int, int], str],
    revision: Callable[[], int],
    embed: Embed | None = None,
) -> RefreshReport:
    report = RefreshReport(pages=1)
    region = page.region
    latest = latest_public_by_language(page)
    existing = {
        unit.unit_key: unit
        for unit in session.scalars(
            select(TranslationUnit).where(
                TranslationUnit.page_id == page.id,
                # Reviewed units written by translators' decisions belong to no page version.
                TranslationUnit.import_batch.is_(None),
            )
        )
    }
    wanted: dict[str, _NewUnit] = {}
    pairs = _language_pairs(region, page, (t.language for t in latest.values()))
    for source_language, target_language in sorted(pairs, key=lambda p: (p[0].code, p[1].code)):
        source = latest.get(source_language.id)
        target = latest.get(target_language.id)
        if source is None or target is None:
            continue
        report.language_pairs += 1
        outdated = is_outdated(target, source_language, hashes)
        if outdated:
            # Pair the translation with the source text it was made from: the current source
            # has sentences the translation does not translate.
            source = _made_from(page, target, source_language) or source
        for new in _units_of_pair(region, page, source, target, outdated, embed):
            wanted.setdefault(new.key, new)

    for key, new in wanted.items():
        unit = existing.get(key)
        if unit is None:
            session.add(TranslationUnit(unit_key=key, revision=revision(), **new.values))
            report.created += 1
            continue
        changed = {
            name: new.values[name]
            for name in _MUTABLE_FIELDS
            if not _same(getattr(unit, name), new.values[name])
        }
        if changed:
            for name, value in changed.items():
                setattr(unit, name, value)
            unit.revision = revision()
            unit.updated_at = utcnow()
            report.updated += 1
        else:
            report.unchanged += 1
    gone = [unit.id for key, unit in existing.items() if key not in wanted]
    if gone:
        _delete_units(session, gone, revision())
        report.deleted += len(gone)
    session.flush()
    return report


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, datetime) and isinstance(new, datetime):
        # SQLite hands datetimes back naive; compare as UTC wall times.
        return old.replace(tzinfo=None) == new.replace(tzinfo=None)
    return old == new


def _delete_units(session: Session, unit_ids: Sequence[int], revision: int) -> None:
    # The log names each unit's languages and source form: an index of distinct forms counts
    # that form's units again (memory.services.translation_memory.TranslationMemoryIndex).
    logged = []
    for start in range(0, len(unit_ids), 500):
        chunk = unit_ids[start : start + 500]
        logged += [
            {
                "unit_id": row.id,
                "revision": revision,
                "source_language_id": row.source_language_id,
                "target_language_id": row.target_language_id,
                "source_hash": row.source_hash,
            }
            for row in session.execute(
                select(
                    TranslationUnit.id,
                    TranslationUnit.source_language_id,
                    TranslationUnit.target_language_id,
                    TranslationUnit.source_hash,
                ).where(TranslationUnit.id.in_(chunk))
            )
        ]
        session.execute(delete(TranslationUnit).where(TranslationUnit.id.in_(chunk)))
    if logged:
        session.execute(insert(TranslationUnitDeletion), logged)


def _units_of_pair(
    region: Region,
    page: Page,
    source: PageTranslation,
    target: PageTranslation,
    outdated: bool,
    embed: Embed | None = None,
) -> list[_NewUnit]:
    """Aligned units of one source/target translation pair (title first, the meta description,
    then the content)."""
    source_code = source.language.code
    target_code = target.language.code
    pairs: list[tuple[str, str]] = []
    if source.title.strip() and target.title.strip():
        pairs.append((source.title.strip(), target.title.strip()))
    source_meta = " ".join((source.meta_description or "").split())
    target_meta = " ".join((target.meta_description or "").split())
    if source_meta and target_meta:
        # One unit like the title: a meta description is one or two sentences.
        pairs.append((source_meta, target_meta))
    aligned = align_segments(
        segment_html(source.content or "", source_code),
        segment_html(target.content or "", target_code),
        source_code,
        target_code,
        embed=embed,
    )
    pairs.extend((pair.source_text, pair.target_text) for pair in aligned)
    keyed = [
        (source_text, target_text, segment_key(source_text, source_code))
        for source_text, target_text in pairs
    ]
    units = []
    for position, (source_text, target_text, source_key) in enumerate(keyed):
        if not source_key.form or not strip_markup(target_text):
            continue
        target_key = segment_key(target_text, target_code)
        before = keyed[position - 1][2].form if position > 0 else None
        after = keyed[position + 1][2].form if position + 1 < len(keyed) else None
        key = unit_key(
            source_text,
            target_text,
            source.language_id,
            target.language_id,
            region.id,
            page.id,
        )
        units.append(
            _NewUnit(
                key,
                {
                    "source_language_id": source.language_id,
                    "target_language_id": target.language_id,
                    "source_text": source_text,
                    "target_text": target_text,
                    "source_form": source_key.form,
                    "target_form": target_key.form,
                    "source_hash": source_key.hash,
                    "target_hash": target_key.hash,
                    "context_hash": context_key(before, after),
                    "position": position,
                    "region_id": region.id,
                    "page_id": page.id,
                    "source_translation_id": source.id,
                    "target_translation_id": target.id,
                    "source_version": source.version,
                    "target_version": target.version,
                    "origin": target.origin,
                    "reviewed": target.review_status == ReviewStatus.REVIEWED,
                    "outdated": outdated,
                    "license": region.license,
                    "attribution": region.attribution
                    or f"{region.name} — shared under {region.license}",
                    "url": target.url or "",
                    "translated_at": target.last_updated,
                },
            )
        )
    return units


# --------------------------------------------------------------------------- reviewed units

# `import_batch` of units written by review decisions: page refreshes leave them alone.
REVIEW_BATCH = "review"


def add_reviewed_unit(
    session: Session,
    *,
    region: Region,
    page: Page | None,
    source: Language,
    target: Language,
    source_text: str,
    target_text: str,
    origin: Origin,
    license: str,
    attribution: str,
    url: str = "",
) -> TranslationUnit:
    """Store a pair a translator accepted or edited as a reviewed unit of `region`.

    Reviewed units carry no "unreviewed" penalty and rank above unreviewed ones with the same
    text. The same decision twice updates the one unit (and clears earlier rejections).
    """
    source_key = segment_key(source_text, source.code)
    target_key = segment_key(target_text, target.code)
    if not source_key.form or not strip_markup(target_text).strip():
        raise InvalidInput(
            "A reviewed translation needs text on both sides.",
            errors={"text": ["Empty translation."]},
        )
    key = _sha256(
        REVIEW_BATCH,
        unit_key(
            source_text,
            target_text,
            source.id,
            target.id,
            region.id,
            page.id if page else None,
        ),
    )
    revision = next_revision(session)
    unit = session.scalar(select(TranslationUnit).where(TranslationUnit.unit_key == key))
    if unit is None:
        unit = TranslationUnit(
            unit_key=key,
            source_language_id=source.id,
            target_language_id=target.id,
            source_text=source_text,
            target_text=target_text,
            source_form=source_key.form,
            target_form=target_key.form,
            source_hash=source_key.hash,
            target_hash=target_key.hash,
            region_id=region.id,
            page_id=page.id if page else None,
            import_batch=REVIEW_BATCH,
        )
        session.add(unit)
    unit.origin = origin
    unit.reviewed = True
    unit.outdated = False
    unit.rejections = 0
    unit.license = license
    unit.attribution = attribution
    unit.url = url
    unit.translated_at = utcnow()
    unit.revision = revision
    session.flush()
    return unit


# --------------------------------------------------------------------------- the index


class TranslationMemoryIndex:
    """Fuzzy candidates over distinct source forms, per source language, for every target.

    One entry per distinct normalised source form (a German sentence with units in 15 target
    languages is indexed once), with the target languages it has units in; a search asks for
    one target language and returns (source hash, similarity) pairs, and the units come from
    the database by source hash (`ix_translation_unit_lookup`).

    The bulk of the index is frozen (`matchers.form_index.FrozenFormIndex`): mapped from a
    persisted snapshot in `snapshot_dir` (built by a job, `build_index_snapshot`), or — without
    a `snapshot_dir` (tests, benchmarks, a CLI process) — built in memory from the database at
    the first `ensure_fresh`. On top of it a small delta: `ensure_fresh` reads the `tm_revision`
    counter at most every `refresh_seconds`, and for the units written or deleted since the
    revision it holds counts each touched (source language, source hash, target language)
    again in the database — a form that lost its last unit in a language is hidden there (a
    tombstone), a form new to a language goes into a per-pair `FuzzyIndex`. So a write elsewhere
    shows up in fuzzy results after at most `refresh_seconds` (exact matches come from the
    database and are never stale).

    With a `snapshot_dir`, a process never builds the whole index itself: until a snapshot
    exists it answers without fuzzy candidates (`fuzzy_status` "warming_up") and calls
    `request_snapshot` (at most every `SNAPSHOT_REQUEST_INTERVAL_S`); it loads each newer
    snapshot CURRENT names, and asks for a new one when the delta outgrows `delta_limit` or a
    tenth of the snapshot (at least `DELTA_REBUILD_MINIMUM` forms). Thread-safe.
    """

    def __init__(
        self,
        *,
        refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
        snapshot_dir: str | Path | None = None,
        request_snapshot: Callable[[], object] | None = None,
        delta_limit: int = DEFAULT_DELTA_LIMIT,
    ) -> None:
        self.refresh_seconds = refresh_seconds
        self.snapshot_dir = Path(snapshot_dir) if snapshot_dir else None
        self._snapshot_requests = SnapshotRequests(
            request_snapshot, what="fuzzy index", interval_s=SNAPSHOT_REQUEST_INTERVAL_S
        )
        self.delta_limit = delta_limit
        self._lock = threading.RLock()
        self._snapshot: IndexSnapshot | None = None
        self._frozen: dict[int, FrozenFormIndex] | None = None
        self._counts: dict[tuple[int, int, str], int] = {}
        self._dead: dict[tuple[int, int], set[int]] = {}
        self._dead_arrays: dict[tuple[int, int], np.ndarray] = {}
        self._delta: dict[tuple[int, int], FuzzyIndex] = {}
        self._delta_ids: dict[str, int] = {}
        self._delta_keys: list[str] = []
        self._pair_units: dict[tuple[int, int], int] = {}
        self._revision: int | None = None
        self._epoch: int | None = None
        self._checked_at = -math.inf

    @property
    def revision(self) -> int | None:
        """The last revision loaded (None: not built yet)."""
        return self._revision

    @property
    def ready(self) -> bool:
        """Whether fuzzy candidates are available (a snapshot is mapped or the index built)."""
        return self._frozen is not None

    @property
    def fuzzy_status(self) -> str:
        """ "ready", or "warming_up" while no snapshot is there yet (exact matches only)."""
        return FUZZY_READY if self.ready else FUZZY_WARMING_UP

    def mark_stale(self) -> None:
        """Make the next `ensure_fresh` look at the database and the snapshot directory."""
        self._checked_at = -math.inf

    def ensure_fresh(self, session: Session, *, force: bool = False) -> None:
        """Catch up with the database if `refresh_seconds` passed since the last check."""
        now = time.monotonic()
        if not force and now - self._checked_at < self.refresh_seconds:
            return
        with self._lock:
            if not force and now - self._checked_at < self.refresh_seconds:
                return
            revision, epoch = current_revision(session)
            if self.snapshot_dir is None:
                if self._revision is None or epoch != self._epoch or revision < self._revision:
                    self._build_in_memory(session)
                elif revision > self._revision:
                    self._catch_up(session, self._revision, revision)
            else:
                self._follow_snapshots(session, revision, epoch)
            self._checked_at = time.monotonic()

    def rebuild(self, session: Session) -> dict[str, Any]:
        """Build the index from the database now (or map the newest snapshot); returns stats."""
        with self._lock:
            if self.snapshot_dir is None:
                self._build_in_memory(session)
            else:
                self._snapshot = None
                revision, epoch = current_revision(session)
                self._follow_snapshots(session, revision, epoch)
            self._checked_at = time.monotonic()
            return self.stats()

    def search(
        self,
        source_language_id: int,
        target_language_id: int,
        form: str,
        limit: int,
        min_score: float,
    ) -> list[tuple[str, float]]:
        """(source hash, similarity 0–100) of forms with units in the target language, best
        first (ties by hash); empty while warming up."""
        pair = (source_language_id, target_language_id)
        with self._lock:
            results: list[tuple[str, float]] = []
            frozen = (self._frozen or {}).get(source_language_id)
            if frozen is not None:
                results += frozen.search(
                    form, target_language_id, limit, min_score, exclude=self._dead_array(pair)
                )
            delta = self._delta.get(pair)
            if delta is not None and len(delta):
                keys = self._delta_keys
                results += [
                    (keys[key], score) for key, score in delta.search(form, limit, min_score)
                ]
        results.sort(key=lambda found: (-found[1], found[0]))
        return results[:limit]

    def language_pairs(self) -> set[tuple[int, int]]:
        """(source, target) language ids that have units (as of the last refresh)."""
        with self._lock:
            return {pair for pair, units in self._pair_units.items() if units > 0}

    def stats(self) -> dict[str, Any]:
        """Units and forms per language pair, the revision loaded, the snapshot mapped."""
        with self._lock:
            frozen_forms = sum(len(index) for index in (self._frozen or {}).values())
            delta_entries = sum(len(index) for index in self._delta.values())
            return {
                "revision": self._revision,
                "fuzzy": self.fuzzy_status,
                "units": sum(self._pair_units.values()),
                "forms": frozen_forms,
                "delta_entries": delta_entries,
                "snapshot": asdict(self._snapshot.manifest) if self._snapshot else None,
                "snapshot_name": self._snapshot.name if self._snapshot else None,
                "pairs": {f"{s}->{t}": n for (s, t), n in sorted(self._pair_units.items())},
            }

    # ---------------------------------------------------------------- building and following

    def _build_in_memory(self, session: Session) -> None:
        indexes, revision, epoch = build_frozen_indexes(session)
        self._install(indexes, revision, epoch)

    def _follow_snapshots(self, session: Session, revision: int, epoch: int) -> None:
        assert self.snapshot_dir is not None
        if self._revision is not None and revision < self._revision:
            self._reset()  # the database went back (restored): nothing loaded still holds
        self._load_newer_snapshot(session, revision)
        if self._snapshot is None:
            self._ask_for_snapshot("no snapshot yet")
            # A synchronous build (a CLI command, tests) is there now.
            self._load_newer_snapshot(session, revision)
            if self._snapshot is None:
                return
            revision, epoch = current_revision(session)
        if self._snapshot.manifest.epoch != epoch:
            self._ask_for_snapshot("the memory was rebuilt (epoch changed)")
        seen = self._revision or 0
        if revision > seen:
            pending = _written_count(session, seen)
            if pending > self.delta_limit:
                # Catching up would build most of an index on a request path: a job does it.
                self._ask_for_snapshot(f"{pending} units written since the snapshot")
                return
            self._catch_up(session, seen, revision)
        delta = self._delta_units()
        frozen = sum(len(index) for index in (self._frozen or {}).values())
        if delta > self.delta_limit or (
            delta > DELTA_REBUILD_MINIMUM and delta > DELTA_REBUILD_SHARE * frozen
        ):
            self._ask_for_snapshot(f"the delta holds {delta} entries, the snapshot {frozen} forms")

    def _load_newer_snapshot(self, session: Session, revision: int) -> None:
        assert self.snapshot_dir is not None
        name = current_name(self.snapshot_dir)
        if name is None or (self._snapshot is not None and self._snapshot.name == name):
            return
        manifest = read_manifest(self.snapshot_dir, name)
        if manifest is None or manifest.revision > revision:
            return  # gone meanwhile, or not of this database's history
        if manifest.memory_id != memory_id(session):
            log.warning("snapshot %s is of another memory (database); not used", name)
            return
        opened = open_snapshot(self.snapshot_dir, name)
        if opened is None:
            return
        started = time.perf_counter()
        self._install(opened.indexes, manifest.revision, manifest.epoch)
        self._snapshot = opened
        log.info(
            "fuzzy index snapshot %s mapped in %.2f s: %d forms, %d units, revision %d",
            name,
            time.perf_counter() - started,
            manifest.forms,
            manifest.units,
            manifest.revision,
        )

    def _ask_for_snapshot(self, why: str) -> None:
        self._snapshot_requests.ask(why)

    def _reset(self) -> None:
        self._snapshot = None
        self._frozen = None
        self._counts, self._dead, self._dead_arrays, self._delta = {}, {}, {}, {}
        self._delta_ids, self._delta_keys, self._pair_units = {}, [], {}
        self._revision = self._epoch = None

    def _install(self, indexes: dict[int, FrozenFormIndex], revision: int, epoch: int) -> None:
        self._reset()
        self._frozen = indexes
        for source_id, index in indexes.items():
            for target_id, units in index.target_units().items():
                self._pair_units[(source_id, target_id)] = units
        self._revision, self._epoch = revision, epoch

    def _catch_up(self, session: Session, seen: int, revision: int) -> None:
        """Count again the forms of units written or deleted after `seen`."""
        touched: dict[tuple[int, int], dict[str, str | None]] = defaultdict(dict)
        for gone in session.execute(
            select(
                TranslationUnitDeletion.source_language_id,
                TranslationUnitDeletion.target_language_id,
                TranslationUnitDeletion.source_hash,
            ).where(
                TranslationUnitDeletion.revision > seen,
                TranslationUnitDeletion.source_hash.is_not(None),
            )
        ):
            if gone.source_language_id is None or gone.target_language_id is None:
                continue
            touched[(gone.source_language_id, gone.target_language_id)].setdefault(
                str(gone.source_hash), None
            )
        for row in session.execute(
            select(
                TranslationUnit.source_language_id,
                TranslationUnit.target_language_id,
                TranslationUnit.source_hash,
                TranslationUnit.source_form,
            )
            .where(units_written_since(seen))
            .execution_options(yield_per=10_000)
        ):
            touched[(row.source_language_id, row.target_language_id)][row.source_hash] = (
                row.source_form
            )
        for (source_id, target_id), forms in touched.items():
            hashes = sorted(forms)
            for start in range(0, len(hashes), 500):
                chunk = hashes[start : start + 500]
                counted = {
                    row.source_hash: (int(row.units), row.form)
                    for row in session.execute(
                        select(
                            TranslationUnit.source_hash,
                            func.count().label("units"),
                            func.min(TranslationUnit.source_form).label("form"),
                        )
                        .where(
                            TranslationUnit.source_language_id == source_id,
                            TranslationUnit.target_language_id == target_id,
                            TranslationUnit.source_hash.in_(chunk),
                        )
                        .group_by(TranslationUnit.source_hash)
                    )
                }
                for key in chunk:
                    units, form = counted.get(key, (0, forms[key]))
                    self._set_units(source_id, target_id, key, form, units)
        self._revision = revision

    def _set_units(
        self, source_id: int, target_id: int, key: str, form: str | None, units: int
    ) -> None:
        """Record that form `key` has `units` units in (source_id, target_id) now."""
        frozen = (self._frozen or {}).get(source_id)
        slot = frozen.slot_of(key) if frozen is not None else None
        base = frozen.units(slot, target_id) if frozen is not None and slot is not None else 0
        pair = (source_id, target_id)
        previous = self._counts.get((source_id, target_id, key), base)
        self._counts[(source_id, target_id, key)] = units
        self._pair_units[pair] = self._pair_units.get(pair, 0) + units - previous
        if base > 0:
            assert slot is not None
            dead = self._dead.setdefault(pair, set())
            if units == 0:
                dead.add(slot)
            else:
                dead.discard(slot)
            self._dead_arrays.pop(pair, None)
            return
        delta_id = self._delta_ids.get(key)
        if delta_id is None:
            if units == 0 or form is None:
                return
            delta_id = self._delta_ids[key] = len(self._delta_keys)
            self._delta_keys.append(key)
        delta = self._delta.get(pair)
        if delta is None:
            delta = self._delta[pair] = FuzzyIndex()
        if units > 0 and form is not None:
            if delta.form_of(delta_id) != form:
                delta.add(delta_id, form)
        else:
            delta.discard(delta_id)

    def _dead_array(self, pair: tuple[int, int]) -> np.ndarray | None:
        dead = self._dead.get(pair)
        if not dead:
            return None
        array_ = self._dead_arrays.get(pair)
        if array_ is None:
            array_ = self._dead_arrays[pair] = np.array(sorted(dead), dtype=np.int64)
        return array_

    def _delta_units(self) -> int:
        return sum(len(index) for index in self._delta.values()) + sum(
            len(dead) for dead in self._dead.values()
        )


def _written_count(session: Session, seen: int) -> int:
    """Units written after revision `seen` (what a catch-up would load)."""
    return int(
        session.scalar(
            select(func.count()).select_from(TranslationUnit).where(units_written_since(seen))
        )
        or 0
    )


def build_frozen_indexes(
    session: Session,
) -> tuple[dict[int, FrozenFormIndex], int, int]:
    """Frozen fuzzy indexes of every unit's distinct source forms, per source language id;
    with the (revision, epoch) read before the units, so a catch-up from it misses nothing."""
    revision, epoch = current_revision(session)
    per_language: dict[int, dict[str, tuple[str, dict[int, int]]]] = defaultdict(dict)
    rows = session.execute(
        select(
            TranslationUnit.source_language_id,
            TranslationUnit.target_language_id,
            TranslationUnit.source_hash,
            TranslationUnit.source_form,
        ).execution_options(yield_per=20_000)
    )
    for source_id, target_id, key, form in rows:
        forms = per_language[source_id]
        entry = forms.get(key)
        if entry is None:
            entry = forms[key] = (form, {})
        targets = entry[1]
        targets[target_id] = targets.get(target_id, 0) + 1
    indexes = {
        source_id: FrozenFormIndex.build(
            (key, form, targets) for key, (form, targets) in forms.items()
        )
        for source_id, forms in per_language.items()
    }
    return indexes, revision, epoch


def build_index_snapshot(
    session: Session, directory: str | Path, *, force: bool = False
) -> SnapshotManifest:
    """Build the fuzzy index from the database and publish it as a snapshot in `directory`.

    Without `force`, a published snapshot of the current revision and epoch is kept as it is.
    Returns the manifest of the snapshot in use afterwards.
    """
    root = Path(directory)
    if not force:
        name = current_name(root)
        manifest = read_manifest(root, name) if name else None
        if (
            manifest is not None
            and (manifest.revision, manifest.epoch) == current_revision(session)
            and manifest.memory_id == memory_id(session)
        ):
            return manifest
    started = time.perf_counter()
    identity = memory_id(session)
    indexes, revision, epoch = build_frozen_indexes(session)
    return write_snapshot(
        root,
        indexes,
        revision=revision,
        epoch=epoch,
        memory_id=identity,
        build_seconds=time.perf_counter() - started,
    )


def index_from(
    cache: dict[str, Any],
    *,
    refresh_seconds: float = DEFAULT_REFRESH_SECONDS,
    snapshot_dir: str | Path | None = None,
    request_snapshot: Callable[[], object] | None = None,
) -> TranslationMemoryIndex:
    """The `TranslationMemoryIndex` kept in `cache` (e.g. `app.extensions`), created once."""
    index = cache.get("tm_index")
    if index is None:
        index = cache.setdefault(
            "tm_index",
            TranslationMemoryIndex(
                refresh_seconds=refresh_seconds,
                snapshot_dir=snapshot_dir,
                request_snapshot=request_snapshot,
            ),
        )
    return index


# --------------------------------------------------------------------------- lookup


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
        self._exact: dict[str, list[TranslationUnit]] = {}
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
            found: dict[str, list[TranslationUnit]] = {h: [] for h in chunk}
            for unit in self.session.scalars(
                select(TranslationUnit)
                .options(*_WITH_ORIGIN)
                .where(
                    TranslationUnit.source_language_id == self.source.id,
                    TranslationUnit.target_language_id == self.target.id,
                    TranslationUnit.source_hash.in_(chunk),
                )
                .order_by(TranslationUnit.id)
            ):
                units = found[unit.source_hash]
                if len(units) < MAX_EXACT_CANDIDATES:
                    units.append(unit)
            self._exact.update(found)

    def exact_units(self, query: _Query) -> list[TranslationUnit]:
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

    def score_units(self, query: _Query, units: Iterable[TranslationUnit]) -> list[LookupMatch]:
        """Score chosen units (e.g. a near-duplicate page's) against a query, ≥ min_score."""
        results = []
        for unit in units:
            if unit.source_hash == query.key.hash:
                base = 100.0
            else:
                base = similarity(query.key.form, unit.source_form)
                if base < self.min_score:
                    continue
            stored_values = extract_placeholders(strip_markup(unit.source_text)).values
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

    def score_as(self, query: _Query, unit: TranslationUnit, base: float) -> LookupMatch:
        """Score one unit against a query at a given base similarity (0–99; e.g. by meaning),
        with the query's placeholder values put in and the usual penalties."""
        stored_values = extract_placeholders(strip_markup(unit.source_text)).values
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


# A match shows its unit's region and page: load them with the unit, not one query each.
_WITH_ORIGIN = (joinedload(TranslationUnit.region), joinedload(TranslationUnit.page))


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
    exact_units: Sequence[TranslationUnit] | None = None,
    own_page_id: int | None = None,
) -> list[tuple[TranslationUnit, float]]:
    if exact_units is None and fuzzy_after_exact:
        # One statement for the exact units and those of the fuzzy matches (a lookup's path).
        fuzzy = index.search(source.id, target.id, form, limit * CANDIDATE_FACTOR + 5, min_score)
        scores = {key: score for key, score in fuzzy if key != form_hash}
        units = _units_of_forms(session, source, target, [form_hash, *scores])
        exact_first = sorted(units, key=lambda unit: unit.source_hash != form_hash)
        return [
            (unit, 100.0 if unit.source_hash == form_hash else scores[unit.source_hash])
            for unit in exact_first
        ]
    exact = exact_units
    if exact is None:
        exact = _units_of_forms(session, source, target, [form_hash])
    found: dict[int, tuple[TranslationUnit, float]] = {unit.id: (unit, 100.0) for unit in exact}
    if not fuzzy_after_exact and any(
        _clean(unit) and not own_unit(unit, own_page_id) for unit in exact
    ):
        # A clean exact unit (human or reviewed, current, never rejected) outranks every fuzzy
        # one; a flawed exact match may not, so the fuzzy index is still asked then.
        return list(found.values())
    fuzzy = index.search(source.id, target.id, form, limit * CANDIDATE_FACTOR + 5, min_score)
    scores = {key: score for key, score in fuzzy if key != form_hash}
    for unit in _units_of_forms(session, source, target, list(scores)):
        if unit.id not in found:
            found[unit.id] = (unit, scores[unit.source_hash])
    return list(found.values())


def _units_of_forms(
    session: Session, source: Language, target: Language, hashes: Sequence[str]
) -> list[TranslationUnit]:
    """The units of these source forms in the language pair, at most MAX_EXACT_CANDIDATES per
    form (the oldest), by ix_translation_unit_lookup: the index finds forms, the database
    their units."""
    if not hashes:
        return []
    ranked = (
        select(
            TranslationUnit.id,
            func.row_number()
            .over(partition_by=TranslationUnit.source_hash, order_by=TranslationUnit.id)
            .label("rank"),
        )
        .where(
            TranslationUnit.source_language_id == source.id,
            TranslationUnit.target_language_id == target.id,
            TranslationUnit.source_hash.in_(sorted(set(hashes))),
        )
        .subquery()
    )
    return list(
        session.scalars(
            select(TranslationUnit)
            .options(*_WITH_ORIGIN)
            .join(ranked, ranked.c.id == TranslationUnit.id)
            .where(ranked.c.rank <= MAX_EXACT_CANDIDATES)
            .order_by(TranslationUnit.id)
        )
    )


def own_unit(unit: TranslationUnit, page_id: int | None) -> bool:
    """A unit of the page's own published translation (not a review decision, not an import)."""
    return page_id is not None and unit.page_id == page_id and unit.import_batch is None


def _clean(unit: TranslationUnit) -> bool:
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
    exact_units: Sequence[TranslationUnit] | None = None,
    own_page_id: int | None = None,
) -> list[LookupMatch]:
    results = []
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
    for unit, base in candidates:
        stored_values = extract_placeholders(strip_markup(unit.source_text)).values
        segment, mismatches = transfer_placeholders(
            stored_values, unit.target_text, query.key.values, target.code
        )
        results.append(
            _scored(unit, base, segment, mismatches, query, policy, ranker, source, target)
        )
    return results


def approved(unit: TranslationUnit) -> bool:
    """A region's published human translation: a page unit (units come from public versions
    only) that no machine made. Approved content, not "unreviewed"."""
    return unit.import_batch is None and unit.page_id is not None and unit.origin != Origin.MACHINE


def trust_status(unit: TranslationUnit) -> str:
    """What is known of a unit's translation: reviewed, approved (a region published it),
    unreviewed (a human translation of unknown standing, e.g. from TMX) or machine."""
    if unit.reviewed:
        return "reviewed"
    if unit.origin == Origin.MACHINE:
        return "machine"
    return "approved" if approved(unit) else "unreviewed"


def _flags(unit: TranslationUnit, query: _Query, mismatches: int, *, pivot: bool) -> MatchFlags:
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
    unit: TranslationUnit,
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
        for first, base in first_legs:
            second_legs = session.scalars(
                select(TranslationUnit)
                .options(*_WITH_ORIGIN)
                .where(
                    TranslationUnit.source_language_id == pivot.id,
                    TranslationUnit.target_language_id == target.id,
                    TranslationUnit.source_hash == first.target_hash,
                )
                .limit(MAX_EXACT_CANDIDATES)
            ).all()
            for second in second_legs:
                results.append(
                    _pivot_match(first, second, base, query, policy, ranker, source, pivot, target)
                )
        if any(m.match.score >= min_score for m in results):
            break
    return results


def _pivot_match(
    first: TranslationUnit,
    second: TranslationUnit,
    base: float,
    query: _Query,
    policy: PenaltyPolicy,
    ranker: _RegionRanker,
    source: Language,
    pivot: Language,
    target: Language,
) -> LookupMatch:
    stored_values = extract_placeholders(strip_markup(first.source_text)).values
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


def _origin(unit: TranslationUnit, source: Language, target: Language) -> dict[str, Any]:
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


# --------------------------------------------------------------------------- concordance


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
