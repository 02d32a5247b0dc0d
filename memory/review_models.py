"""Suggestion, review and reuse tables: what was offered, what translators decided, and
which origin version a page reused from another region was taken from.

- `Suggestion`: one source segment of a page (or of free text) with the ranked candidates that
  were offered for one target language; the review queue is the pending ones.
- `SuggestionReview`: the audit trail — who decided what, when, with the text before and after.
- `PageDerivation`: for a page started from another region's page, the origin translation each
  language was taken from, so a later change upstream is detected (by content hash) and shown.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from memory.models import Base, Language, Page, PageTranslation, Region, UtcDateTime, _enum, utcnow


class SuggestionStatus(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    EDITED = "edited"
    REJECTED = "rejected"


class Decision(enum.StrEnum):
    ACCEPT = "accept"
    EDIT = "edit"
    REJECT = "reject"


class Suggestion(Base):
    """Ranked candidates offered for one source segment into one target language.

    `part` is "title", "content" or "text" (free text); `segment_index` numbers the segments of
    that part. `queue_key` identifies the same segment of the same page asked for again, so a
    repeated request refreshes a pending suggestion instead of queueing it twice.
    `candidates` is the list as offered (text, target segment, score, kind, penalties, origin).
    """

    __tablename__ = "suggestion"
    __table_args__ = (
        Index("ix_suggestion_queue", "region_id", "target_language_id", "status"),
        Index("ix_suggestion_queue_key", "queue_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("region.id", ondelete="CASCADE"))
    page_id: Mapped[int | None] = mapped_column(
        ForeignKey("page.id", ondelete="CASCADE"), index=True
    )
    source_translation_id: Mapped[int | None] = mapped_column(
        ForeignKey("page_translation.id", ondelete="SET NULL")
    )
    source_version: Mapped[int | None] = mapped_column(Integer)
    source_language_id: Mapped[int] = mapped_column(ForeignKey("language.id"))
    target_language_id: Mapped[int] = mapped_column(ForeignKey("language.id"))
    part: Mapped[str] = mapped_column(String(20))
    segment_index: Mapped[int] = mapped_column(Integer)
    source_text: Mapped[str] = mapped_column(Text)
    source_hash: Mapped[str] = mapped_column(String(64))
    queue_key: Mapped[str] = mapped_column(String(64))
    candidates: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status: Mapped[SuggestionStatus] = mapped_column(
        _enum(SuggestionStatus, "suggestion_status"), default=SuggestionStatus.PENDING
    )
    final_text: Mapped[str | None] = mapped_column(Text)
    # The reviewed translation unit an accept or edit wrote into the memory.
    unit_id: Mapped[int | None] = mapped_column(
        ForeignKey("translation_unit.id", ondelete="SET NULL")
    )
    requested_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow, onupdate=utcnow)
    reviewed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    region: Mapped[Region] = relationship()
    page: Mapped[Page | None] = relationship()
    source_language: Mapped[Language] = relationship(foreign_keys=[source_language_id])
    target_language: Mapped[Language] = relationship(foreign_keys=[target_language_id])
    reviews: Mapped[list[SuggestionReview]] = relationship(
        back_populates="suggestion",
        cascade="all, delete-orphan",
        order_by="SuggestionReview.id",
    )


class SuggestionReview(Base):
    """One translator decision on a suggestion (audit trail: who, when, before and after)."""

    __tablename__ = "suggestion_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    suggestion_id: Mapped[int] = mapped_column(
        ForeignKey("suggestion.id", ondelete="CASCADE"), index=True
    )
    decision: Mapped[Decision] = mapped_column(_enum(Decision, "review_decision"))
    candidate_index: Mapped[int | None] = mapped_column(Integer)
    # The candidate text as offered, and the text the translator settled on (None: rejected).
    before_text: Mapped[str | None] = mapped_column(Text)
    after_text: Mapped[str | None] = mapped_column(Text)
    # The demoted unit of a rejection, or the unit written by an accept / edit.
    unit_id: Mapped[int | None] = mapped_column(Integer)
    actor_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_token.id", ondelete="SET NULL")
    )
    actor_name: Mapped[str] = mapped_column(String(200), default="")
    actor_role: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    # The quality checks (matchers.qa_checks) the stored text failed, and whether the
    # translator confirmed them (a failed check blocks the decision otherwise).
    qa_checks: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    checks_confirmed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # An undone decision (the review queue's undo) stays in the audit, marked with when and by
    # whom; its segment went back into the queue.
    undone_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    undone_by: Mapped[str | None] = mapped_column(String(200))

    suggestion: Mapped[Suggestion] = relationship(back_populates="reviews")


class PageDerivation(Base):
    """The origin translation one language of a reused page was taken from.

    `origin_content_hash` is the origin's content hash at the time of copying (or of the last
    acknowledgement); a different hash on the origin's latest public version means it changed.
    """

    __tablename__ = "page_derivation"
    __table_args__ = (UniqueConstraint("page_id", "language_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    page_id: Mapped[int] = mapped_column(ForeignKey("page.id", ondelete="CASCADE"), index=True)
    language_id: Mapped[int] = mapped_column(ForeignKey("language.id"))
    origin_translation_id: Mapped[int | None] = mapped_column(
        ForeignKey("page_translation.id", ondelete="SET NULL")
    )
    origin_version: Mapped[int] = mapped_column(Integer)
    origin_content_hash: Mapped[str] = mapped_column(String(64))
    origin_title: Mapped[str] = mapped_column(String(1000), default="")
    # The origin's content as copied: the left side of the diff when the origin changes.
    origin_content: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    page: Mapped[Page] = relationship()
    language: Mapped[Language] = relationship()
    origin_translation: Mapped[PageTranslation | None] = relationship()
