"""rq workers of tm-service (`flask tm worker`): short claims renewed by a heartbeat, registry
cleanup every heartbeat, and the sweep that enqueues the Job rows Redis does not hold.

Imported only by the worker command and its tests: rq's worker machinery stays out of the web
processes and of every other command.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask
from rq import SimpleWorker, Worker
from rq.exceptions import AbandonedJobError

from memory.models import utcnow
from memory.similarity_models import Job, JobState
from tm_service import jobs
from tm_service.extensions import db

log = logging.getLogger(__name__)

# rq waits for work for its worker TTL less 15 s, and cleans registries only between two
# waits: a TTL of one heartbeat plus these 15 s puts a cleanup at least every heartbeat.
RQ_DEQUEUE_MARGIN_S = 15


class _ServiceWorker:
    """What both worker classes add to rq's: short claims, frequent maintenance, the sweep.

    rq retries a job whose claim lapsed (StartedJobRegistry.cleanup, in the worker's
    maintenance): the job of a killed worker is retried, or failed once it has no retry left. A
    claim lasts HEARTBEAT_TTL_FACTOR heartbeats; rq's SimpleWorker claims for the job timeout
    plus a minute (61 minutes here) and never renews. Maintenance runs every heartbeat (rq's
    default is 10 minutes), so a worker that was restarted before the dead worker's claim lapsed
    still takes its job within a heartbeat of the lapse.
    """

    job_monitoring_interval: int
    app: Flask

    def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
        return jobs.HEARTBEAT_TTL_FACTOR * self.job_monitoring_interval

    def run_maintenance_tasks(self) -> None:
        super().run_maintenance_tasks()  # type: ignore[misc]
        try:
            with self.app.app_context():
                try:
                    jobs.enqueue_lost_jobs(self.app)
                finally:
                    db.session.remove()
        except Exception:  # noqa: BLE001 — the next maintenance sweeps again
            log.warning("sweep of queued jobs failed", exc_info=True)


class HeartbeatSimpleWorker(_ServiceWorker, SimpleWorker):
    """rq's SimpleWorker (jobs in this process: the model stays loaded) that renews its claim
    on the running job from a thread every `job_monitoring_interval` seconds."""

    def perform_job(self, job: Any, queue: Any, execution: Any) -> bool:
        done = threading.Event()
        beat = threading.Thread(
            target=self._renew_claim, args=(job, execution, done), name="rq-heartbeat", daemon=True
        )
        beat.start()
        try:
            return super().perform_job(job, queue, execution)
        finally:
            done.set()
            beat.join()

    def _renew_claim(self, job: Any, execution: Any, done: threading.Event) -> None:
        while not done.wait(self.job_monitoring_interval):
            try:
                self.maintain_heartbeats(job, execution)
            except Exception:  # noqa: BLE001 — a missed beat is retried; the job goes on
                log.warning("heartbeat of job %s failed", job.id, exc_info=True)


class ShortClaimWorker(_ServiceWorker, Worker):
    """rq's forking Worker (its parent renews the claim) with the same claims and maintenance."""


def rq_worker(app: Flask, *, fork: bool = False) -> SimpleWorker | Worker:
    """An rq worker on this app's queue: short claims, and Job rows of dead workers' jobs kept.

    A job whose worker died is found by rq's registry cleanup once its claim lapsed
    (HEARTBEAT_TTL_FACTOR × JOB_HEARTBEAT_SECONDS, 90 s by default) and at most one heartbeat
    later: retried if it has retries left, else failed. `record_abandoned_job` writes that on
    the Job row, so a row never stays 'running' for a dead worker and a failed one is queued
    again by the next identical change.
    """
    queue = jobs.rq_queue(app)
    heartbeat = jobs.heartbeat_seconds(app)
    worker_class = ShortClaimWorker if fork else HeartbeatSimpleWorker
    worker = worker_class(
        [queue],
        connection=queue.connection,
        job_monitoring_interval=heartbeat,
        maintenance_interval=heartbeat,
        worker_ttl=heartbeat + RQ_DEQUEUE_MARGIN_S,
    )
    worker.app = app
    worker.push_exc_handler(record_abandoned_job)
    return worker


def record_abandoned_job(rq_job: Any, exc_type: Any, exc_value: Any, traceback: Any) -> None:
    """rq exception handler: the Job row of a job whose worker died is queued again or failed.

    rq calls it from the registry cleanup (in the worker's app context) before it retries the
    job; other failures are recorded by `jobs.execute_job` itself.
    """
    if not (isinstance(exc_type, type) and issubclass(exc_type, AbandonedJobError)):
        return
    try:
        row = db.session.get(Job, rq_job.id)
        if row is None or row.state in (JobState.FINISHED, JobState.FAILED):
            return
        will_retry = bool(rq_job.retries_left)
        row.error = "AbandonedJobError: the worker running this job died"
        row.state = JobState.QUEUED if will_retry else JobState.FAILED
        row.message = "worker died; will retry" if will_retry else "failed: worker died"
        if not will_retry:
            row.finished_at = utcnow()
        db.session.commit()
        log.warning("job %s: its worker died; %s", rq_job.id, row.message)
    finally:
        db.session.remove()
