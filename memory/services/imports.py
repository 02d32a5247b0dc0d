"""Imports of whole regions (Integreat dumps, CMS fixtures): atomic and idempotent."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.cms_fixture import INTEGREAT_WEB_URL, CmsFixture
from connectors.integreat import IntegreatPage
from memory.authorization import Action, Actor, authorize
from memory.errors import DomainError, ImportRejected
from memory.models import (
    Language,
    Origin,
    PageTranslation,
    Region,
    RegionKind,
    RegionLanguage,
    TextDirection,
    TranslationStatus,
)
from memory.services.pages import RegionPages, parse_timestamp
from memory.services.regions import ensure_language, get_language

Progress = Callable[[int, int], None]


@dataclass
class ImportReport:
    """What an import did: per language, versions created and translations left unchanged."""

    region: str
    created: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    linked_pairs: int = 0
    pages: int = 0
    changed_translation_ids: list[int] = field(default_factory=list)
    _new_versions: list[PageTranslation] = field(default_factory=list, repr=False)

    def count(self, language: str, translation: PageTranslation, created: bool) -> None:
        """Tally one stored (or unchanged) translation."""
        (self.created if created else self.unchanged)[language] += 1
        if created:
            self._new_versions.append(translation)

    def note_new_ids(self) -> None:
        """Fill `changed_translation_ids` once the new versions are flushed (they have ids)."""
        self.changed_translation_ids = [version.id for version in self._new_versions]

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "pages": self.pages,
            "linked_pairs": self.linked_pairs,
            "created": dict(sorted(self.created.items())),
            "unchanged": dict(sorted(self.unchanged.items())),
        }


def _ensure_region(
    session: Session, slug: str, *, name: str, kind: str, source_language: str
) -> Region:
    region = session.scalar(select(Region).where(Region.slug == slug))
    if region is None:
        region = Region(
            slug=slug,
            name=name,
            kind=RegionKind(kind),
            source_language=ensure_language(session, source_language),
            attribution=(f"Integreat / Tür an Tür – Digitalfabrik gGmbH and {name}"),
        )
        session.add(region)
        session.flush()
    return region


def _ensure_region_language(
    session: Session, region: Region, code: str, parent: str | None
) -> None:
    language = ensure_language(session, code)
    for node in region.languages:
        if node.language_id == language.id:
            return
    parent_language = ensure_language(session, parent) if parent else None
    region.languages.append(RegionLanguage(language=language, parent_language=parent_language))
    session.flush()


def import_integreat_pages(
    session: Session,
    actor: Actor | None,
    region_slug: str,
    pages: Iterable[IntegreatPage],
    *,
    region_name: str | None = None,
    source_language: str = "de",
    progress: Progress | None = None,
) -> ImportReport:
    """Import API v3 page dumps of one region, all languages at once, in one transaction.

    A page's external id is the id of its translation in the source language; other
    languages link to it through `available_languages`. Parents are linked through paths.
    `actor=None` is the operator at the command line.
    """
    if actor is not None:
        authorize(actor, Action.WRITE_CONTENT, region_slug)
    pages = list(pages)
    report = ImportReport(region=region_slug)
    try:
        region = _ensure_region(
            session,
            region_slug,
            name=region_name or region_slug,
            kind="county" if region_slug.startswith("lk") else "city",
            source_language=source_language,
        )
        source_code = region.source_language.code
        _ensure_region_language(session, region, source_code, None)
        for code in sorted({page.language for page in pages} - {source_code}):
            _ensure_region_language(session, region, code, source_code)

        source_pages = [page for page in pages if page.language == source_code]
        source_ids = {page.id for page in source_pages}
        id_by_source_path = {page.path: str(page.id) for page in source_pages}
        others = [page for page in pages if page.language != source_code]
        total = len(pages)
        done = 0
        region_pages = RegionPages(session, region)
        languages: dict[str, Language] = {}

        def store(page: IntegreatPage, external_id: str, extra: dict[str, Any]) -> None:
            nonlocal done
            language = languages.get(page.language)
            if language is None:
                language = languages[page.language] = get_language(session, page.language)
            translation, created = region_pages.store(
                external_id,
                language,
                {
                    "title": page.title,
                    "content": page.content,
                    "status": TranslationStatus.PUBLIC,
                    "origin": Origin.HUMAN,
                    "url": page.url,
                    "path": page.path,
                    "last_updated": parse_timestamp(page.last_updated),
                    "external_translation_id": page.id,
                    **extra,
                },
            )
            report.count(page.language, translation, created)
            done += 1
            if progress:
                progress(done, total)

        # Source pages first (without parents, so order in the dump doesn't matter), then parents.
        for page in source_pages:
            store(page, str(page.id), {"position": page.order})
        for page in source_pages:
            parent = id_by_source_path.get(page.parent_path or "")
            region_pages.set_parent(str(page.id), parent)
        for page in others:
            link = page.available_languages.get(source_code)
            if link is not None and link.id in source_ids:
                report.linked_pairs += 1
            external_id = str(link.id) if link is not None else str(page.id)
            store(page, external_id, {})
        report.pages = len(
            {str(page.id) for page in source_pages}
            | {
                str(page.available_languages[source_code].id)
                if source_code in page.available_languages
                else str(page.id)
                for page in others
            }
        )
        session.flush()
        report.note_new_ids()
        session.commit()
    except DomainError:
        session.rollback()
        raise
    except Exception as error:
        session.rollback()
        raise ImportRejected(
            f"Import of region '{region_slug}' failed; nothing was stored: {error}"
        ) from error
    return report


def import_cms_fixture(
    session: Session,
    fixture: CmsFixture,
    *,
    regions: Sequence[str],
    progress: Progress | None = None,
    web_url: str = INTEGREAT_WEB_URL,
) -> list[ImportReport]:
    """Import the chosen regions of a CMS fixture with every version of every translation.

    Each translation gets its public address, the region's `base_url` (else `web_url`, which
    a region without one takes) and the API v3 path: attribution links to the page itself.
    """
    reports = []
    stored_languages: dict[str, Language] = {}
    try:
        for code, language in fixture.languages.items():
            if code == "hidden":
                continue
            ensure_language(
                session,
                code,
                bcp47_tag=language.bcp47_tag,
                name=language.native_name,
                english_name=language.english_name,
                direction=TextDirection(language.direction),
            )
        for slug in regions:
            if slug not in fixture.regions:
                raise ImportRejected(
                    f"The fixture has no region '{slug}'.", errors={"regions": [f"Unknown: {slug}"]}
                )
            data = fixture.regions[slug]
            root = next(
                (code for code, parent in data.language_tree.items() if parent is None), "de"
            )
            region = _ensure_region(
                session, slug, name=data.name, kind=data.kind, source_language=root
            )
            region.latitude, region.longitude = data.latitude, data.longitude
            if not region.base_url:
                region.base_url = web_url
            base_url = region.base_url.rstrip("/")
            for code, parent in data.language_tree.items():
                if code != "hidden":
                    _ensure_region_language(session, region, code, parent)
            report = ImportReport(region=slug)
            total = sum(len(page.translations) for page in data.pages)
            done = 0
            region_pages = RegionPages(session, region)
            for page in data.pages:
                for translation in page.translations:
                    if translation.language == "hidden":
                        continue
                    stored_language = stored_languages.get(translation.language)
                    if stored_language is None:
                        stored_language = stored_languages[translation.language] = get_language(
                            session, translation.language
                        )
                    version, created = region_pages.store(
                        str(page.id),
                        stored_language,
                        {
                            "title": translation.title,
                            "content": translation.content,
                            "status": TranslationStatus(translation.status),
                            "origin": Origin.MACHINE
                            if translation.machine_translated
                            else Origin.HUMAN,
                            "last_updated": parse_timestamp(translation.last_updated),
                            "url": f"{base_url}{translation.path}",
                            "path": translation.path,
                            "external_translation_id": translation.id,
                            "position": page.position,
                        },
                    )
                    report.count(translation.language, version, created)
                    done += 1
                    if progress:
                        progress(done, total)
            for page in data.pages:
                region_pages.set_parent(
                    str(page.id), str(page.parent_id) if page.parent_id else None
                )
            report.pages = len(data.pages)
            reports.append(report)
        session.flush()
        for report in reports:
            report.note_new_ids()
        session.commit()
    except DomainError:
        session.rollback()
        raise
    except Exception as error:
        session.rollback()
        raise ImportRejected(f"Fixture import failed; nothing was stored: {error}") from error
    return reports
