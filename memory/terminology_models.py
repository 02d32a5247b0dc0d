"""SQLAlchemy models of the termbase: concepts, their terms per language, DeepL glossaries."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from memory.models import DEFAULT_LICENSE, Base, Region, UtcDateTime, _enum, utcnow

SHARED_SCOPE = ""  # Concept.scope of the termbase every region shares


class TermStatus(enum.StrEnum):
    """How a term may be used (TBX-Basic administrative status, plus forbidden)."""

    PREFERRED = "preferred"
    ADMITTED = "admitted"
    DEPRECATED = "deprecated"  # replaced (Hartz IV → Bürgergeld): still understood, not to be used
    FORBIDDEN = "forbidden"  # wrong or offensive: never to be used


class Concept(Base):
    """One concept of the termbase with its terms in each language. `scope` is "" for the
    termbase every region shares, or the slug of the region whose own it is; `key` names it
    within its scope (a TBX termEntry id, or derived from its first term) so re-imports update
    it instead of adding another."""

    __tablename__ = "term_concept"
    __table_args__ = (UniqueConstraint("scope", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(100), default=SHARED_SCOPE)
    region_id: Mapped[int | None] = mapped_column(
        ForeignKey("region.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(String(200))
    definition: Mapped[str | None] = mapped_column(Text)
    note: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(Text)  # where the terms and their status come from
    source_url: Mapped[str | None] = mapped_column(String(1000))
    license: Mapped[str] = mapped_column(String(100), default=DEFAULT_LICENSE)
    attribution: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)

    region: Mapped[Region | None] = relationship()
    terms: Mapped[list[Term]] = relationship(
        back_populates="concept",
        cascade="all, delete-orphan",
        order_by=lambda: (Term.language, Term.position),
    )


class Term(Base):
    """A term of a concept in one language, with its status and part of speech."""

    __tablename__ = "term"
    __table_args__ = (UniqueConstraint("concept_id", "language", "text"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    concept_id: Mapped[int] = mapped_column(
        ForeignKey("term_concept.id", ondelete="CASCADE"), index=True
    )
    language: Mapped[str] = mapped_column(String(20), index=True)
    text: Mapped[str] = mapped_column(String(300))
    status: Mapped[TermStatus] = mapped_column(
        _enum(TermStatus, "term_status"), default=TermStatus.PREFERRED
    )
    part_of_speech: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    position: Mapped[int] = mapped_column(Integer, default=0)  # order within its language

    concept: Mapped[Concept] = relationship(back_populates="terms")


class DeeplGlossary(Base):
    """The DeepL glossary made from a scope's preferred term pairs of one language pair;
    `content_hash` of its entries says when it must be made again."""

    __tablename__ = "deepl_glossary"
    __table_args__ = (UniqueConstraint("scope", "source_language", "target_language"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(100), default=SHARED_SCOPE)
    source_language: Mapped[str] = mapped_column(String(20))
    target_language: Mapped[str] = mapped_column(String(20))
    glossary_id: Mapped[str] = mapped_column(String(100))
    content_hash: Mapped[str] = mapped_column(String(64))
    entries: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
