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

__all__ = ["Listing", "SyncClient", "SyncError"]

DEFAULT_TIMEOUT_S = 30.0


class SyncError(Exception):
    """The instance could not be read (network, HTTP status, not JSON): names what and why."""


@dataclass
class Listing:
    """One language's page listing. status: changed | not_modified | failed."""

    language: str
    status: str
    url: str
    pages: list[IntegreatPage] = field(default_factory=list)
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
        """One language's listing: not_modified (304), changed (pages read; `errors` names
        each page that could not be), or failed (`errors` says why)."""
        url = f"{self.base_url}/api/v3/{quote(region)}/{quote(language)}/pages/"
        headers = {"Accept": "application/json"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            response = self.http.get(url, headers=headers, timeout=self.timeout)
        except requests.RequestException as error:
            return Listing(language, "failed", url, errors=[f"{url}: {_reason(error)}"])
        if response.status_code == 304:
            return Listing(language, "not_modified", url, etag=etag, last_modified=last_modified)
        if response.status_code != 200:
            return Listing(
                language,
                "failed",
                url,
                errors=[f"{url}: HTTP {response.status_code} {response.reason or ''}".rstrip()],
            )
        try:
            data: Any = response.json()
        except ValueError as error:
            return Listing(language, "failed", url, errors=[f"{url}: not JSON ({error})"])
        if not isinstance(data, list):
            return Listing(language, "failed", url, errors=[f"{url}: not a list of pages"])
        listing = Listing(
            language,
            "changed",
            url,
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
        )
        for position, item in enumerate(data):
            where = f"{url}[{position}]"
            if isinstance(item, dict) and item.get("id") is not None:
                where += f" (id {item['id']})"
            try:
                listing.pages.extend(parse_pages([item], language=language, source=where))
            except (IntegreatFormatError, ValueError, TypeError, KeyError) as error:
                message = str(error).replace(f"{where}[0]", where, 1)
                listing.errors.append(message if message.startswith(where) else f"{where}: {error}")
        return listing


def _reason(error: requests.RequestException) -> str:
    if isinstance(error, requests.Timeout):
        return "timed out"
    if isinstance(error, requests.ConnectionError):
        return "cannot connect"
    if isinstance(error, requests.HTTPError) and error.response is not None:
        return f"HTTP {error.response.status_code} {error.response.reason or ''}".rstrip()
    return type(error).__name__
