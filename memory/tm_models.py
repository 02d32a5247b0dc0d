"""Translation-memory tables: translation units, their deletion log and the change counter.

Units are built from public page translations (`memory.services.translation_memory`) or imported
from TMX (`memory.services.tmx_io`). Every short write to the translation memory bumps the
single `tm_revision` row inside the writing transaction and stamps the rows it touched with the
new revision, so in-process indexes of other workers can catch up incrementally (units with a
higher revision are added, ids in `translation_unit_deletion` with a higher revision are
removed). A long write (a TMX import of a million units) must not hold that row locked for
minutes: it reserves a revision in a transaction of its own, stamps its rows with it, and
publishes it in a `tm_deferred_revision` row just before it commits
(`memory.services.translation_memory.reserve_revision` / `publish_revision`).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from memory.models import Base, Language, Origin, Page, Region, UtcDateTime, _enum, utcnow


class TranslationUnit(Base):
    """An aligned source segment ↔ target segment with its provenance.

    `source_text` / `target_text` are segment texts with inline-markup placeholders
    (`<g1>…</g1>`, `<x2/>`, see memory.segmentation). `source_form` / `target_form` are the
    matching keys: markup stripped, local specifics as `{PHONE}`-style tokens, normalised
    (matchers.normalise); `source_hash` / `target_hash` are their SHA-256. `unit_key` is the
    SHA-256 of (source text, target text, languages, region, page): units are distinct by their
    real text — "Raum 202" and "Raum 303" share a form but are two units — and re-imports never
    duplicate.
    """

    __tablename__ = "translation_unit"
    __table_args__ = (
        Index(
            "ix_translation_unit_lookup", "source_language_id", "target_language_id", "source_hash"
        ),
        Index("ix_translation_unit_pivot", "source_language_id", "target_hash"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_key: Mapped[str] = mapped_column(String(64), unique=True)
    source_language_id: Mapped[int] = mapped_column(ForeignKey("language.id"))
    target_language_id: Mapped[int] = mapped_column(ForeignKey("language.id"))
    source_text: Mapped[str] = mapped_column(Text)
    target_text: Mapped[str] = mapped_column(Text)
    source_form: Mapped[str] = mapped_column(Text)
    target_form: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64))
    target_hash: Mapped[str] = mapped_column(String(64))
    # Hash of the previous and next source segment forms on the page (101 % context matches).
    context_hash: Mapped[str | None] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer, default=0)
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("region.id", ondelete="CASCADE"), index=True
    )
    page_id: Mapped[int | None] = mapped_column(
        ForeignKey("page.id", ondelete="CASCADE"), index=True
    )
    source_translation_id: Mapped[int | None] = mapped_column(
        ForeignKey("page_translation.id", ondelete="SET NULL")
    )
    target_translation_id: Mapped[int | None] = mapped_column(
        ForeignKey("page_translation.id", ondelete="SET NULL")
    )
    source_version: Mapped[int | None] = mapped_column(Integer)
    target_version: Mapped[int | None] = mapped_column(Integer)
    origin: Mapped[Origin] = mapped_column(_enum(Origin, "origin"), default=Origin.HUMAN)
    reviewed: Mapped[bool] = mapped_column(Boolean, default=False)
    # Times reviewers rejected this unit as a suggestion: each one demotes it (a penalty).
    rejections: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    outdated: Mapped[bool] = mapped_column(Boolean, default=False)
    license: Mapped[str] = mapped_column(String(100), default="")
    attribution: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(1000), default="")
    import_batch: Mapped[str | None] = mapped_column(String(200), index=True)
    # tm_revision.revision of the transaction that last wrote this row.
    revision: Mapped[int] = mapped_column(Integer, default=0, index=True)
    translated_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    source_language: Mapped[Language] = relationship(foreign_keys=[source_language_id])
    target_language: Mapped[Language] = relationship(foreign_keys=[target_language_id])
    region: Mapped[Region | None] = relationship()
    page: Mapped[Page | None] = relationship()


class TranslationUnitDeletion(Base):
    """A deleted unit id and the revision that deleted it, for other processes' indexes.

    The unit's languages and source form hash tell an index of distinct forms which form lost a
    unit (NULL in rows logged before migration 0008).
    """

    __tablename__ = "translation_unit_deletion"

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer)
    revision: Mapped[int] = mapped_column(Integer, index=True)
    source_language_id: Mapped[int | None] = mapped_column(Integer)
    target_language_id: Mapped[int | None] = mapped_column(Integer)
    source_hash: Mapped[str | None] = mapped_column(String(64))


class TmRevision(Base):
    """The one change counter of the translation memory (row id 1).

    `revision` grows with every committed write; `epoch` grows on `tm rebuild-index` and makes
    every process rebuild its index from scratch. `memory_id` is a random id set when the row is
    made: an index snapshot names it, so a snapshot of another database is never mapped.
    """

    __tablename__ = "tm_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    memory_id: Mapped[str | None] = mapped_column(String(32))


class TmDeferredRevision(Base):
    """Rows a long write stamped with `revision` (reserved when it started) became visible with
    the counter's value `published` (taken just before it committed, in the same transaction).

    A reader that had passed `revision` while the write was running loads those rows when it
    passes `published` (`memory.services.translation_memory.units_written_since`).
    """

    __tablename__ = "tm_deferred_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    published: Mapped[int] = mapped_column(Integer, index=True)
