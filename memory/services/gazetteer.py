"""Each region's gazetteer of local details: built from its own pages and settings, edited by
its editors, and read by suggestions and page reuse so a donor's details never travel silently.

A build finds the region's candidates in the latest public source-language version of each of
its pages (`matchers.local_details.gather_entries`), leaves out what is as common in other
regions' pages (`distinctive`: federal hotlines, the BAMF, shared cities), and learns the names
its own translations use for its places ("München" → "Munich") from its aligned units. Editors
add entries, correct them (which makes them theirs: a rebuild leaves them alone) and remove
automatic ones (kept as removed, so a rebuild does not bring them back).

A region never built is read as if built now, in memory (cached per process until its pages
change), so suggestions work before anyone runs `flask tm gazetteer-build`; nothing is written
on that path.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from matchers import local_details
from matchers.local_details import Gazetteer, RegionTexts
from memory.authorization import Action, Actor, authorize
from memory.errors import InvalidInput, NotFound
from memory.gazetteer_models import (
    GazetteerBuild,
    GazetteerEntry,
    GazetteerKind,
    GazetteerOrigin,
)
from memory.models import Language, Page, PageTranslation, Region, TranslationStatus, utcnow
from memory.segmentation import html_to_text
from memory.services.regions import get_region
from memory.tm_models import TranslationUnit

__all__ = [
    "GazetteerView",
    "build_gazetteer",
    "delete_entry",
    "gazetteer_for",
    "gazetteers_for",
    "get_gazetteer",
    "put_entry",
    "update_entry",
]

VALUE_MAX = 300  # GazetteerEntry.value is a String(300)


@dataclass
class EntryView:
    """One entry as the API shows it; id None for a region that was never built."""

    id: int | None
    kind: str
    value: str
    key: str
    names: dict[str, str]
    origin: str
    removed: bool
    frequency: int


@dataclass
class GazetteerView:
    region: Region
    built_at: datetime | None
    pages: int
    entries: list[EntryView] = field(default_factory=list)


@dataclass
class BuildReport:
    region: str
    pages: int
    other_regions: int
    entries: int
    added: int
    updated: int
    dropped: int
    by_kind: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


# --------------------------------------------------------------------------- reading


def get_gazetteer(
    session: Session, region_slug: str, *, kind: str | None = None, include_removed: bool = False
) -> GazetteerView:
    """A region's gazetteer (public), most frequent first within each kind."""
    region = get_region(session, region_slug)
    build = session.get(GazetteerBuild, region.id)
    if build is None:
        entries = [
            EntryView(None, e.kind, e.value, e.key, dict(e.names), "auto", False, e.frequency)
            for e in gazetteer_for(session, region).entries
        ]
        view = GazetteerView(region, None, len(_source_texts(session, region)), entries)
    else:
        rows = session.scalars(select(GazetteerEntry).where(GazetteerEntry.region_id == region.id))
        view = GazetteerView(region, build.built_at, build.pages, [_view(row) for row in rows])
    view.entries = [
        e
        for e in view.entries
        if (kind is None or e.kind == kind) and (include_removed or not e.removed)
    ]
    order = {k: i for i, k in enumerate(local_details.KINDS)}
    view.entries.sort(key=lambda e: (order.get(e.kind, 99), -e.frequency, e.value))
    return view


def _view(row: GazetteerEntry) -> EntryView:
    return EntryView(
        row.id,
        row.kind.value,
        row.value,
        row.key,
        dict(row.names or {}),
        row.origin.value,
        row.removed,
        row.frequency,
    )


_CACHE_SIZE = 256
_cache: OrderedDict[tuple[Any, ...], Gazetteer] = OrderedDict()
_cache_lock = threading.Lock()


def gazetteer_for(session: Session, region: Region) -> Gazetteer:
    """The region's gazetteer for matching: its stored entries less the removed ones, or, if it
    was never built, the entries a build would find (computed once per process and state)."""
    build = session.get(GazetteerBuild, region.id)
    if build is not None:
        count, changed = session.execute(
            select(func.count(GazetteerEntry.id), func.max(GazetteerEntry.updated_at)).where(
                GazetteerEntry.region_id == region.id
            )
        ).one()
        state: tuple[Any, ...] = ("built", build.built_at, count, changed)
    else:
        count, last = session.execute(
            select(func.count(PageTranslation.id), func.max(PageTranslation.id))
            .join(Page, PageTranslation.page_id == Page.id)
            .where(Page.region_id == region.id)
        ).one()
        state = ("pages", count, last)
    bind = session.get_bind()
    key = (str(getattr(bind, "url", "")), region.id, *state)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached
    if build is not None:
        rows = session.scalars(
            select(GazetteerEntry).where(
                GazetteerEntry.region_id == region.id, GazetteerEntry.removed.is_(False)
            )
        )
        entries = [
            local_details.GazetteerEntry(
                row.kind.value, row.value, row.key, dict(row.names or {}), row.frequency
            )
            for row in rows
        ]
    else:
        entries = _computed(session, region)
    gazetteer = Gazetteer(region.slug, entries)
    with _cache_lock:
        _cache[key] = gazetteer
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return gazetteer


def gazetteers_for(session: Session, slugs: Sequence[str]) -> dict[str, Gazetteer]:
    """Gazetteers of several regions by slug; unknown slugs are left out."""
    found: dict[str, Gazetteer] = {}
    for slug in dict.fromkeys(slugs):
        region = session.scalar(select(Region).where(Region.slug == slug))
        if region is not None:
            found[slug] = gazetteer_for(session, region)
    return found


# --------------------------------------------------------------------------- building


def _source_texts(session: Session, region: Region) -> list[str]:
    """Title and plain text of the latest public version of each page in its source language."""
    rows = session.execute(
        select(
            PageTranslation.page_id,
            PageTranslation.version,
            PageTranslation.title,
            PageTranslation.content,
        )
        .join(Page, PageTranslation.page_id == Page.id)
        .where(
            Page.region_id == region.id,
            PageTranslation.language_id == Page.source_language_id,
            PageTranslation.status == TranslationStatus.PUBLIC,
        )
    )
    latest: dict[int, tuple[int, str, str]] = {}
    for page_id, version, title, content in rows:
        if page_id not in latest or version > latest[page_id][0]:
            latest[page_id] = (version, title, content or "")
    return [
        f"{title}\n{html_to_text(content)}" for _, (_, title, content) in sorted(latest.items())
    ]


def _region_settings(region: Region) -> tuple[list[str], list[str]]:
    names = [region.name] if region.name and region.name != region.slug else []
    domains = [region.base_url] if region.base_url else []
    return names, domains


def _computed(session: Session, region: Region) -> list[local_details.GazetteerEntry]:
    """The entries a build of `region` finds now (nothing stored)."""
    entries, _, _ = _compute(session, region)
    return entries


def _compute(
    session: Session, region: Region
) -> tuple[list[local_details.GazetteerEntry], int, int]:
    """(entries, pages, other regions): what a build of `region` finds in the database now."""
    texts = _source_texts(session, region)
    names, domains = _region_settings(region)
    found = local_details.gather_entries(RegionTexts(region.slug, names, texts, domains))
    others = []
    for other in session.scalars(select(Region).where(Region.id != region.id)):
        other_texts = _source_texts(session, other)
        if other_texts:
            others.append((len(other_texts), local_details.occurrences(found, other_texts)))
    own_names = {
        ("place", local_details.detail_key("place", name))
        for name in local_details.region_names(RegionTexts(region.slug, names, texts))
    }
    kept = local_details.distinctive(found, len(texts), others, keep=own_names)
    return _with_names(session, region, kept), len(texts), len(others)


def _with_names(
    session: Session, region: Region, entries: list[local_details.GazetteerEntry]
) -> list[local_details.GazetteerEntry]:
    """Entries with the names the region's own translations give its places, per language."""
    places = [e.value for e in entries if e.kind == "place"]
    if not places:
        return entries
    codes = {row.id: row.code for row in session.execute(select(Language.id, Language.code))}
    pairs: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for source, target, language_id in session.execute(
        select(
            TranslationUnit.source_text,
            TranslationUnit.target_text,
            TranslationUnit.target_language_id,
        ).where(
            TranslationUnit.region_id == region.id,
            TranslationUnit.source_language_id == region.source_language_id,
        )
    ):
        pairs[language_id].append((source, target))
    names: dict[str, dict[str, str]] = defaultdict(dict)
    for language_id, language_pairs in pairs.items():
        code = codes.get(language_id)
        if code is None:
            continue
        for place, name in local_details.derive_names(places, language_pairs).items():
            names[place][code] = name
    return [
        local_details.GazetteerEntry(e.kind, e.value, e.key, names[e.value], e.frequency)
        if e.value in names
        else e
        for e in entries
    ]


def build_gazetteer(session: Session, actor: Actor | None, region_slug: str) -> BuildReport:
    """Build (or rebuild) a region's gazetteer from its pages and settings; returns counts.

    Automatic entries are replaced by what the build finds; editors' entries and their removals
    stay. `actor=None` is the operator at the command line.
    """
    region = get_region(session, region_slug)
    if actor is not None:
        authorize(actor, Action.EDIT_GAZETTEER, region.slug)
    report = _build(session, region)
    session.commit()
    return report


def _build(session: Session, region: Region) -> BuildReport:
    entries, pages, other_regions = _compute(session, region)
    existing = {
        (row.kind.value, row.key): row
        for row in session.scalars(
            select(GazetteerEntry).where(GazetteerEntry.region_id == region.id)
        )
    }
    found = set()
    added = updated = 0
    now = utcnow()
    for entry in entries:
        pair = (entry.kind, entry.key)
        found.add(pair)
        row = existing.get(pair)
        if row is None:
            session.add(
                GazetteerEntry(
                    region_id=region.id,
                    kind=GazetteerKind(entry.kind),
                    value=entry.value[:VALUE_MAX],
                    key=entry.key[:VALUE_MAX],
                    names=dict(entry.names),
                    origin=GazetteerOrigin.AUTO,
                    frequency=entry.frequency,
                    updated_at=now,
                )
            )
            added += 1
        elif row.origin is GazetteerOrigin.AUTO:
            new_names = dict(entry.names)
            if (row.value, row.frequency, row.names or {}) != (
                entry.value[:VALUE_MAX],
                entry.frequency,
                new_names,
            ):
                row.value = entry.value[:VALUE_MAX]
                row.frequency = entry.frequency
                row.names = new_names
                row.updated_at = now
                updated += 1
        else:
            row.frequency = entry.frequency
    gone = [
        row.id
        for pair, row in existing.items()
        if pair not in found and row.origin is GazetteerOrigin.AUTO and not row.removed
    ]
    if gone:
        session.execute(delete(GazetteerEntry).where(GazetteerEntry.id.in_(gone)))
    build = session.get(GazetteerBuild, region.id)
    if build is None:
        build = GazetteerBuild(region_id=region.id)
        session.add(build)
    build.built_at = now
    build.pages = pages
    build.other_regions = other_regions
    session.flush()
    total = session.scalar(
        select(func.count(GazetteerEntry.id)).where(
            GazetteerEntry.region_id == region.id, GazetteerEntry.removed.is_(False)
        )
    )
    build.entries = int(total or 0)
    by_kind: dict[str, int] = defaultdict(int)
    for entry in entries:
        by_kind[entry.kind] += 1
    return BuildReport(
        region=region.slug,
        pages=pages,
        other_regions=other_regions,
        entries=build.entries,
        added=added,
        updated=updated,
        dropped=len(gone),
        by_kind=dict(by_kind),
    )


# --------------------------------------------------------------------------- editing


def _editable(session: Session, actor: Actor | None, region_slug: str) -> Region:
    region = get_region(session, region_slug)
    authorize(actor, Action.EDIT_GAZETTEER, region.slug)
    if session.get(GazetteerBuild, region.id) is None:
        # Edits apply to stored entries: the first edit stores the automatic ones.
        _build(session, region)
    return region


def _clean_value(kind: str, value: str) -> tuple[str, str]:
    value = " ".join(value.split())
    if not value:
        raise InvalidInput("The value is empty.", errors={"value": ["Empty value."]})
    if len(value) > VALUE_MAX:
        raise InvalidInput("The value is too long.", errors={"value": [f"At most {VALUE_MAX}."]})
    key = local_details.detail_key(kind, value)
    if kind == "phone" and local_details.phone_key(value) is None:
        raise InvalidInput(
            f"'{value}' is not a phone number.", errors={"value": ["Not a phone number."]}
        )
    if kind == "url":
        value = key  # a web address is kept as its domain
    return value, key


def _clean_names(names: Mapping[str, str] | None) -> dict[str, str]:
    cleaned = {}
    for code, name in (names or {}).items():
        name = " ".join(str(name).split())
        if name:
            cleaned[str(code)] = name[:VALUE_MAX]
    return cleaned


def put_entry(
    session: Session,
    actor: Actor | None,
    region_slug: str,
    *,
    kind: str,
    value: str,
    names: Mapping[str, str] | None = None,
) -> tuple[EntryView, bool]:
    """Add an editor's entry, or take over the entry of the same kind and value (which a
    removal had hidden: it comes back); returns (entry, created)."""
    region = _editable(session, actor, region_slug)
    clean, key = _clean_value(kind, value)
    row = session.scalar(
        select(GazetteerEntry).where(
            GazetteerEntry.region_id == region.id,
            GazetteerEntry.kind == GazetteerKind(kind),
            GazetteerEntry.key == key,
        )
    )
    created = row is None
    if row is None:
        row = GazetteerEntry(
            region_id=region.id, kind=GazetteerKind(kind), key=key, frequency=0, names={}
        )
        session.add(row)
    row.value = clean
    if names is not None:
        row.names = _clean_names(names)
    row.origin = GazetteerOrigin.MANUAL
    row.removed = False
    row.updated_at = utcnow()
    session.commit()
    return _view(row), created


def _entry_or_404(session: Session, region: Region, entry_id: int) -> GazetteerEntry:
    row = session.get(GazetteerEntry, entry_id) if 0 < entry_id < 2**31 else None
    if row is None or row.region_id != region.id:
        raise NotFound(
            f"Region '{region.slug}' has no gazetteer entry {entry_id}.",
            errors={"entry": [f"No entry {entry_id}."]},
        )
    return row


def update_entry(
    session: Session,
    actor: Actor | None,
    region_slug: str,
    entry_id: int,
    data: Mapping[str, Any],
) -> EntryView:
    """Correct an entry's value or names, or remove/restore it (`removed`); a corrected
    automatic entry becomes the editors' (a rebuild leaves it alone)."""
    region = _editable(session, actor, region_slug)
    row = _entry_or_404(session, region, entry_id)
    if "value" in data:
        clean, key = _clean_value(row.kind.value, data["value"])
        if key != row.key and session.scalar(
            select(GazetteerEntry.id).where(
                GazetteerEntry.region_id == region.id,
                GazetteerEntry.kind == row.kind,
                GazetteerEntry.key == key,
            )
        ):
            raise InvalidInput(
                f"Region '{region.slug}' has this {row.kind.value} already.",
                errors={"value": ["Another entry has this value."]},
            )
        row.value, row.key = clean, key
        row.origin = GazetteerOrigin.MANUAL
    if "names" in data:
        row.names = _clean_names(data["names"])
        row.origin = GazetteerOrigin.MANUAL
    if "removed" in data:
        row.removed = bool(data["removed"])
    row.updated_at = utcnow()
    session.commit()
    return _view(row)


def delete_entry(session: Session, actor: Actor | None, region_slug: str, entry_id: int) -> None:
    """Remove an entry: an editor's is deleted; an automatic one is kept as removed, so the
    next build does not bring it back."""
    region = _editable(session, actor, region_slug)
    row = _entry_or_404(session, region, entry_id)
    if row.origin is GazetteerOrigin.MANUAL:
        session.delete(row)
    else:
        row.removed = True
        row.updated_at = utcnow()
    session.commit()


# --------------------------------------------------------------------------- page reuse

# Offices that stand for the local authority as a whole: one of them proposes another.
_AUTHORITY_TYPES = frozenset(
    {
        "Landratsamt",
        "Landkreis",
        "Landeshauptstadt",
        "Stadt",
        "Stadtverwaltung",
        "Gemeinde",
        "Markt",
    }
)


@dataclass(frozen=True)
class DetailToReplace:
    """A donor's local detail in a reused page, and the recipient's value where its gazetteer
    has one of the same kind (None: the editor fills it in)."""

    kind: str
    value: str
    occurrences: int
    proposed: str | None


def details_to_replace(
    session: Session, donor_region: Region, recipient: Region, text: str, language: str
) -> list[DetailToReplace]:
    """The donor's local details in a page text (plain) that the recipient does not share, in
    text order, each with a proposed value of the recipient: its own name for the donor's name,
    its main postal code with town, its office of the same type (or its local authority for the
    donor's), its main web domain."""
    donor = gazetteer_for(session, donor_region)
    home = gazetteer_for(session, recipient)
    found: dict[tuple[str, str], DetailToReplace] = {}
    for detail in donor.find(text, language):
        pair = (detail.kind, detail.key)
        if home.has(*pair):
            continue
        if pair in found:
            item = found[pair]
            found[pair] = DetailToReplace(
                item.kind, item.value, item.occurrences + 1, item.proposed
            )
            continue
        found[pair] = DetailToReplace(
            detail.kind, detail.value, 1, _proposal(detail, donor, home, language)
        )
    return list(found.values())


def _proposal(
    detail: local_details.LocalDetail, donor: Gazetteer, home: Gazetteer, language: str
) -> str | None:
    main = home.places[0] if home.places else None
    if detail.kind == "place":
        donor_main = donor.places[0] if donor.places else None
        if main is None or donor_main is None:
            return None
        if detail.key == local_details.detail_key("place", donor_main) or detail.value in (
            donor.name_in(donor_main, language),
        ):
            return home.name_in(main, language)
        return None
    if detail.kind == "postal_code_town":
        codes = home.of_kind("postal_code_town")
        in_main = [e for e in codes if main and e.value.endswith(" " + main)]
        return (in_main or codes)[0].value if codes else None
    if detail.kind == "office":
        parts = local_details.split_office(detail.value)
        if parts is None:
            return None
        offices = [(local_details.split_office(e.value), e) for e in home.of_kind("office")]
        same = [e for split, e in offices if split and split[0] == parts[0]]
        if not same and parts[0] in _AUTHORITY_TYPES:
            same = [e for split, e in offices if split and split[0] in _AUTHORITY_TYPES]
        return same[0].value if same else None
    if detail.kind == "url":
        domains = home.of_kind("url")
        return domains[0].value if domains else None
    return None  # a phone, e-mail or address of the recipient for this topic: the editor's
