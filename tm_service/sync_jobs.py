"""The live sync of a region from an Integreat instance as a (scheduled) background job.

A Job row of kind `integreat_sync` (params: region, base_url, languages, every_s) runs
`memory.services.integreat_sync.sync_integreat` the way every job runs — an rq job for `flask
tm worker` when TM_REDIS_URL is set, in-line under TESTING, this process's job thread
otherwise — with progress in languages read and the sync report as its result (each failed
language and unreadable page named in `errors`). The versions it stored go to the content
pipeline as one job of their own. With `every_s`, a finished or failed run records the next one
and hands it to rq's scheduler (`Queue.enqueue_in`; `flask tm worker` runs the scheduler), so
the region is pulled again every `every_s` seconds until the row chain is stopped
(`flask tm sync-integreat … --stop`).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from datetime import timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import select

from memory.similarity_models import Job, JobState
from tm_service.extensions import db
from tm_service.jobs import INTEGREAT_SYNC

log = logging.getLogger(__name__)

# The shortest interval of a scheduled sync: a pull reads every language's listing.
MIN_EVERY_S = 60


def start_integreat_sync(
    region: str,
    base_url: str,
    *,
    languages: list[str] | None = None,
    every_s: int | None = None,
    delay_s: int = 0,
    dispatch_job: bool = True,
) -> Job:
    """Record a sync job and run it (`delay_s` > 0: scheduled on rq; needs TM_REDIS_URL)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if every_s is not None and every_s < MIN_EVERY_S:
        raise ValueError(f"every_s is at least {MIN_EVERY_S} seconds")
    job_id = str(uuid.uuid4())
    params = {
        "region": region,
        "base_url": base_url.rstrip("/"),
        "languages": list(languages or []),
        "every_s": every_s,
    }
    job = Job(
        id=job_id,
        kind=INTEGREAT_SYNC,
        state=JobState.QUEUED,
        params=params,
        idempotency_key=hashlib.sha256(f"{INTEGREAT_SYNC}|{region}|{job_id}".encode()).hexdigest(),
        progress_total=len(params["languages"]) + 1,
        message="queued" if not delay_s else f"scheduled in {delay_s} s",
    )
    db.session.add(job)
    db.session.commit()
    if delay_s:
        _enqueue_in(app, job_id, delay_s)
    elif dispatch_job:
        from tm_service.jobs import dispatch

        dispatch(app, job_id)
    return db.session.get(Job, job_id) or job


def stop_integreat_sync(region: str) -> int:
    """Stop a region's scheduled syncs: their queued rows fail with 'stopped'; returns how many."""
    stopped = 0
    for job in db.session.scalars(
        select(Job).where(Job.kind == INTEGREAT_SYNC, Job.state == JobState.QUEUED)
    ):
        if (job.params or {}).get("region") == region:
            # The row says so (a run already handed to rq returns at once) and rq forgets it.
            job.params = {**(job.params or {}), "stopped": True}
            job.state = JobState.FAILED
            job.error = "stopped"
            job.message = "stopped"
            _unschedule(job.id)
            stopped += 1
    db.session.commit()
    return stopped


def _unschedule(job_id: str) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if not app.config.get("REDIS_URL"):
        return
    from redis.exceptions import RedisError

    from tm_service.jobs import rq_queue

    try:
        rq_queue(app).scheduled_job_registry.remove(job_id, delete_job=True)
    except RedisError as error:
        log.warning("integreat sync %s: not removed from rq's schedule: %s", job_id, error)


def _enqueue_in(app: Flask, job_id: str, delay_s: int) -> None:
    from rq import Retry

    from tm_service.jobs import JOB_TIMEOUT_S, MAX_RETRIES, _retry_intervals, rq_queue, run_job

    if not app.config.get("REDIS_URL"):
        raise RuntimeError("A scheduled sync needs TM_REDIS_URL (rq's scheduler runs it).")
    rq_queue(app).enqueue_in(
        timedelta(seconds=delay_s),
        run_job,
        job_id,
        job_id=job_id,
        retry=Retry(max=MAX_RETRIES, interval=_retry_intervals(app)),
        job_timeout=JOB_TIMEOUT_S,
        description=f"tm integreat sync {job_id}",
    )


def run_integreat_sync(app: Flask, job: Job, progress) -> dict[str, Any]:
    """Run a sync job (called by `tm_service.jobs.execute_job`), then schedule the next one."""
    from connectors.integreat_sync import SyncClient
    from memory.services.integreat_sync import sync_integreat
    from tm_service.jobs import translations_changed

    params = dict(job.params or {})
    if params.get("stopped"):
        return {"stopped": True}
    client = SyncClient(params["base_url"], timeout=float(app.config.get("INTEGREAT_TIMEOUT", 30)))
    try:
        report = sync_integreat(
            db.session,
            None,
            params["region"],
            client,
            languages=params.get("languages") or None,
            progress=progress,
        )
    finally:
        client.close()
        _schedule_next(app, params)
    result = report.as_dict()
    if report.changed_translation_ids:
        result["content_job"] = translations_changed(report.changed_translation_ids)
    for error in report.errors:
        log.warning("integreat sync %s: %s", params["region"], error)
    return result


def _schedule_next(app: Flask, params: dict[str, Any]) -> None:
    every = params.get("every_s")
    if not every or not app.config.get("REDIS_URL"):
        return
    try:
        db.session.rollback()
        start_integreat_sync(
            params["region"],
            params["base_url"],
            languages=params.get("languages") or None,
            every_s=int(every),
            delay_s=int(every),
        )
    except Exception:  # noqa: BLE001 — a lost schedule is logged, the run's result stands
        log.exception("integreat sync %s: the next run could not be scheduled", params["region"])
