"""SQLAlchemy 2.0 models of the content store: regions, languages, pages, versions, tokens."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations read the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

DEFAULT_LICENSE = "CC BY 4.0"
DEFAULT_LICENSE_URL = "https://creativecommons.org/licenses/by/4.0/"


def utcnow() -> datetime:
    """Current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class RegionKind(enum.StrEnum):
    CITY = "city"
    COUNTY = "county"
    MUNICIPALITY = "municipality"
    STATE = "state"
    REGION = "region"


class TextDirection(enum.StrEnum):
    LTR = "ltr"
    RTL = "rtl"


class TranslationStatus(enum.StrEnum):
    """Publication state of one version; only PUBLIC is ever served to the public."""

    PUBLIC = "public"
    DRAFT = "draft"
    REVIEW = "review"
    AUTO_SAVE = "auto_save"


class Origin(enum.StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    REUSED = "reused"


class ReviewStatus(enum.StrEnum):
    UNREVIEWED = "unreviewed"
    REVIEWED = "reviewed"


class ContentKind(enum.StrEnum):
    PAGE = "page"
    EVENT = "event"
    LOCATION = "location"
    IMPRINT = "imprint"


class Role(enum.StrEnum):
    CMS = "cms"
    EDITOR = "editor"
    TRANSLATOR = "translator"
    ADMIN = "admin"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    # Stored as plain strings (no native PG enum types): adding a value needs no migration dance.
    return Enum(
        cls,
        name=name,
        native_enum=False,
        create_constraint=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
    )


region_neighbours = Table(
    "region_neighbour",
    Base.metadata,
    Column("region_id", ForeignKey("region.id", ondelete="CASCADE"), primary_key=True),
    Column("neighbour_id", ForeignKey("region.id", ondelete="CASCADE"), primary_key=True),
)


class Language(Base):
    __tablename__ = "language"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    bcp47_tag: Mapped[str] = mapped_column(String(35))
    name: Mapped[str] = mapped_column(String(100))
    english_name: Mapped[str] = mapped_column(String(100), default="")
    direction: Mapped[TextDirection] = mapped_column(
        _enum(TextDirection, "text_direction"), default=TextDirection.LTR
    )


class Region(Base):
    __tablename__ = "region"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[RegionKind] = mapped_column(_enum(RegionKind, "region_kind"))
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    source_language_id: Mapped[int] = mapped_column(ForeignKey("language.id"))
    license: Mapped[str] = mapped_column(String(100), default=DEFAULT_LICENSE)
    license_url: Mapped[str] = mapped_column(String(300), default=DEFAULT_LICENSE_URL)
    attribution: Mapped[str] = mapped_column(Text, default="")
    base_url: Mapped[str] = mapped_column(String(300), default="")
    mt_word_budget: Mapped[int] = mapped_column(Integer, default=50_000)
    # Machine-translated words in `mt_usage_year`: budgets are per calendar year (Integreat: 50 000
    # free words a year, add-ons on top), so a new year starts from 0.
    mt_words_used: Mapped[int] = mapped_column(Integer, default=0)
    mt_usage_year: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    source_language: Mapped[Language] = relationship(lazy="joined")
    neighbours: Mapped[list[Region]] = relationship(
        secondary=region_neighbours,
        primaryjoin=lambda: Region.id == region_neighbours.c.region_id,
        secondaryjoin=lambda: Region.id == region_neighbours.c.neighbour_id,
        order_by=lambda: Region.slug,
    )
    languages: Mapped[list[RegionLanguage]] = relationship(
        back_populates="region", cascade="all, delete-orphan", order_by="RegionLanguage.id"
    )

    def mt_words_used_in(self, year: int) -> int:
        """Words machine-translated in `year` (0 when the stored count is of another year)."""
        return self.mt_words_used if self.mt_usage_year == year else 0


class RegionLanguage(Base):
    """One node of a region's language tree: `language` is translated from `parent_language`."""

    __tablename__ = "region_language"
    __table_args__ = (UniqueConstraint("region_id", "language_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    language_id: Mapped[int] = mapped_column(ForeignKey("language.id"))
    parent_language_id: Mapped[int | None] = mapped_column(ForeignKey("language.id"))
    visible: Mapped[bool] = mapped_column(Boolean, default=True)

    region: Mapped[Region] = relationship(back_populates="languages")
    language: Mapped[Language] = relationship(foreign_keys=[language_id], lazy="joined")
    parent_language: Mapped[Language | None] = relationship(
        foreign_keys=[parent_language_id], lazy="joined"
    )


class Page(Base):
    __tablename__ = "page"
    __table_args__ = (UniqueConstraint("region_id", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"), index=True)
    external_id: Mapped[str] = mapped_column(String(100))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("page.id", ondelete="SET NULL"))
    source_language_id: Mapped[int] = mapped_column(ForeignKey("language.id"))
    derived_from_id: Mapped[int | None] = mapped_column(ForeignKey("page.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # What the CMS calls it: a page, an event, a location (POI) or the imprint. Each is
    # translated, versioned and matched like a page; only the kind differs.
    kind: Mapped[ContentKind] = mapped_column(
        _enum(ContentKind, "content_kind"), default=ContentKind.PAGE, server_default="page"
    )
    # An event's dates, a location's address, coordinates, phone, e-mail, website, category:
    # local details, kept for reading and never segmented, matched or reused.
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    region: Mapped[Region] = relationship()
    source_language: Mapped[Language] = relationship(lazy="joined")
    parent: Mapped[Page | None] = relationship(remote_side=[id], foreign_keys=[parent_id])
    derived_from: Mapped[Page | None] = relationship(
        remote_side=[id], foreign_keys=[derived_from_id]
    )
    translations: Mapped[list[PageTranslation]] = relationship(
        back_populates="page",
        cascade="all, delete-orphan",
        order_by="(PageTranslation.language_id, PageTranslation.version)",
    )


class PageTranslation(Base):
    """One version of a page in one language. Versions are dense per (page, language)."""

    __tablename__ = "page_translation"
    __table_args__ = (
        UniqueConstraint("page_id", "language_id", "version"),
        Index("ix_page_translation_content_hash", "content_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id", ondelete="CASCADE"))
    language_id: Mapped[int] = mapped_column(ForeignKey("language.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(1000))
    content: Mapped[str] = mapped_column(Text, default="")
    # The page's meta description (search engines, link previews): versioned, segmented and
    # suggested like the title; part of the content hash when there is one.
    meta_description: Mapped[str] = mapped_column(Text, default="", server_default="")
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[TranslationStatus] = mapped_column(
        _enum(TranslationStatus, "translation_status"), default=TranslationStatus.PUBLIC
    )
    origin: Mapped[Origin] = mapped_column(_enum(Origin, "origin"), default=Origin.HUMAN)
    review_status: Mapped[ReviewStatus] = mapped_column(
        _enum(ReviewStatus, "review_status"), default=ReviewStatus.UNREVIEWED
    )
    # What the translation was made from: the source-language version and its content hash.
    source_version: Mapped[int | None] = mapped_column(Integer)
    source_content_hash: Mapped[str | None] = mapped_column(String(64))
    external_id: Mapped[str | None] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(1000), default="")
    path: Mapped[str] = mapped_column(String(1000), default="")
    last_updated: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)

    page: Mapped[Page] = relationship(back_populates="translations")
    language: Mapped[Language] = relationship(lazy="joined")


class ApiToken(Base):
    """An API token: only a SHA-256 of its secret is stored; the plaintext is shown once."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    # None: every region (only for admin tokens).
    region_id: Mapped[int | None] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # A review-UI session keeps the epoch it signed in under; signing out moves it on, so the
    # cookie of an ended session is refused when replayed (the cookie itself is client-side).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    region: Mapped[Region | None] = relationship()
