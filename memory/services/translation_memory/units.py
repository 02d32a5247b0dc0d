"""Building units: from public page translations (`refresh_units`, `refresh_all_units`), re-keying
units not built from pages (`rekey_units`), and reviewed units written by translators'
decisions (`add_reviewed_unit`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, selectinload

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
from memory.segmentation import segment_html
from memory.services.pages import (
    _current_source_hashes,
    is_outdated,
    latest_public_by_language,
    translation_source_language,
)
from memory.services.regions import get_region
from memory.services.translation_memory.keys import (
    _sha256,
    context_key,
    segment_key,
    strip_markup,
    unit_key,
)
from memory.services.translation_memory.revisions import _Revision, next_revision
from memory.tm_models import TranslationUnit, TranslationUnitDeletion


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
