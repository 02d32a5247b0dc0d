"""The units of a lookup's source forms, read as plain rows (`FoundUnit`) by one statement built
once (`units_of_forms`).

A lookup reads ≈ 25 units and changes none. Loaded as ORM objects, with their region and page
joined, by a statement built anew for each lookup, they cost ≈ 0.9 ms of CPU at 1 M units; the
same rows as `FoundUnit`s by a statement built at import, its language ids and hashes bound on
each call, ≈ 0.3 ms. A `FoundUnit` has the attributes of a `TranslationUnit` that scoring and a
match's origin read, `region` and `page` included (with the few fields shown), so the lookup
code takes either (`AnyUnit`). Every read of units by source form goes through here: a lookup's
exact and fuzzy candidates, a page's prefetched exact ones, a pivot's second legs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from memory.models import Origin, Page, Region
from memory.tm_models import TranslationUnit

# Units read per source form at most (the oldest): a form shared by thousands of units (a
# common sentence of every region) would otherwise make one lookup read them all.
MAX_UNITS_PER_FORM = 50


class RegionRef(NamedTuple):
    slug: str
    name: str


class PageRef(NamedTuple):
    external_id: str


@dataclass(frozen=True, slots=True)
class FoundUnit:
    """A translation unit as a lookup reads it (the columns named as on `TranslationUnit`)."""

    id: int
    source_text: str
    target_text: str
    source_form: str
    source_hash: str
    target_hash: str
    context_hash: str | None
    region_id: int | None
    page_id: int | None
    source_version: int | None
    target_version: int | None
    origin: Origin
    reviewed: bool
    rejections: int
    outdated: bool
    license: str
    attribution: str
    url: str
    import_batch: str | None
    translated_at: datetime | None
    region: RegionRef | None
    page: PageRef | None


# What the lookup code accepts: a unit loaded by the ORM or read here.
AnyUnit = TranslationUnit | FoundUnit

_COLUMN_NAMES = [field.name for field in fields(FoundUnit) if field.name not in ("region", "page")]

# On the tables, not the ORM classes: a Core statement skips the ORM's compile and result
# set-up, ≈ 0.07 ms of a lookup's ≈ 0.3 ms here (the same rows and types).
_UNIT = TranslationUnit.__table__.c
_REGION = Region.__table__.c
_PAGE = Page.__table__.c
_RANKED = (
    select(
        _UNIT.id,
        func.row_number().over(partition_by=_UNIT.source_hash, order_by=_UNIT.id).label("rank"),
    )
    .where(
        _UNIT.source_language_id == bindparam("source_id"),
        _UNIT.target_language_id == bindparam("target_id"),
        _UNIT.source_hash.in_(bindparam("hashes", expanding=True)),
    )
    .subquery()
)
_UNITS_OF_FORMS = (
    select(*(_UNIT[name] for name in _COLUMN_NAMES), _REGION.slug, _REGION.name, _PAGE.external_id)
    .join(_RANKED, _RANKED.c.id == _UNIT.id)
    .outerjoin(Region.__table__, _REGION.id == _UNIT.region_id)
    .outerjoin(Page.__table__, _PAGE.id == _UNIT.page_id)
    .where(_RANKED.c.rank <= MAX_UNITS_PER_FORM)
    .order_by(_UNIT.id)
)


def units_of_forms(
    session: Session, source_id: int, target_id: int, hashes: Sequence[str]
) -> list[FoundUnit]:
    """The units of these source form hashes in the language pair, by id, at most
    `MAX_UNITS_PER_FORM` per form (the oldest), by ix_translation_unit_lookup: the index
    finds forms, the database their units."""
    if not hashes:
        return []
    rows = session.execute(
        _UNITS_OF_FORMS,
        {"source_id": source_id, "target_id": target_id, "hashes": sorted(set(hashes))},
    )
    width = len(_COLUMN_NAMES)
    found = []
    for row in rows:
        slug, name, external_id = row[width:]
        region = RegionRef(slug, name) if slug is not None else None
        page = PageRef(external_id) if external_id is not None else None
        found.append(FoundUnit(*(*row[:width], region, page)))
    return found
