"""Reading job records (state and progress of background jobs)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from memory.errors import NotFound
from memory.similarity_models import Job, JobState


def get_job(session: Session, job_id: str) -> Job:
    """One job by id; NotFound if there is none."""
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"No job '{job_id}'.", errors={"job_id": [f"No job '{job_id}'."]})
    return job


def recent_jobs(
    session: Session, *, limit: int = 20, state: JobState | None = None, kind: str | None = None
) -> list[Job]:
    """The most recent jobs first, optionally of one state or kind."""
    query = select(Job).order_by(Job.created_at.desc(), Job.id).limit(limit)
    if state is not None:
        query = query.where(Job.state == state)
    if kind is not None:
        query = query.where(Job.kind == kind)
    return list(session.scalars(query))
