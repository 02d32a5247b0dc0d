"""Pages and their versioned translations: the CMS push, public reads, outdated state."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from memory.authorization import Action, Actor, authorize
from memory.content_hash import translation_hash
from memory.errors import Conflict, InvalidInput, NotFound, PreconditionFailed
from memory.models import (
    ContentKind,
    Language,
    Origin,
    Page,
    PageTranslation,
    Region,
    ReviewStatus,
    TranslationStatus,
    utcnow,
)
from memory.services.regions import get_language, get_region, region_language_parent


@dataclass(frozen=True)
class TranslationView:
    """A stored version as a reader sees it, with its derived state."""

    translation: PageTranslation
    source_language: str | None
    outdated: bool
    is_latest: bool


@dataclass(frozen=True)
class PageView:
    page: Page
    region: Region
    translations: list[TranslationView] = field(default_factory=list)
    versions: list[TranslationView] = field(default_factory=list)
    children: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PushResult:
    view: TranslationView
    created: bool  # False: same content as the latest version, nothing stored


def etag_of(translation: PageTranslation) -> str:
    """Strong ETag of a page translation's latest version."""
    return f'"v{translation.version}-{translation.content_hash[:16]}"'


def _find_page(session: Session, region: Region, external_id: str) -> Page | None:
    return session.scalar(
        select(Page).where(Page.region_id == region.id, Page.external_id == external_id)
    )


def get_page_or_404(
    session: Session, region: Region, external_id: str, *, field: str = "external_id"
) -> Page:
    page = _find_page(session, region, external_id)
    if page is None:
        raise NotFound(
            f"Region '{region.slug}' has no page '{external_id}'.",
            errors={field: [f"No page '{external_id}' in region '{region.slug}'."]},
        )
    return page


def latest_version(
    session: Session, page: Page, language: Language, *, public_only: bool = False
) -> PageTranslation | None:
    query = select(PageTranslation).where(
        PageTranslation.page_id == page.id, PageTranslation.language_id == language.id
    )
    if public_only:
        query = query.where(PageTranslation.status == TranslationStatus.PUBLIC)
    return session.scalar(query.order_by(PageTranslation.version.desc()).limit(1))


def latest_public_by_language(page: Page) -> dict[int, PageTranslation]:
    """The latest public version of each language of a page (language id → translation)."""
    latest: dict[int, PageTranslation] = {}
    for translation in page.translations:
        if translation.status != TranslationStatus.PUBLIC:
            continue
        current = latest.get(translation.language_id)
        if current is None or translation.version > current.version:
            latest[translation.language_id] = translation
    return latest


def translation_source_language(region: Region, page: Page, language: Language) -> Language | None:
    """The language a translation is made from: the region's language tree, else the page's."""
    if language.id == page.source_language_id:
        return None
    return region_language_parent(region, language) or page.source_language


def push_translation(
    session: Session,
    actor: Actor | None,
    region_slug: str,
    external_id: str,
    language_code: str,
    data: Mapping[str, Any],
    *,
    if_match: str | None = None,
) -> PushResult:
    """Store a page translation pushed by the CMS: a new version, or nothing if unchanged.

    `if_match` is the ETag the writer based its change on; a stale one raises
    PreconditionFailed (412) and stores nothing.
    """
    region = get_region(session, region_slug)
    authorize(actor, Action.WRITE_CONTENT, region.slug)
    language = get_language(session, language_code)
    try:
        result = store_translation(session, region, external_id, language, data, if_match=if_match)
        session.commit()
    except IntegrityError as error:
        # Two writers raced for the same version number, or to create the same page (the page
        # row's INSERT fails at flush inside store_translation): the loser retries.
        session.rollback()
        raise Conflict(
            "Another write to this page translation happened at the same time; retry.",
        ) from error
    return result


def store_translation(
    session: Session,
    region: Region,
    external_id: str,
    language: Language,
    data: Mapping[str, Any],
    *,
    if_match: str | None = None,
) -> PushResult:
    """Add a version inside the caller's transaction (the push; imports use `RegionPages`)."""
    page = _find_page(session, region, external_id)
    if page is None:
        if if_match not in (None, "*"):
            raise PreconditionFailed(
                f"Page '{external_id}' does not exist yet, so If-Match cannot match."
            )
        _check_external_id(external_id)
        page = Page(region=region, external_id=external_id, source_language=region.source_language)
        session.add(page)
        session.flush()
    else:
        # Serialise writers of one page on PostgreSQL (SQLite serialises all writes anyway).
        session.execute(select(Page.id).where(Page.id == page.id).with_for_update())

    _apply_page_fields(session, region, page, data)
    latest = latest_version(session, page, language)
    if if_match is not None and if_match != "*":
        current = etag_of(latest) if latest else None
        if current is None or if_match.removeprefix("W/") != current:
            raise PreconditionFailed(
                "The page translation changed since you read it "
                f"(If-Match {if_match}, current ETag {current or 'none'}).",
            )

    incoming = _Incoming.of(data)
    known = None
    if incoming.external_id is not None and latest is not None:
        # A CMS version seen before (re-import of a dump or fixture): nothing new.
        known = session.scalar(
            select(PageTranslation).where(
                PageTranslation.page_id == page.id,
                PageTranslation.language_id == language.id,
                PageTranslation.external_id == incoming.external_id,
                PageTranslation.content_hash == incoming.content_hash,
                PageTranslation.status == incoming.status,
            )
        )
    existing = _existing_version(incoming, latest, known, data)
    if existing is not None:
        is_latest = latest is not None and existing.id == latest.id
        return PushResult(
            view=_view(session, region, page, existing, is_latest=is_latest), created=False
        )

    source_language = translation_source_language(region, page, language)
    source_version, source_hash = _source_reference(
        session, page, source_language, data.get("source_version")
    )
    translation = _new_version(page, language, latest, incoming, data, source_version, source_hash)
    session.add(translation)
    session.flush()
    return PushResult(view=_view(session, region, page, translation, is_latest=True), created=True)


EXTERNAL_ID_LENGTH: int = Page.__table__.c.external_id.type.length  # type: ignore[attr-defined]


def _check_external_id(external_id: str) -> None:
    # PostgreSQL refuses a longer value for the column (a DataError at flush); name the field.
    if not 1 <= len(external_id) <= EXTERNAL_ID_LENGTH:
        raise InvalidInput(
            f"A page id has 1 to {EXTERNAL_ID_LENGTH} characters.",
            errors={"external_id": [f"Between 1 and {EXTERNAL_ID_LENGTH} characters."]},
        )


@dataclass(frozen=True)
class _Incoming:
    """A pushed or imported translation's deciding fields, its content hash computed once."""

    title: str
    content: str
    meta_description: str
    content_hash: str
    status: TranslationStatus
    origin: Origin
    review_status: ReviewStatus
    external_id: str | None

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> _Incoming:
        title = data["title"]
        content = data.get("content") or ""
        meta_description = data.get("meta_description") or ""
        return cls(
            title=title,
            content=content,
            meta_description=meta_description,
            content_hash=translation_hash(title, content, meta_description),
            status=TranslationStatus(data.get("status", TranslationStatus.PUBLIC)),
            origin=Origin(data.get("origin", Origin.HUMAN)),
            review_status=ReviewStatus(data.get("review_status", ReviewStatus.UNREVIEWED)),
            external_id=_str_or_none(data.get("external_translation_id")),
        )


def _existing_version(
    incoming: _Incoming,
    latest: PageTranslation | None,
    known: PageTranslation | None,
    data: Mapping[str, Any],
) -> PageTranslation | None:
    """The stored version this translation already is (nothing to store), or None."""
    if known is not None:
        return known
    if (
        latest is not None
        and latest.content_hash == incoming.content_hash
        and latest.status == incoming.status
        and latest.origin == incoming.origin
        and latest.review_status == incoming.review_status
    ):
        _update_metadata(latest, data)
        return latest
    return None


def _new_version(
    page: Page,
    language: Language,
    latest: PageTranslation | None,
    incoming: _Incoming,
    data: Mapping[str, Any],
    source_version: int | None,
    source_hash: str | None,
) -> PageTranslation:
    return PageTranslation(
        page=page,
        language=language,
        version=(latest.version + 1) if latest else 1,
        title=incoming.title,
        content=incoming.content,
        meta_description=incoming.meta_description,
        content_hash=incoming.content_hash,
        status=incoming.status,
        origin=incoming.origin,
        review_status=incoming.review_status,
        source_version=source_version,
        source_content_hash=source_hash,
        external_id=incoming.external_id,
        url=data.get("url") or "",
        path=data.get("path") or "",
        last_updated=data.get("last_updated") or utcnow(),
    )


class RegionPages:
    """One region's pages and all their versions, loaded once for a bulk import.

    `store` decides exactly like `store_translation` (same version, unchanged, or a new one)
    but looks pages and versions up in memory instead of with several queries per
    translation, and leaves the flush to the caller (once, before reading the new ids): an
    import of a whole region is one transaction anyway. The region's existing pages are
    locked up front with `SELECT … FOR UPDATE`, as a push locks its one page.
    """

    def __init__(self, session: Session, region: Region) -> None:
        self.session = session
        self.region = region
        session.execute(
            select(Page.id).where(Page.region_id == region.id).order_by(Page.id).with_for_update()
        )
        self._pages: dict[str, Page] = {
            page.external_id: page
            for page in session.scalars(select(Page).where(Page.region_id == region.id))
        }
        self._versions: dict[tuple[str, int], list[PageTranslation]] = {}
        ids_to_external = {page.id: external_id for external_id, page in self._pages.items()}
        for translation in session.scalars(
            select(PageTranslation)
            .join(Page, Page.id == PageTranslation.page_id)
            .where(Page.region_id == region.id)
            .order_by(PageTranslation.page_id, PageTranslation.language_id, PageTranslation.version)
        ):
            key = (ids_to_external[translation.page_id], translation.language_id)
            self._versions.setdefault(key, []).append(translation)

    def page(self, external_id: str) -> Page | None:
        return self._pages.get(external_id)

    def store(
        self, external_id: str, language: Language, data: Mapping[str, Any]
    ) -> tuple[PageTranslation, bool]:
        """Add a version unless it is stored already: (the version, whether it is new)."""
        page = self._pages.get(external_id)
        if page is None:
            source = self.region.source_language
            # The ids too: the page is not flushed yet, and the language tree compares ids.
            page = Page(
                region=self.region,
                region_id=self.region.id,
                external_id=external_id,
                source_language=source,
                source_language_id=source.id,
            )
            self.session.add(page)
            self._pages[external_id] = page
        _apply_page_fields(self.session, self.region, page, data)
        versions = self._versions.setdefault((external_id, language.id), [])
        latest = versions[-1] if versions else None
        incoming = _Incoming.of(data)
        known = None
        if incoming.external_id is not None and latest is not None:
            known = next(
                (
                    version
                    for version in versions
                    if version.external_id == incoming.external_id
                    and version.content_hash == incoming.content_hash
                    and version.status == incoming.status
                ),
                None,
            )
        existing = _existing_version(incoming, latest, known, data)
        if existing is not None:
            return existing, False
        source_language = translation_source_language(self.region, page, language)
        source_version, source_hash = self._source_reference(
            external_id, source_language, data.get("source_version")
        )
        translation = _new_version(
            page, language, latest, incoming, data, source_version, source_hash
        )
        self.session.add(translation)
        versions.append(translation)
        return translation, True

    def set_parent(self, external_id: str, parent_external_id: str | None) -> None:
        """Link a page to its parent page (None, or a page the region lacks: a root page)."""
        page = self._pages.get(external_id)
        if page is None:
            return
        parent = self._pages.get(parent_external_id) if parent_external_id else None
        if page.id is None or (parent is not None and parent.id is None):
            # Insert the new pages now, in the order they were added (the ids a push per page
            # would give them): linked first, the unit of work would insert parents first.
            self.session.flush()
        if page.parent_id != (parent.id if parent else None):
            page.parent = parent

    def _source_reference(
        self, external_id: str, source_language: Language | None, source_version: int | None
    ) -> tuple[int | None, str | None]:
        """`_source_reference` on the versions in memory."""
        if source_language is None:
            return None, None
        versions = self._versions.get((external_id, source_language.id), [])
        if source_version is not None:
            source = next((v for v in versions if v.version == source_version), None)
            if source is None:
                raise InvalidInput(
                    f"The {source_language.code} source has no version {source_version}.",
                    errors={
                        "source_version": [f"No {source_language.code} version {source_version}."]
                    },
                )
        else:
            public = [v for v in versions if v.status == TranslationStatus.PUBLIC]
            source = public[-1] if public else None
        if source is None:
            return None, None
        return source.version, source.content_hash


def _str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


def _update_metadata(translation: PageTranslation, data: Mapping[str, Any]) -> None:
    # A move or a re-save with the same text keeps the version but may update where it lives.
    for key in ("url", "path"):
        if data.get(key):
            setattr(translation, key, data[key])
    if data.get("external_translation_id") is not None:
        translation.external_id = str(data["external_translation_id"])


def _apply_page_fields(
    session: Session, region: Region, page: Page, data: Mapping[str, Any]
) -> None:
    if "parent" in data:
        parent_id = data["parent"]
        if parent_id in (None, ""):
            page.parent = None
        else:
            parent = _find_page(session, region, str(parent_id))
            if parent is None:
                raise InvalidInput(
                    f"Parent page '{parent_id}' does not exist in region '{region.slug}'.",
                    errors={"parent": [f"No page '{parent_id}' in region '{region.slug}'."]},
                )
            if parent.id == page.id:
                raise InvalidInput("A page cannot be its own parent.", errors={"parent": ["Self."]})
            page.parent = parent
    if data.get("position") is not None:
        page.position = data["position"]
    if data.get("kind") is not None:
        page.kind = ContentKind(data["kind"])
    if "details" in data:
        page.details = data["details"]


def _source_reference(
    session: Session, page: Page, source_language: Language | None, source_version: int | None
) -> tuple[int | None, str | None]:
    """Which source version a new translation was made from (default: the current one)."""
    if source_language is None:
        return None, None
    query = select(PageTranslation).where(
        PageTranslation.page_id == page.id, PageTranslation.language_id == source_language.id
    )
    if source_version is not None:
        source = session.scalar(query.where(PageTranslation.version == source_version))
        if source is None:
            raise InvalidInput(
                f"The {source_language.code} source has no version {source_version}.",
                errors={"source_version": [f"No {source_language.code} version {source_version}."]},
            )
    else:
        source = session.scalar(
            query.where(PageTranslation.status == TranslationStatus.PUBLIC)
            .order_by(PageTranslation.version.desc())
            .limit(1)
        )
    if source is None:
        return None, None
    return source.version, source.content_hash


def _current_source_hashes(session: Session, page_ids: Sequence[int]) -> dict[tuple[int, int], str]:
    """Latest public content hash per (page, language) for the given pages."""
    latest = (
        select(
            PageTranslation.page_id,
            PageTranslation.language_id,
            func.max(PageTranslation.version).label("version"),
        )
        .where(
            PageTranslation.page_id.in_(page_ids),
            PageTranslation.status == TranslationStatus.PUBLIC,
        )
        .group_by(PageTranslation.page_id, PageTranslation.language_id)
        .subquery()
    )
    rows = session.execute(
        select(
            PageTranslation.page_id, PageTranslation.language_id, PageTranslation.content_hash
        ).join(
            latest,
            (PageTranslation.page_id == latest.c.page_id)
            & (PageTranslation.language_id == latest.c.language_id)
            & (PageTranslation.version == latest.c.version),
        )
    ).all()
    return {(row.page_id, row.language_id): row.content_hash for row in rows}


def is_outdated(
    translation: PageTranslation,
    source_language: Language | None,
    current_hashes: Mapping[tuple[int, int], str],
) -> bool:
    """Outdated: the source text changed since the translation was made (hashes, not dates)."""
    if source_language is None or translation.source_content_hash is None:
        return False
    current = current_hashes.get((translation.page_id, source_language.id))
    return current is not None and current != translation.source_content_hash


def _view(
    session: Session, region: Region, page: Page, translation: PageTranslation, *, is_latest: bool
) -> TranslationView:
    source_language = translation_source_language(region, page, translation.language)
    hashes = _current_source_hashes(session, [page.id])
    return TranslationView(
        translation=translation,
        source_language=source_language.code if source_language else None,
        outdated=is_outdated(translation, source_language, hashes),
        is_latest=is_latest,
    )


def _visible(translation: PageTranslation, include_drafts: bool) -> bool:
    return include_drafts or translation.status == TranslationStatus.PUBLIC


def _page_views(
    session: Session,
    region: Region,
    pages: Sequence[Page],
    *,
    include_drafts: bool,
    with_versions: bool,
    language: Language | None = None,
) -> list[PageView]:
    hashes = _current_source_hashes(session, [page.id for page in pages])
    views = []
    for page in pages:
        by_language: dict[int, list[PageTranslation]] = {}
        for translation in page.translations:
            if language is not None and translation.language_id != language.id:
                continue
            if _visible(translation, include_drafts):
                by_language.setdefault(translation.language_id, []).append(translation)
        latest_views, all_views = [], []
        for versions in by_language.values():
            versions.sort(key=lambda t: t.version)
            for translation in versions:
                source_language = translation_source_language(region, page, translation.language)
                view = TranslationView(
                    translation=translation,
                    source_language=source_language.code if source_language else None,
                    outdated=is_outdated(translation, source_language, hashes),
                    is_latest=translation is versions[-1],
                )
                all_views.append(view)
                if view.is_latest:
                    latest_views.append(view)
        if not latest_views and language is not None:
            continue
        views.append(
            PageView(
                page=page,
                region=region,
                translations=sorted(latest_views, key=lambda v: v.translation.language.code),
                versions=all_views if with_versions else [],
            )
        )
    return views


def list_pages(
    session: Session,
    region_slug: str,
    *,
    actor: Actor | None = None,
    include_drafts: bool = False,
    language_code: str | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[PageView], int]:
    """A region's pages with their latest visible translation per language, and the total."""
    region = get_region(session, region_slug)
    include_drafts = include_drafts and actor is not None and actor.can_read_drafts_of(region.slug)
    language = get_language(session, language_code) if language_code else None
    query = select(Page).where(Page.region_id == region.id)
    if not include_drafts or language is not None:
        # Only pages that have something to show to this reader.
        visible = select(PageTranslation.page_id)
        if not include_drafts:
            visible = visible.where(PageTranslation.status == TranslationStatus.PUBLIC)
        if language is not None:
            visible = visible.where(PageTranslation.language_id == language.id)
        query = query.where(Page.id.in_(visible))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = session.scalars(
        query.options(selectinload(Page.translations), selectinload(Page.parent))
        .order_by(Page.position, Page.id)
        .limit(limit)
        .offset(offset)
    ).all()
    views = _page_views(
        session,
        region,
        pages,
        include_drafts=include_drafts,
        with_versions=False,
        language=language,
    )
    return views, total


def get_page(
    session: Session,
    region_slug: str,
    external_id: str,
    *,
    actor: Actor | None = None,
    include_drafts: bool = False,
) -> PageView:
    """One page with the latest visible translation per language and every visible version."""
    region = get_region(session, region_slug)
    include_drafts = include_drafts and actor is not None and actor.can_read_drafts_of(region.slug)
    page = get_page_or_404(session, region, external_id)
    views = _page_views(session, region, [page], include_drafts=include_drafts, with_versions=True)
    view = views[0]
    if not view.translations:
        # A page with drafts only does not exist for the public.
        raise NotFound(
            f"Region '{region.slug}' has no page '{external_id}'.",
            errors={"external_id": [f"No page '{external_id}' in region '{region.slug}'."]},
        )
    children = session.scalars(
        select(Page.external_id).where(Page.parent_id == page.id).order_by(Page.position, Page.id)
    ).all()
    return PageView(
        page=view.page,
        region=region,
        translations=view.translations,
        versions=view.versions,
        children=list(children),
    )


def get_translation(
    session: Session,
    region_slug: str,
    external_id: str,
    language_code: str,
    *,
    actor: Actor | None = None,
    include_drafts: bool = False,
) -> TranslationView:
    """The latest visible version of one page translation."""
    page_view = get_page(
        session, region_slug, external_id, actor=actor, include_drafts=include_drafts
    )
    for view in page_view.translations:
        if view.translation.language.code == language_code:
            return view
    get_language(session, language_code)
    raise NotFound(
        f"Page '{external_id}' has no {language_code} translation.",
        errors={"language": [f"No {language_code} translation of page '{external_id}'."]},
    )


def parse_timestamp(value: str | None) -> datetime | None:
    """An ISO 8601 timestamp (Integreat writes both 'Z' and offsets) as an aware datetime."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
