"""Read Integreat API v3 page dumps (files, folders, or a live instance) into plain records."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from memory.language_tags import service_language_code

# /lkaugsburg/de/willkommen-lkaugsburg/ → region "lkaugsburg", language "de"
_PATH_RE = re.compile(r"^/(?P<region>[^/]+)/(?P<language>[^/]+)/")
_FILE_RE = re.compile(r"(?P<language>[a-z]{2,3}(?:-[a-z0-9]+)?)_pages\.json(?:\.gz)?$")


class IntegreatFormatError(ValueError):
    """A dump that is not an Integreat API v3 page list."""


@dataclass(frozen=True)
class LinkedTranslation:
    id: int
    url: str
    path: str


@dataclass(frozen=True)
class IntegreatPage:
    """One page translation as API v3 publishes it; `id` is the translation's id."""

    id: int
    language: str
    title: str
    content: str
    url: str
    path: str
    last_updated: str | None
    modified_gmt: str | None
    parent_id: int
    parent_path: str | None
    order: int
    excerpt: str = ""
    available_languages: dict[str, LinkedTranslation] = field(default_factory=dict)


@dataclass(frozen=True)
class IntegreatLanguage:
    code: str
    bcp47_tag: str
    native_name: str
    direction: str  # "ltr" | "rtl"


def language_code(tag: Any, where: str) -> str:
    """The service code of a language tag in a dump (valid BCP 47, lowercase), else
    IntegreatFormatError naming where it was found: a dump cannot create a language "12"."""
    try:
        return service_language_code(str(tag))
    except ValueError as error:
        raise IntegreatFormatError(f"{where}: {error}") from None


def _require(item: dict[str, Any], key: str, where: str) -> Any:
    if key not in item:
        raise IntegreatFormatError(f"{where}: missing field '{key}'")
    return item[key]


def parse_pages(
    data: Any, *, language: str | None = None, source: str = "dump"
) -> list[IntegreatPage]:
    """Parse one `/api/v3/{region}/{language}/pages/` response (a JSON list)."""
    if not isinstance(data, list):
        raise IntegreatFormatError(f"{source}: expected a JSON list of pages")
    pages = []
    for position, item in enumerate(data):
        where = f"{source}[{position}]"
        if not isinstance(item, dict):
            raise IntegreatFormatError(f"{where}: expected an object")
        path = _require(item, "path", where) or ""
        page_language = language or _language_from_path(path)
        if page_language is None:
            raise IntegreatFormatError(f"{where}: cannot tell the language from path '{path}'")
        page_language = language_code(page_language, where)
        parent = item.get("parent") or {}
        linked = {
            language_code(code, f"{where}.available_languages"): LinkedTranslation(
                id=int(link["id"]), url=link.get("url") or "", path=link.get("path") or ""
            )
            for code, link in (item.get("available_languages") or {}).items()
            if isinstance(link, dict) and link.get("id") is not None
        }
        pages.append(
            IntegreatPage(
                id=int(_require(item, "id", where)),
                language=page_language,
                title=_require(item, "title", where) or "",
                content=item.get("content") or "",
                url=item.get("url") or "",
                path=path,
                last_updated=item.get("last_updated"),
                modified_gmt=item.get("modified_gmt"),
                parent_id=int(parent.get("id") or 0),
                parent_path=parent.get("path"),
                order=int(item.get("order") or 0),
                excerpt=item.get("excerpt") or "",
                available_languages=linked,
            )
        )
    return pages


def _language_from_path(path: str) -> str | None:
    match = _PATH_RE.match(path or "")
    return match.group("language") if match else None


def region_from_pages(pages: Iterable[IntegreatPage]) -> str | None:
    """The region slug the pages' paths name, if any."""
    for page in pages:
        match = _PATH_RE.match(page.path)
        if match:
            return match.group("region")
    return None


def read_json_file(path: Path) -> Any:
    """JSON from a file, gzipped when its name ends in .gz."""
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        return json.loads(raw.decode("utf-8"))
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise IntegreatFormatError(f"{path}: {error}") from error


def read_dump_file(path: Path) -> list[IntegreatPage]:
    """Read one pages dump; the language comes from the pages' paths."""
    data = read_json_file(path)
    file_match = _FILE_RE.search(path.name)
    pages = parse_pages(data, source=str(path))
    if (
        file_match
        and pages
        and any(page.language != file_match.group("language") for page in pages)
    ):
        raise IntegreatFormatError(
            f"{path}: file name says '{file_match.group('language')}', page paths disagree"
        )
    return pages


def read_dumps(path: Path) -> Iterator[IntegreatPage]:
    """Pages of a dump file, or of every `*pages.json` below a folder (sorted, so runs repeat)."""
    if path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*pages.json*")
            if _FILE_RE.search(p.name) or p.name == "pages.json"
        )
        if not files:
            raise IntegreatFormatError(f"{path}: no '*pages.json' files in this folder")
        for file in files:
            yield from read_dump_file(file)
    elif path.is_file():
        yield from read_dump_file(path)
    else:
        raise IntegreatFormatError(f"{path}: no such file or folder")


class IntegreatClient:
    """Pull a region from a live Integreat instance (API v3)."""

    def __init__(
        self, base_url: str, *, timeout: float = 30.0, session: requests.Session | None = None
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = session or requests.Session()

    def _get(self, path: str) -> Any:
        response = self.http.get(f"{self.base_url}{path}", timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def languages(self, region: str) -> list[IntegreatLanguage]:
        data = self._get(f"/api/v3/{quote(region)}/languages/")
        where = f"{self.base_url} {region}/languages"
        languages = []
        for item in data:
            tag = item.get("bcp47_tag") or item["code"]
            language_code(tag, f"{where} bcp47_tag")  # valid, kept as written ("de-DE")
            languages.append(
                IntegreatLanguage(
                    code=language_code(item["code"], where),
                    bcp47_tag=tag,
                    native_name=item.get("native_name") or item["code"],
                    direction="rtl" if item.get("dir") == "RIGHT_TO_LEFT" else "ltr",
                )
            )
        return languages

    def pages(self, region: str, language: str) -> list[IntegreatPage]:
        data = self._get(f"/api/v3/{quote(region)}/{quote(language)}/pages/")
        return parse_pages(data, language=language, source=f"{self.base_url} {region}/{language}")


def is_url(location: str) -> bool:
    return urlsplit(location).scheme in ("http", "https")
