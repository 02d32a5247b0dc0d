"""Events, locations (POIs) and the imprint as content kinds next to pages.

Each item of connectors.integreat_content is stored like a page translation — versioned, its
title and content segmented into the translation memory, embedded for near-duplicates and
offered in suggestions by the same jobs — under its key (`event:…`, `location:…`, `imprint`)
and with `Page.kind` saying what it is. Its local details (an address, coordinates, a phone
number, an e-mail, a website, dates) go into `Page.details`, never into the text, so no unit
carries them; a location's address, postal code with town, phone, e-mail and website also
become entries of the region's gazetteer, so that where a text of the region does mention them,
another region's suggestion gets its own value put in or the detail marked for review.

The import is one transaction (atomic) and idempotent like the page import; the gazetteer
entries are written after it committed (each entry once: writing it again changes nothing).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.integreat_content import ContentItem
from matchers.local_details import detail_key
from memory.authorization import Action, Actor, authorize
from memory.errors import DomainError, ImportRejected, InvalidInput
from memory.gazetteer_models import GazetteerEntry, GazetteerKind
from memory.models import ContentKind, Language, Origin, Role, TranslationStatus
from memory.services.gazetteer import put_entry
from memory.services.imports import ImportReport
from memory.services.pages import RegionPages, parse_timestamp
from memory.services.regions import get_language, get_region

__all__ = [
    "ContentImportReport",
    "import_integreat_content",
    "local_details_of",
    "record_local_details",
]

Progress = Callable[[int, int], None]
# The operator at the command line (actor None) records gazetteer entries as an admin.
_OPERATOR = Actor(role=Role.ADMIN, region_slug=None, name="content import")


# The API v3 listing of each kind.
LISTING_OF_KIND = {"event": "events", "location": "locations", "imprint": "imprint"}


@dataclass
class ContentImportReport(ImportReport):
    kinds: Counter[str] = field(default_factory=Counter)  # items per kind
    created_kinds: Counter[tuple[str, str]] = field(default_factory=Counter)  # (language, kind)
    local_details: int = 0  # gazetteer entries written
    skipped_details: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return super().as_dict() | {
            "kinds": dict(sorted(self.kinds.items())),
            "local_details": self.local_details,
            "skipped_details": self.skipped_details,
        }


def local_details_of(details: dict[str, Any] | None) -> list[tuple[str, str]]:
    """(gazetteer kind, value) of an item's local details: address, postal code with town,
    town, phone, e-mail, website."""
    if not isinstance(details, dict):
        return []
    # {"place": {"address": …}, "phone": …} as the import writes it, or flat as a CMS may push.
    place = details["place"] if isinstance(details.get("place"), dict) else details

    def text(mapping: dict[str, Any], key: str) -> str:
        value = mapping.get(key)
        return str(value).strip() if isinstance(value, str | int) else ""

    found: list[tuple[str, str]] = []
    if text(place, "address"):
        found.append(("address", text(place, "address")))
    if text(place, "postcode") and text(place, "town"):
        found.append(("postal_code_town", f"{text(place, 'postcode')} {text(place, 'town')}"))
    if text(place, "town"):
        found.append(("place", text(place, "town")))
    for key, kind in (("phone", "phone"), ("email", "email"), ("website", "url")):
        if text(details, key):
            found.append((kind, text(details, key)))
    return found


def import_integreat_content(
    session: Session,
    actor: Actor | None,
    region_slug: str,
    items: Iterable[ContentItem],
    *,
    progress: Progress | None = None,
) -> ContentImportReport:
    """Store events, locations and imprints of one region (all languages) in one transaction.

    The region must exist (import its pages or its CMS fixture first). `actor=None` is the
    operator at the command line.
    """
    if actor is not None:
        authorize(actor, Action.WRITE_CONTENT, region_slug)
    region = get_region(session, region_slug)
    source_code = region.source_language.code
    # Source-language items first: the others are translated from them.
    items = sorted(items, key=lambda item: item.language != source_code)
    report = ContentImportReport(region=region_slug)
    languages: dict[str, Language] = {}
    details: dict[str, dict[str, Any]] = {}
    try:
        region_pages = RegionPages(session, region)
        for done, item in enumerate(items, start=1):
            language = languages.get(item.language)
            if language is None:
                language = languages[item.language] = get_language(session, item.language)
            existing = region_pages.page(item.key)
            if existing is not None and existing.kind not in (None, ContentKind(item.kind)):
                raise InvalidInput(
                    f"'{item.key}' is a {existing.kind.value} of region '{region.slug}', "
                    f"not a {item.kind}.",
                    errors={"items": [f"{item.key}: kind {item.kind}"]},
                )
            translation, created = region_pages.store(
                item.key,
                language,
                {
                    "title": item.title,
                    "content": item.content,
                    "meta_description": item.meta_description,
                    "status": TranslationStatus.PUBLIC,
                    "origin": Origin.HUMAN,
                    "url": item.url,
                    "path": item.path,
                    "last_updated": parse_timestamp(item.last_updated),
                    "external_translation_id": item.translation_id,
                },
            )
            page = region_pages.page(item.key)
            assert page is not None
            page.kind = ContentKind(item.kind)
            if item.language == source_code and item.details and page.details != item.details:
                page.details = item.details
            if item.language == source_code:
                report.kinds[item.kind] += 1
                details[item.key] = item.details
            report.count(item.language, translation, created)
            if created:
                report.created_kinds[(item.language, item.kind)] += 1
            if progress:
                progress(done, len(items))
        report.pages = len({item.key for item in items})
        session.flush()
        report.note_new_ids()
        session.commit()
    except DomainError:
        session.rollback()
        raise
    except Exception as error:
        session.rollback()
        raise ImportRejected(
            f"Import of the events, locations and imprint of region '{region_slug}' failed; "
            f"nothing was stored: {error}"
        ) from error
    # Recorded by the import itself: the caller's right to write content is checked above.
    _record_local_details(session, _OPERATOR, region_slug, details, report)
    return report


def record_local_details(
    session: Session, region_slug: str, details: dict[str, dict[str, Any] | None]
) -> tuple[int, list[str]]:
    """Gazetteer entries for the local details of pushed items (item key → details): how many
    were new, and the values refused (not a phone number, say). Call it after the push
    committed; writing the same entries again changes nothing."""
    report = ContentImportReport(region=region_slug)
    known = {key: value for key, value in details.items() if value}
    _record_local_details(session, _OPERATOR, region_slug, known, report)
    return report.local_details, report.skipped_details


def _record_local_details(
    session: Session,
    actor: Actor,
    region_slug: str,
    details: dict[str, dict[str, Any]],
    report: ContentImportReport,
) -> None:
    seen: set[tuple[str, str]] = set()
    for key, item_details in sorted(details.items()):
        for kind, value in local_details_of(item_details):
            if (kind, value) in seen:
                continue
            seen.add((kind, value))
            known = session.scalar(
                select(GazetteerEntry.id).where(
                    GazetteerEntry.region.has(slug=region_slug),
                    GazetteerEntry.kind == GazetteerKind(kind),
                    GazetteerEntry.key == detail_key(kind, value),
                )
            )
            if known is not None:  # stored already, or removed by an editor: left as it is
                continue
            try:
                _, created = put_entry(session, actor, region_slug, kind=kind, value=value)
            except (InvalidInput, ValueError) as error:
                session.rollback()
                reason = getattr(error, "detail", str(error))
                report.skipped_details.append(f"{key}: {kind} '{value}': {reason}")
                continue
            report.local_details += int(created)
