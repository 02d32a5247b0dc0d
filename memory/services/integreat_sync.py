"""Live sync of a region from an Integreat instance: only what changed is stored and processed.

Per language, the page listing is read conditionally (connectors.integreat_sync: the ETag and
Last-Modified of the previous run, kept in `CmsSyncState`; a 304 skips the language). The pages
of the listings that changed go through the region import (`import_integreat_pages`), which
compares each translation with the stored one by content hash: an unchanged page is neither
stored again nor handed to the jobs, a changed one becomes a new version, with the instance's
`last_updated` kept. A language that cannot be read, and each page that cannot be parsed, is one
error in the report naming it; the other languages are synced. The sync state is written after
the import committed, so a run that fails midway is repeated in full by the next one (the
import is idempotent).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.integreat import IntegreatPage
from connectors.integreat_content import ContentItem
from connectors.integreat_sync import KINDS, Listing, SyncClient, SyncError
from memory.authorization import Action, Actor, authorize
from memory.cms_models import CmsSyncState
from memory.errors import InvalidInput, ServiceUnavailable
from memory.models import Region, utcnow
from memory.services.content_kinds import LISTING_OF_KIND, import_integreat_content
from memory.services.imports import import_integreat_pages

__all__ = ["SyncReport", "sync_integreat"]

# (done, total, step): languages read, then the import.
Progress = Callable[[int, int, str], None]


@dataclass
class SyncReport:
    region: str
    base_url: str
    # Per language: status (changed | not_modified | failed), pages read, versions created.
    languages: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The same per "{language}/{events|locations|imprint}" (status absent: the instance has none).
    content: dict[str, dict[str, Any]] = field(default_factory=dict)
    created: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    changed_translation_ids: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "base_url": self.base_url,
            "languages": self.languages,
            "content": self.content,
            "created": self.created,
            "unchanged": self.unchanged,
            "errors": self.errors,
        }


def sync_integreat(
    session: Session,
    actor: Actor | None,
    region_slug: str,
    client: SyncClient,
    *,
    languages: Sequence[str] | None = None,
    kinds: Sequence[str] = KINDS,
    region_name: str | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Pull the region's changed pages, events, locations and imprint (`kinds`; all its
    languages, or `languages`) from the instance.

    `actor=None` is the operator (command line, scheduled job); otherwise an admin. Raises
    ServiceUnavailable when the instance's language list cannot be read (nothing to sync);
    ImportRejected when the import itself fails (nothing stored).
    """
    if actor is not None:
        authorize(actor, Action.MANAGE_REGION, region_slug)
    report = SyncReport(region=region_slug, base_url=client.base_url)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        raise InvalidInput(
            f"Unknown kinds: {', '.join(unknown)}.",
            errors={"kinds": [f"One of {', '.join(KINDS)}."]},
        )
    if languages:
        codes = list(dict.fromkeys(languages))
    else:
        try:
            codes = [language.code for language in client.languages(region_slug)]
        except SyncError as error:
            raise ServiceUnavailable(
                f"Cannot read the languages of region '{region_slug}': {error}.",
                errors={"base_url": [str(error)]},
            ) from None
    region = session.scalar(select(Region).where(Region.slug == region_slug))
    source_code = region.source_language.code if region else "de"
    states = _states(session, region)
    total = len(codes) * len(kinds) + 1
    listings: list[Listing] = []
    done = 0
    for code in codes:
        for kind in kinds:
            state = states.get((code, kind))
            listing = client.listing(
                region_slug,
                code,
                kind,
                source_language=source_code,
                etag=state.etag if state else None,
                last_modified=state.last_modified if state else None,
            )
            listings.append(listing)
            report.errors.extend(listing.errors)
            entry: dict[str, Any] = {
                "status": listing.status,
                "pages" if kind == "pages" else "items": len(listing.pages or listing.items),
                "created": 0,
                "errors": len(listing.errors),
            }
            if kind == "pages":
                report.languages[code] = entry
            else:
                report.content[f"{code}/{kind}"] = entry
            done += 1
            if progress:
                progress(done, total, f"read {code} {kind}: {listing.status}")
    changed = [listing for listing in listings if listing.status == "changed"]
    pages: list[IntegreatPage] = [page for listing in changed for page in listing.pages]
    items: list[ContentItem] = [item for listing in changed for item in listing.items]
    session.rollback()  # end the read transaction before the import takes its locks
    if pages:
        imported = import_integreat_pages(
            session,
            None,
            region_slug,
            pages,
            region_name=region_name,
            source_language=source_code,
        )
        for code, count in imported.created.items():
            if code in report.languages:
                report.languages[code]["created"] = count
        report.created += sum(imported.created.values())
        report.unchanged += sum(imported.unchanged.values())
        report.changed_translation_ids += imported.changed_translation_ids
    if items:
        content = import_integreat_content(session, None, region_slug, items)
        for (code, kind), count in content.created_kinds.items():
            listed = report.content.get(f"{code}/{LISTING_OF_KIND[kind]}")
            if listed is not None:
                listed["created"] = count
        report.created += sum(content.created.values())
        report.unchanged += sum(content.unchanged.values())
        report.changed_translation_ids += content.changed_translation_ids
    if progress:
        progress(total, total, f"stored {report.created} new version(s)")
    _remember(session, region_slug, listings)
    return report


def _states(session: Session, region: Region | None) -> dict[tuple[str, str], CmsSyncState]:
    if region is None:
        return {}
    return {
        (state.language_code, state.kind): state
        for state in session.scalars(
            select(CmsSyncState).where(CmsSyncState.region_id == region.id)
        )
    }


def _remember(session: Session, region_slug: str, listings: Sequence[Listing]) -> None:
    """Keep each listing's validators for the next run (a failed one keeps the old ones)."""
    region = session.scalar(select(Region).where(Region.slug == region_slug))
    if region is None:  # nothing was read, so nothing was imported
        return
    states = _states(session, region)
    now = utcnow()
    for listing in listings:
        state = states.get((listing.language, listing.kind))
        if state is None:
            state = CmsSyncState(
                region_id=region.id, language_code=listing.language, kind=listing.kind
            )
            states[(listing.language, listing.kind)] = state
            session.add(state)
        state.url = listing.url[:1000]
        if listing.status == "failed":
            state.error = "; ".join(listing.errors)
            continue
        if listing.status == "changed":
            state.etag = (listing.etag or None) and listing.etag[:300]
            state.last_modified = (listing.last_modified or None) and listing.last_modified[:100]
            state.pages = len(listing.pages or listing.items)
        state.error = "; ".join(listing.errors)
        state.synced_at = now
    session.commit()
