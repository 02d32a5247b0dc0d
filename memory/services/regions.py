"""Regions and languages: read by anyone, written by admins."""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, make_transient_to_detached

from memory.authorization import Action, Actor, authorize
from memory.errors import Conflict, InvalidInput, NotFound
from memory.language_tags import service_language_code
from memory.models import (
    Language,
    Region,
    RegionKind,
    RegionLanguage,
    TextDirection,
    region_neighbours,
)

RTL_LANGUAGES = frozenset({"ar", "fa", "he", "ur", "ps", "ckb", "ku-arab", "dv", "yi"})


def get_language(session: Session, code: str, *, field: str = "language") -> Language:
    """The language with this code, or NotFound naming the field."""
    language = session.scalar(select(Language).where(Language.code == code))
    if language is None:
        raise NotFound(
            f"Unknown language '{code}'.",
            errors={field: [f"Unknown language '{code}'. See GET /api/v1/languages."]},
        )
    return language


# Languages of each database (engine) by code, as detached copies: a lookup names two languages
# per request, and they change almost never. An entry lives LANGUAGE_CACHE_SECONDS, so another
# process's edit of a language's name or direction shows within that time; this process's own
# writes drop the engine's entries at once. A code the database lacks is never cached.
LANGUAGE_CACHE_SECONDS = 60.0
_language_cache: weakref.WeakKeyDictionary[Engine, dict[str, tuple[float, Language]]] = (
    weakref.WeakKeyDictionary()
)
_language_cache_lock = threading.Lock()


def cached_language(session: Session, code: str, *, field: str = "language") -> Language:
    """`get_language` without a query while this process has the language from the last
    LANGUAGE_CACHE_SECONDS; the instance is attached to `session` (merged without loading)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _language_cache_lock:
        entry = _language_cache.get(engine, {}).get(code)
    if entry is not None and time.monotonic() - entry[0] < LANGUAGE_CACHE_SECONDS:
        return session.merge(entry[1], load=False)
    language = get_language(session, code, field=field)
    copy = Language(**{c.key: getattr(language, c.key) for c in Language.__table__.columns})
    make_transient_to_detached(copy)
    with _language_cache_lock:
        _language_cache.setdefault(engine, {})[code] = (time.monotonic(), copy)
    return language


def forget_cached_languages(session: Session) -> None:
    """Drop this database's cached languages (after a language was created or changed)."""
    engine = session.get_bind()
    with _language_cache_lock:
        if isinstance(engine, Engine):
            _language_cache.pop(engine, None)


def list_languages(session: Session) -> Sequence[Language]:
    return session.scalars(select(Language).order_by(Language.code)).all()


def ensure_language(
    session: Session,
    code: str,
    *,
    bcp47_tag: str | None = None,
    name: str | None = None,
    english_name: str = "",
    direction: TextDirection | None = None,
    field: str = "language",
) -> Language:
    """Get or create a language (imports meet languages the store has not seen yet).

    A new code must be a service language code (a valid BCP 47 tag the API accepts,
    `memory.language_tags`), else InvalidInput naming `field`: no importer creates a language
    "12" that no route could name.
    """
    language = session.scalar(select(Language).where(Language.code == code))
    if language is None:
        try:
            if service_language_code(code) != code:
                raise ValueError(f"not a language code: {code!r} (write it in lowercase)")
        except ValueError as error:
            raise InvalidInput(
                f"'{code}' is not a language code.", errors={field: [str(error)]}
            ) from None
        language = Language(
            code=code,
            bcp47_tag=bcp47_tag or code,
            name=name or code,
            english_name=english_name,
            direction=direction
            or (TextDirection.RTL if code.split("-")[0] in RTL_LANGUAGES else TextDirection.LTR),
        )
        session.add(language)
        session.flush()
        forget_cached_languages(session)
    return language


def save_language(
    session: Session, actor: Actor | None, code: str, data: Mapping[str, Any]
) -> tuple[Language, bool]:
    """Create or update a language (admin). Returns (language, created)."""
    authorize(actor, Action.ADMINISTER)
    language = session.scalar(select(Language).where(Language.code == code))
    created = language is None
    if language is None:
        language = Language(code=code, bcp47_tag=code, name=code)
        session.add(language)
    for key in ("bcp47_tag", "name", "english_name", "direction"):
        if key in data:
            setattr(language, key, data[key])
    session.commit()
    forget_cached_languages(session)
    return language, created


def get_region(session: Session, slug: str) -> Region:
    region = session.scalar(select(Region).where(Region.slug == slug))
    if region is None:
        raise NotFound(
            f"Unknown region '{slug}'.", errors={"region": [f"Unknown region '{slug}'."]}
        )
    return region


# Where regions are, for ranking matches by region on every lookup: kept per process and
# database for REGION_CACHE_SECONDS. A slug the cache lacks is read anew (a region created by
# another process is found at once); any flush in this process that writes a region (its
# coordinates, neighbours …) drops the cache.
REGION_CACHE_SECONDS = 60.0
_places_cache: weakref.WeakKeyDictionary[Engine, tuple[float, RegionPlaces]] = (
    weakref.WeakKeyDictionary()
)
_places_lock = threading.Lock()


@dataclass(frozen=True)
class RegionPlaces:
    """Every region's id by slug, its neighbours and its coordinates."""

    ids: Mapping[str, int]
    neighbours: Mapping[int, frozenset[int]]
    coordinates: Mapping[int, tuple[float | None, float | None]]


def region_places(session: Session, slug: str | None = None) -> RegionPlaces:
    """The regions' places, from this process's cache when fresh and holding `slug`; else two
    statements (regions, neighbour pairs)."""
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    with _places_lock:
        entry = _places_cache.get(engine)
    if (
        entry is not None
        and time.monotonic() - entry[0] < REGION_CACHE_SECONDS
        and (slug is None or slug in entry[1].ids)
    ):
        return entry[1]
    rows = session.execute(select(Region.id, Region.slug, Region.latitude, Region.longitude))
    ids, coordinates = {}, {}
    for row in rows:
        ids[row.slug] = row.id
        coordinates[row.id] = (row.latitude, row.longitude)
    neighbours: dict[int, set[int]] = {}
    for region_id, neighbour_id in session.execute(
        select(region_neighbours.c.region_id, region_neighbours.c.neighbour_id)
    ):
        neighbours.setdefault(region_id, set()).add(neighbour_id)
    places = RegionPlaces(
        ids=ids,
        neighbours={key: frozenset(value) for key, value in neighbours.items()},
        coordinates=coordinates,
    )
    with _places_lock:
        _places_cache[engine] = (time.monotonic(), places)
    return places


@event.listens_for(Session, "after_flush")
def _forget_places_after_region_writes(session: Session, _context: object) -> None:
    # The new/dirty/deleted sets still show what this flush wrote.
    if any(isinstance(o, Region) for o in (*session.new, *session.dirty, *session.deleted)):
        engine = session.get_bind()
        with _places_lock:
            if isinstance(engine, Engine):
                _places_cache.pop(engine, None)


def list_regions(session: Session) -> Sequence[Region]:
    return session.scalars(select(Region).order_by(Region.slug)).all()


def region_language_parent(region: Region, language: Language) -> Language | None:
    """The language this region translates `language` from, by its language tree."""
    for node in region.languages:
        if node.language_id == language.id:
            return node.parent_language
    return None


def create_region(session: Session, actor: Actor | None, data: Mapping[str, Any]) -> Region:
    """Register a region (global admin)."""
    authorize(actor, Action.ADMINISTER)
    slug = data["slug"]
    if session.scalar(select(Region.id).where(Region.slug == slug)) is not None:
        raise Conflict(f"Region '{slug}' exists already.", errors={"slug": ["Already taken."]})
    region = Region(
        slug=slug,
        name=data.get("name") or slug,
        kind=RegionKind(data.get("kind", RegionKind.CITY)),
        source_language=get_language(
            session, data.get("source_language", "de"), field="source_language"
        ),
    )
    session.add(region)
    _apply_region_fields(session, region, data)
    session.commit()
    return region


def update_region(
    session: Session, actor: Actor | None, slug: str, data: Mapping[str, Any]
) -> Region:
    """Change a region's settings (its own admin or a global admin)."""
    region = get_region(session, slug)
    authorize(actor, Action.MANAGE_REGION, region.slug)
    for key in ("name", "kind"):
        if key in data:
            setattr(region, key, RegionKind(data[key]) if key == "kind" else data[key])
    if "source_language" in data:
        region.source_language = get_language(
            session, data["source_language"], field="source_language"
        )
    _apply_region_fields(session, region, data)
    session.commit()
    return region


def _apply_region_fields(session: Session, region: Region, data: Mapping[str, Any]) -> None:
    for key in (
        "latitude",
        "longitude",
        "license",
        "license_url",
        "attribution",
        "base_url",
        "mt_word_budget",
    ):
        if key in data and data[key] is not None:
            setattr(region, key, data[key])
    if "neighbours" in data:
        neighbours = []
        for neighbour_slug in data["neighbours"]:
            if neighbour_slug == region.slug:
                raise InvalidInput(
                    "A region is not its own neighbour.",
                    errors={"neighbours": ["A region is not its own neighbour."]},
                )
            neighbour = session.scalar(select(Region).where(Region.slug == neighbour_slug))
            if neighbour is None:
                raise InvalidInput(
                    f"Unknown region '{neighbour_slug}'.",
                    errors={"neighbours": [f"Unknown region '{neighbour_slug}'."]},
                )
            neighbours.append(neighbour)
        region.neighbours = neighbours
        session.flush()
        # Adjacency is symmetric: the neighbour lists the region too.
        for neighbour in neighbours:
            if region not in neighbour.neighbours:
                neighbour.neighbours.append(region)
    if "languages" in data:
        set_region_languages(session, region, data["languages"])


def set_region_languages(
    session: Session, region: Region, languages: Sequence[Mapping[str, Any]]
) -> None:
    """Replace the region's language tree: [{code, parent (code or None), visible}]."""
    existing = {node.language.code: node for node in region.languages}
    wanted: dict[str, RegionLanguage] = {}
    for entry in languages:
        language = get_language(session, entry["code"], field="languages")
        parent = entry.get("parent")
        parent_language = get_language(session, parent, field="languages") if parent else None
        node = existing.get(language.code) or RegionLanguage(language=language)
        node.parent_language = parent_language
        node.visible = entry.get("visible", True)
        wanted[language.code] = node
    region.languages = list(wanted.values())
    session.flush()
