"""The translation memory's change counter (`tm_revision`): revisions stamped on units, the
reserve/publish pair for long writes, the epoch, the memory's id.
"""

from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import Session

from memory.tm_models import TmDeferredRevision, TmRevision, TranslationUnit


def next_revision(session: Session) -> int:
    """Bump the TM change counter inside the caller's transaction and return the new value.

    The row stays locked until the transaction ends (PostgreSQL; SQLite serialises all writers),
    so revisions become visible to readers in order. Only short writes may hold it: a long one
    (a TMX import) takes `reserve_revision` / `publish_revision` instead, so that no other
    writer waits for it.
    """
    bumped = session.execute(
        update(TmRevision).where(TmRevision.id == 1).values(revision=TmRevision.revision + 1)
    )
    if getattr(bumped, "rowcount", 0) == 0:
        session.add(TmRevision(id=1, revision=1, epoch=0, memory_id=uuid.uuid4().hex))
        session.flush()
    return int(session.scalar(select(TmRevision.revision).where(TmRevision.id == 1)) or 0)


def reserve_revision(session: Session) -> int:
    """Take a revision for a long write in a short transaction of its own, and commit it.

    The long write stamps its rows with it while holding no lock on the counter; readers that
    pass this revision before the write commits find none of its rows (not committed yet) and
    learn of them from `publish_revision`.
    """
    revision = next_revision(session)
    session.commit()
    return revision


def publish_revision(session: Session, reserved: int) -> int:
    """Make the rows a long write stamped `reserved` visible to readers: call it inside that
    write's transaction just before it commits. Bumps the counter (the lock is held only until
    the commit) and records that rows of `reserved` appeared at the new revision."""
    revision = next_revision(session)
    session.add(TmDeferredRevision(revision=reserved, published=revision))
    session.flush()
    return revision


def units_written_since(revision: int) -> ColumnElement[bool]:
    """Condition on `TranslationUnit`: written by a transaction a reader at `revision` has not
    seen — a later revision, or a long write's reserved one published after it."""
    published_late = select(TmDeferredRevision.revision).where(
        TmDeferredRevision.published > revision, TmDeferredRevision.revision <= revision
    )
    return or_(TranslationUnit.revision > revision, TranslationUnit.revision.in_(published_late))


def current_revision(session: Session) -> tuple[int, int]:
    """(revision, epoch) of the translation memory; (0, 0) before the first write."""
    row = session.execute(
        select(TmRevision.revision, TmRevision.epoch).where(TmRevision.id == 1)
    ).first()
    return (int(row.revision), int(row.epoch)) if row else (0, 0)


def memory_id(session: Session) -> str | None:
    """The random id of this database's memory (None before the first write)."""
    return session.scalar(select(TmRevision.memory_id).where(TmRevision.id == 1))


def bump_epoch(session: Session) -> int:
    """Make every process rebuild its index from scratch at its next freshness check."""
    next_revision(session)
    session.execute(update(TmRevision).where(TmRevision.id == 1).values(epoch=TmRevision.epoch + 1))
    session.commit()
    return current_revision(session)[1]


class _Revision:
    """Takes a revision number on the first write only, so a no-op refresh bumps nothing."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.value: int | None = None

    def __call__(self) -> int:
        if self.value is None:
            self.value = next_revision(self.session)
        return self.value
