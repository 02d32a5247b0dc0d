"""Read Integreat API v3 events, locations (POIs) and imprints into plain records.

Pure: no Flask, no SQLAlchemy. Shapes: `/api/v3/{region}/{language}/events/`,
`…/locations/` (lists) and `…/disclaimer/` (the imprint, one object), as the CMS's own expected
API outputs show them (`../shared/corpus/integreat-cms/api-v3/`).

Each item becomes a `ContentItem`: its translatable text (title, content HTML) and its *key*,
the id it has in the region's source language, which every language of it shares (the way a
page's translations share the page's id):

- a location: `location:{id of its source-language translation}` (`available_languages` links
  the others);
- an event: `event:{slug of its source-language translation}` — API v3 gives events no id, and a
  recurring event is listed once per date (`…/events/test-veranstaltung$2030-01-03/`): the part
  before `$` is the event, so its occurrences are one item;
- the imprint: `imprint`.

Local details — a location's address, postal code, town, coordinates, phone, e-mail, website,
category and opening hours, an event's dates and place — are kept apart in `details`: they are
never part of the translatable text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.integreat import IntegreatFormatError, language_code, read_json_file

__all__ = [
    "ContentItem",
    "parse_events",
    "parse_imprint",
    "parse_locations",
    "read_content_dumps",
]

# augsburg_de_events.json, en_locations.json.gz, de_imprint.json
_FILE_RE = re.compile(
    r"(?:^|_)(?P<language>[a-z]{2,3}(?:-[a-z0-9]+)?)_(?P<kind>events|locations|imprint)"
    r"\.json(?:\.gz)?$"
)

KINDS = ("event", "location", "imprint")


@dataclass(frozen=True)
class ContentItem:
    kind: str  # event | location | imprint
    key: str  # the item's id in the region, shared by all its languages
    language: str
    title: str
    content: str
    url: str
    path: str
    last_updated: str | None
    translation_id: str | None
    details: dict[str, Any] = field(default_factory=dict)
    meta_description: str = ""


def _content_item(
    kind: str, key: str, language: str, title: str, item: dict[str, Any], **extra: Any
) -> ContentItem:
    """A content item with the fields every API v3 kind has (content, url, path, dates, id)."""
    return ContentItem(
        kind=kind,
        key=key,
        language=language,
        title=title,
        content=_text(item.get("content")),
        url=_text(item.get("url")),
        path=_text(item.get("path")),
        last_updated=item.get("last_updated"),
        translation_id=str(item["id"]) if item.get("id") is not None else None,
        **extra,
    )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _items(data: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(data, list):
        raise IntegreatFormatError(f"{where}: expected a JSON list")
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            raise IntegreatFormatError(f"{where}[{position}]: expected an object")
    return data


def _require_title(item: dict[str, Any], where: str) -> str:
    title = item.get("title")
    if not isinstance(title, str) or not title.strip():
        raise IntegreatFormatError(f"{where}: missing field 'title'")
    return title


def _slug(path: str | None) -> str:
    parts = [part for part in (path or "").split("/") if part]
    return parts[-1].split("$", 1)[0] if parts else ""


def _link(item: dict[str, Any], source_language: str) -> dict[str, Any] | None:
    for code, link in (item.get("available_languages") or {}).items():
        if isinstance(link, dict) and language_code(code, "available_languages") == source_language:
            return link
    return None


def _place(location: Any) -> dict[str, Any]:
    if not isinstance(location, dict):
        return {}
    keys = ("name", "address", "postcode", "town", "state", "region", "country")
    place: dict[str, Any] = {key: location[key] for key in keys if location.get(key)}
    for key in ("latitude", "longitude"):
        if isinstance(location.get(key), int | float):
            place[key] = float(location[key])
    return place


def parse_locations(
    data: Any, *, language: str, source_language: str, source: str = "locations"
) -> list[ContentItem]:
    """Locations (POIs) of one language; their keys are the source-language translation ids."""
    language = language_code(language, source)
    items = []
    for position, item in enumerate(_items(data, source)):
        where = f"{source}[{position}]"
        title = _require_title(item, where)
        if language == source_language:
            key_id = item.get("id")
        else:
            link = _link(item, source_language)
            key_id = link.get("id") if link else None
        if key_id is None:
            raise IntegreatFormatError(
                f"{where}: no id of its {source_language} translation (id or available_languages)"
            )
        category: dict[str, Any] = (
            item["category"] if isinstance(item.get("category"), dict) else {}
        )
        details: dict[str, Any] = {"place": _place(item.get("location"))}
        for key, name in (("phone_number", "phone"), ("email", "email"), ("website", "website")):
            if _text(item.get(key)).strip():
                details[name] = item[key].strip()
        if category and category.get("name"):
            details["category"] = category["name"]
        if isinstance(item.get("opening_hours"), list):
            details["opening_hours"] = item["opening_hours"]
        if item.get("temporarily_closed") is not None:
            details["temporarily_closed"] = bool(item["temporarily_closed"])
        items.append(
            _content_item(
                "location",
                f"location:{int(key_id)}",
                language,
                title,
                item,
                details=details,
                meta_description=_text(item.get("meta_description")),
            )
        )
    return items


def parse_events(
    data: Any, *, language: str, source_language: str, source: str = "events"
) -> list[ContentItem]:
    """Events of one language, a recurring event once (its first listed date's details)."""
    language = language_code(language, source)
    items: dict[str, ContentItem] = {}
    for position, item in enumerate(_items(data, source)):
        where = f"{source}[{position}]"
        title = _require_title(item, where)
        if language == source_language:
            slug = _slug(item.get("path"))
        else:
            link = _link(item, source_language)
            slug = _slug(link.get("path")) if link else ""
        if not slug:
            raise IntegreatFormatError(
                f"{where}: no path of its {source_language} translation (path or "
                "available_languages)"
            )
        key = f"event:{slug}"
        if key in items:
            continue  # another date of the same recurring event
        event: dict[str, Any] = item["event"] if isinstance(item.get("event"), dict) else {}
        details: dict[str, Any] = {
            name: event[name]
            for name in ("start", "end", "all_day", "timezone")
            if event.get(name) is not None
        }
        if item.get("recurrence_rule"):
            details["recurrence_rule"] = item["recurrence_rule"]
        place = _place(item.get("location"))
        if place:
            details["place"] = place
        items[key] = _content_item("event", key, language, title, item, details=details)
    return list(items.values())


def parse_imprint(data: Any, *, language: str, source: str = "imprint") -> list[ContentItem]:
    """The region's imprint in one language (an empty answer: none)."""
    language = language_code(language, source)
    if data in (None, {}, []):
        return []
    if not isinstance(data, dict):
        raise IntegreatFormatError(f"{source}: expected a JSON object")
    return [_content_item("imprint", "imprint", language, _require_title(data, source), data)]


def read_content_dumps(
    path: Path, *, source_language: str, region: str | None = None
) -> list[ContentItem]:
    """Events, locations and imprints of the dump files in a folder (or one file), named
    `[region_]{language}_{events|locations|imprint}.json[.gz]`, sorted so runs repeat; with
    `region`, files named for another region are left out."""
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    items: list[ContentItem] = []
    matched = 0
    for file in files:
        match = _FILE_RE.search(file.name)
        if match is None:
            continue
        prefix = file.name[: match.start()]
        if region is not None and prefix and prefix != region:
            continue
        matched += 1
        data = read_json_file(file)
        language, kind = match["language"], match["kind"]
        if kind == "events":
            items += parse_events(
                data, language=language, source_language=source_language, source=str(file)
            )
        elif kind == "locations":
            items += parse_locations(
                data, language=language, source_language=source_language, source=str(file)
            )
        else:
            items += parse_imprint(data, language=language, source=str(file))
    if not matched:
        raise IntegreatFormatError(
            f"{path}: no '{{language}}_events.json', '_locations.json' or '_imprint.json' files"
        )
    return items
