"""SQLAlchemy models of the regions' gazetteers: each region's local details, and its builds."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from memory.models import Base, Region, UtcDateTime, _enum, utcnow


class GazetteerKind(enum.StrEnum):
    PLACE = "place"
    POSTAL_CODE_TOWN = "postal_code_town"
    ADDRESS = "address"
    OFFICE = "office"
    PHONE = "phone"
    EMAIL = "email"
    URL = "url"


class GazetteerOrigin(enum.StrEnum):
    AUTO = "auto"  # found in the region's pages and settings by a build
    MANUAL = "manual"  # added or corrected by an editor


class GazetteerEntry(Base):
    """One local detail of a region: a place, postal code + town, address, office, phone,
    e-mail or web domain. `key` is its normalised form (unique per region and kind); `names`
    what translations into other languages call it ({"en": "Munich"}). An editor's removal of
    an automatic entry is kept (`removed`), so the next build does not bring it back."""

    __tablename__ = "gazetteer_entry"
    __table_args__ = (UniqueConstraint("region_id", "kind", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"), index=True)
    kind: Mapped[GazetteerKind] = mapped_column(_enum(GazetteerKind, "gazetteer_kind"))
    value: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(300))
    names: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    origin: Mapped[GazetteerOrigin] = mapped_column(
        _enum(GazetteerOrigin, "gazetteer_origin"), default=GazetteerOrigin.AUTO
    )
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    frequency: Mapped[int] = mapped_column(Integer, default=0)  # pages of the region with it
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    region: Mapped[Region] = relationship()


class GazetteerBuild(Base):
    """The last automatic build of a region's gazetteer: when, and from how many pages."""

    __tablename__ = "gazetteer_build"

    region_id: Mapped[int] = mapped_column(
        ForeignKey("region.id", ondelete="CASCADE"), primary_key=True
    )
    built_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    other_regions: Mapped[int] = mapped_column(Integer, default=0)
    entries: Mapped[int] = mapped_column(Integer, default=0)
