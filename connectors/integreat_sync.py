"""Pull what changed from a live Integreat instance (API v3): conditional page listings.

Pure: no Flask, no SQLAlchemy (`memory.services.integreat_sync` stores what this reads and the
listing validators for the next run).

A region's pages come as one listing per language (`/api/v3/{region}/{language}/pages/`). Each
is fetched with the validators of the previous run (`If-None-Match` with its ETag,
`If-Modified-Since` with its Last-Modified): an instance that answers 304 sends nothing, and the
language is skipped. A listing that did change is read page by page, so one malformed page is
one error naming it, not a failed language; which pages really changed is decided by the
importer (content hash of each translation, `last_updated` kept), so an unchanged page is never
stored or processed again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import requests

from connectors.integreat import (
    IntegreatClient,
    IntegreatFormatError,
    IntegreatLanguage,
    IntegreatPage,
    parse_pages,
)
from connectors.integreat_content import (
    ContentItem,
    parse_events,
    parse_imprint,
    parse_locations,
)

__all__ = ["ENDPOINTS", "KINDS", "Listing", "SyncClient", "SyncError"]

# What a sync reads per language, and where API v3 serves it.
ENDPOINTS = {
    "pages": "pages",
    "events": "events",
    "locations": "locations",
    "imprint": "disclaimer",
}
KINDS = tuple(ENDPOINTS)

DEFAULT_TIMEOUT_S = 30.0


class SyncError(Exception):
    """The instance could not be read (network, HTTP status, not JSON): names what and why."""


@dataclass
class Listing:
    """One language's listing of one kind. status: changed | not_modified | failed | absent."""

    language: str
    status: str
    url: str
    kind: str = "pages"  # pages | events | locations | imprint
    pages: list[IntegreatPage] = field(default_factory=list)
    items: list[ContentItem] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    errors: list[str] = field(default_factory=list)


class SyncClient:
    """Conditional reads of one Integreat instance."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_S,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = session or requests.Session()
        self._client = IntegreatClient(self.base_url, timeout=timeout, session=self.http)

    def close(self) -> None:
        self.http.close()

    def languages(self, region: str) -> list[IntegreatLanguage]:
        """The region's languages; SyncError naming the address when they cannot be read."""
        url = f"{self.base_url}/api/v3/{quote(region)}/languages/"
        try:
            return self._client.languages(region)
        except requests.RequestException as error:
            raise SyncError(f"{url}: {_reason(error)}") from None
        except (ValueError, KeyError, TypeError, IntegreatFormatError) as error:
            raise SyncError(f"{url}: not a language list ({error})") from None

    def pages(
        self,
        region: str,
        language: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Listing:
        """One language's page listing: not_modified (304), changed (pages read; `errors`
        names each page that could not be), or failed (`errors` says why)."""
        return self.listing(region, language, "pages", etag=etag, last_modified=last_modified)

    def listing(
        self,
        region: str,
        language: str,
        kind: str,
        *,
        source_language: str = "de",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Listing:
        """One language's listing of `kind` (pages, events, locations, imprint), read
        conditionally. Pages go to `pages`, events, locations and the imprint to `items`
        (keyed by their `source_language` translation); absent (404): the instance has none."""
        endpoint = ENDPOINTS[kind]
        url = f"{self.base_url}/api/v3/{quote(region)}/{quote(language)}/{endpoint}/"
        headers = {"Accept": "application/json"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            response = self.http.get(url, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            return Listing(language, "failed", url, kind=kind, errors=[f"{url}: {_reason(error)}"])
        if response.status_code == 304:
            return Listing(
                language, "not_modified", url, kind=kind, etag=etag, last_modified=last_modified
            )
        if response.status_code == 404 and kind != "pages":
            return Listing(language, "absent", url, kind=kind)
        if response.status_code != 200:
            reason = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
            return Listing(language, "failed", url, kind=kind, errors=[f"{url}: {reason}"])
        try:
            data: Any = response.json()
        except ValueError as error:
            return Listing(
                language, "failed", url, kind=kind, errors=[f"{url}: not JSON ({error})"]
            )
        if kind == "imprint":
            data = [data] if isinstance(data, dict) and data else []
        if not isinstance(data, list):
            return Listing(language, "failed", url, kind=kind, errors=[f"{url}: not a list"])
        listing = Listing(
            language,
            "changed",
            url,
            kind=kind,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        for position, item in enumerate(data):
            where = f"{url}[{position}]"
            if isinstance(item, dict) and item.get("id") is not None:
                where += f" (id {item['id']})"
            try:
                if kind == "pages":
                    listing.pages.extend(parse_pages([item], language=language, source=where))
                else:
                    listing.items.extend(_content(kind, item, language, source_language, where))
            except (IntegreatFormatError, ValueError, TypeError, KeyError) as error:
                message = str(error).replace(f"{where}[0]", where, 1)
                listing.errors.append(message if message.startswith(where) else f"{where}: {error}")
        return listing


def _content(
    kind: str, item: Any, language: str, source_language: str, where: str
) -> list[ContentItem]:
    if kind == "events":
        return parse_events(
            [item], language=language, source_language=source_language, source=where
        )
    if kind == "locations":
        return parse_locations(
            [item], language=language, source_language=source_language, source=where
        )
    return parse_imprint(item, language=language, source=where)


def _reason(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "cannot connect"
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason or ''}".rstrip()
    return type(error).__name__
