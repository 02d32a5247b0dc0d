"""Background work: what happens after content changes (in-process or on rq workers).

Pipeline of a "content_changed" job: refresh translation-memory units → embed the pages (cache
first) → refresh this process's similarity index. Three ways to run it, same job function:

- TM_REDIS_URL set: an rq job on queue RQ_QUEUE (id = the Job row's id), retried 3 times;
  `flask tm worker` (`rq_worker`) runs it inside an app context, renewing its claim on the job
  every JOB_HEARTBEAT_SECONDS, so a job whose worker was killed is retried once the claim lapses.
- TESTING without Redis: synchronously in the caller, so tests are deterministic.
- otherwise (embedded default): one background thread per process with a queue, so
  `tm serve` answers at once while the demo data is processed.

Job rows carry state and progress in every mode; rq's job.meta carries the progress too.
"""

from __future__ import annotations

import atexit
import dataclasses
import hashlib
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue, Retry, SimpleWorker, Worker, get_current_job
from rq.exceptions import AbandonedJobError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from matchers.embeddings import Encoder, load_encoder
from memory.models import PageTranslation, utcnow
from memory.services import similarity
from memory.similarity_models import Job, JobState
from tm_service.extensions import db

log = logging.getLogger(__name__)

CONTENT_CHANGED = "content_changed"
DEFAULT_RETRY_INTERVALS = (5, 30, 120)
MAX_RETRIES = 3
JOB_TIMEOUT_S = 3600
# A worker renews its claim on the running job this often (JOB_HEARTBEAT_SECONDS); a claim not
# renewed for HEARTBEAT_TTL_FACTOR times as long belongs to a dead worker.
DEFAULT_HEARTBEAT_S = 30
HEARTBEAT_TTL_FACTOR = 3

_encoders: dict[tuple[str, str], Encoder] = {}
_encoders_lock = threading.Lock()
_extensions_lock = threading.Lock()


# ----------------------------------------------------------------------------- per-process state


def models_dir(app: Flask) -> Path:
    return Path(app.instance_path) / "models"


def get_encoder(app: Flask | None = None) -> Encoder:
    """The embedding encoder of EMBEDDING_MODEL, loaded lazily once per process."""
    app = app or current_app
    spec = str(app.config.get("EMBEDDING_MODEL") or "fake")
    key = (spec, str(models_dir(app)))
    encoder = _encoders.get(key)
    if encoder is None:
        with _encoders_lock:
            encoder = _encoders.get(key)
            if encoder is None:
                started = time.perf_counter()
                encoder = _encoders[key] = load_encoder(spec, models_dir(app))
                log.info("encoder %s loaded in %.1f s", encoder.name, time.perf_counter() - started)
    return encoder


def get_similarity_indexes(app: Flask | None = None) -> similarity.SimilarityIndexes:
    """This app's similarity index holder (built lazily from the database on first query)."""
    app = app or current_app
    holder = app.extensions.get("tm_similarity")
    if holder is None:
        with _extensions_lock:
            holder = app.extensions.get("tm_similarity")
            if holder is None:
                interval = float(app.config.get("SIMILARITY_REFRESH_INTERVAL", 2.0))
                holder = app.extensions["tm_similarity"] = similarity.SimilarityIndexes(
                    lambda: get_encoder(app).name, refresh_interval=interval
                )
    return holder


def _retry_intervals(app: Flask) -> list[int]:
    return [int(s) for s in app.config.get("JOB_RETRY_INTERVALS", DEFAULT_RETRY_INTERVALS)]


# ----------------------------------------------------------------------------- entry points


def translation_changed(translation_id: int) -> str | None:
    """Hook called after a page translation version is stored; returns the job id."""
    return translations_changed([translation_id])


def translations_changed(translation_ids: Sequence[int]) -> str | None:
    """Hook called after versions are stored in bulk (imports); returns the job id (or None).

    The same change (same translation ids with the same content hashes) enqueued twice gives
    the same Job row and runs once; a job that failed for good is queued again.
    """
    ids = sorted(set(translation_ids))
    if not ids:
        return None
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    job, fresh = _job_row_for(ids)
    if not fresh:
        return job.id
    _dispatch(app, job.id)
    return job.id


def idempotency_key(kind: str, translation_ids: Sequence[int]) -> str:
    """sha256 of the job kind, the sorted translation ids and their content hashes."""
    hashes: dict[int, str] = {}
    for start in range(0, len(translation_ids), 500):
        chunk = translation_ids[start : start + 500]
        hashes.update(
            db.session.execute(
                select(PageTranslation.id, PageTranslation.content_hash).where(
                    PageTranslation.id.in_(chunk)
                )
            ).all()
        )
    digest = hashlib.sha256(kind.encode())
    for translation_id in sorted(translation_ids):
        digest.update(f"|{translation_id}:{hashes.get(translation_id, '')}".encode())
    return digest.hexdigest()


def _job_row_for(ids: list[int]) -> tuple[Job, bool]:
    """The Job row of this change: (row, True) if it must be (re)dispatched."""
    session = db.session
    key = idempotency_key(CONTENT_CHANGED, ids)
    existing = session.scalar(select(Job).where(Job.idempotency_key == key))
    if existing is not None:
        if existing.state != JobState.FAILED:
            return existing, False
        existing.state = JobState.QUEUED
        existing.message = "queued again"
        existing.finished_at = None
        session.commit()
        return existing, True
    job = Job(
        id=str(uuid.uuid4()),
        kind=CONTENT_CHANGED,
        state=JobState.QUEUED,
        params={"translation_ids": ids},
        idempotency_key=key,
        progress_total=len(ids),
        message="queued",
    )
    session.add(job)
    try:
        session.commit()
    except IntegrityError:
        # Another process recorded the same change a moment ago: that one runs it.
        session.rollback()
        return session.scalars(select(Job).where(Job.idempotency_key == key)).one(), False
    return job, True


def _dispatch(app: Flask, job_id: str) -> None:
    if app.config.get("REDIS_URL"):
        rq_queue(app).enqueue(
            run_job,
            job_id,
            job_id=job_id,
            retry=Retry(max=MAX_RETRIES, interval=_retry_intervals(app)),
            job_timeout=JOB_TIMEOUT_S,
            description=f"{CONTENT_CHANGED} {job_id}",
        )
    elif app.config.get("TESTING"):
        # Same session as the caller (a request or a CLI command): don't remove it.
        _run_with_retries(app, job_id, sleep=False, remove_session=False)
    else:
        _in_process_runner(app).submit(job_id)


def rq_queue(app: Flask | None = None):
    """The rq queue of this app (RQ_QUEUE on REDIS_URL)."""
    app = app or current_app
    found = app.extensions.get("tm_rq_queue")
    if found is None:
        found = app.extensions["tm_rq_queue"] = Queue(
            app.config["RQ_QUEUE"], connection=Redis.from_url(app.config["REDIS_URL"])
        )
    return found


# ----------------------------------------------------------------------------- rq workers


class _ShortClaim:
    """A worker whose claim on a running job (its StartedJobRegistry entry) is short-lived.

    rq retries a job whose claim lapsed (StartedJobRegistry.cleanup, run by any worker when it
    starts and every maintenance interval): the job of a killed worker is retried, or failed
    once it has no retry left. A claim lasts HEARTBEAT_TTL_FACTOR heartbeats; rq's SimpleWorker
    claims for the job timeout plus a minute (61 minutes here) and never renews.
    """

    job_monitoring_interval: int

    def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
        return HEARTBEAT_TTL_FACTOR * self.job_monitoring_interval


class HeartbeatSimpleWorker(_ShortClaim, SimpleWorker):
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


class ShortClaimWorker(_ShortClaim, Worker):
    """rq's forking Worker (its parent renews the claim) with the same claim length."""


def heartbeat_seconds(app: Flask) -> int:
    """JOB_HEARTBEAT_SECONDS: how often a worker renews its claim on the running job."""
    return max(1, int(app.config.get("JOB_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_S)))


def rq_worker(app: Flask | None = None, *, fork: bool = False) -> SimpleWorker | Worker:
    """An rq worker on this app's queue: short claims, and Job rows of dead workers' jobs kept.

    A job whose worker died is found by rq's registry cleanup once its claim lapsed
    (HEARTBEAT_TTL_FACTOR × JOB_HEARTBEAT_SECONDS, 90 s by default): retried if it has retries
    left, else failed. `record_abandoned_job` writes that on the Job row, so a row never stays
    'running' for a dead worker and a failed one is queued again by the next identical change.
    """
    app = app or current_app
    queue = rq_queue(app)
    worker_class = ShortClaimWorker if fork else HeartbeatSimpleWorker
    worker = worker_class(
        [queue], connection=queue.connection, job_monitoring_interval=heartbeat_seconds(app)
    )
    worker.push_exc_handler(record_abandoned_job)
    return worker


def record_abandoned_job(rq_job: Any, exc_type: Any, exc_value: Any, traceback: Any) -> None:
    """rq exception handler: the Job row of a job whose worker died is queued again or failed.

    rq calls it from the registry cleanup (in the worker's app context) before it retries the
    job; other failures are recorded by `execute_job` itself.
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


# ----------------------------------------------------------------------------- running a job

_worker_app: Flask | None = None
_engine_pid: dict[int, int] = {}


def run_job(job_id: str) -> dict[str, Any] | None:
    """rq entry point: run one job inside an app context (create_app() once per process)."""
    global _worker_app
    if has_app_context():
        return _run_in_context(job_id)
    if _worker_app is None:
        from tm_service import create_app

        _worker_app = create_app()
    with _worker_app.app_context():
        return _run_in_context(job_id)


def _run_in_context(job_id: str) -> dict[str, Any] | None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # A forked rq worker must not share the parent's database connections.
    if _engine_pid.get(id(app)) != os.getpid():
        db.engine.dispose(close=False)
        _engine_pid[id(app)] = os.getpid()
    rq_job = get_current_job()
    will_retry = bool(rq_job is not None and rq_job.retries_left)
    try:
        return execute_job(app, job_id, will_retry=will_retry, rq_job=rq_job)
    finally:
        db.session.remove()


def _run_with_retries(app: Flask, job_id: str, *, sleep: bool, remove_session: bool = True) -> None:
    """In-process runs (thread or synchronous): the same retry policy as rq."""
    intervals = _retry_intervals(app)
    for attempt in range(MAX_RETRIES + 1):
        will_retry = attempt < MAX_RETRIES
        try:
            execute_job(app, job_id, will_retry=will_retry)
            return
        except Exception:  # noqa: BLE001 — recorded on the Job row
            log.exception("job %s failed (attempt %d)", job_id, attempt + 1)
            if not will_retry:
                return
            if sleep:
                time.sleep(intervals[min(attempt, len(intervals) - 1)])
        finally:
            if remove_session:
                db.session.remove()


def execute_job(
    app: Flask, job_id: str, *, will_retry: bool = False, rq_job: Any = None
) -> dict[str, Any] | None:
    """Run a job by its row: state running → finished (or queued again / failed), progress."""
    session = db.session
    job = session.get(Job, job_id)
    if job is None:
        log.warning("job %s has no row; nothing to do", job_id)
        return None
    if job.state == JobState.FINISHED:
        return job.result  # already done (a duplicate delivery)
    job.state = JobState.RUNNING
    job.attempts += 1
    job.started_at = utcnow()
    job.error = None
    job.message = "running"
    session.commit()
    ids = [int(i) for i in job.params.get("translation_ids", [])]

    def progress(done: int, total: int, message: str | None = None) -> None:
        row = session.get(Job, job_id)
        if row is None:
            return
        row.progress_done, row.progress_total = done, total
        if message:
            row.message = message
        session.commit()
        if rq_job is not None:
            rq_job.meta["progress"] = {"done": done, "total": total, "message": row.message}
            rq_job.save_meta()

    try:
        result = run_content_pipeline(app, ids, progress)
    except Exception as error:
        session.rollback()
        row = session.get(Job, job_id)
        if row is not None:
            row.error = f"{type(error).__name__}: {error}"[:2000]
            row.state = JobState.QUEUED if will_retry else JobState.FAILED
            row.message = "failed; will retry" if will_retry else "failed"
            if not will_retry:
                row.finished_at = utcnow()
            session.commit()
        raise
    row = session.get(Job, job_id)
    assert row is not None
    row.state = JobState.FINISHED
    row.progress_done = row.progress_total
    row.result = result
    row.message = "finished"
    row.finished_at = utcnow()
    session.commit()
    return result


def run_content_pipeline(app: Flask, ids: Sequence[int], progress) -> dict[str, Any]:
    """Refresh TM units → embed pages (cache first) → refresh this process's index."""
    session = db.session
    result: dict[str, Any] = {"translations": len(ids)}
    progress(0, len(ids), "refreshing translation memory")
    try:
        from memory.services.translation_memory import refresh_units
    except ImportError as error:
        log.info("translation-memory refresh skipped: %s", error)
        result["tm_units"] = "skipped"
    else:
        result["tm_units"] = _json_safe(refresh_units(session, ids))
        session.commit()
    progress(0, len(ids), "embedding pages")
    report = similarity.embed_pages(
        session, get_encoder(app), ids, lambda done, total: progress(done, total)
    )
    result["embedding"] = report.as_dict()
    holder = app.extensions.get("tm_similarity")
    if holder is not None:
        # Only a process that serves queries holds an index; make its next query see this.
        holder.mark_stale()
        progress(report.translations, report.translations, "updating similarity index")
        holder.ensure_fresh(session)
    return result


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "as_dict"):
        return _json_safe(value.as_dict())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _json_safe(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return str(value)


# ----------------------------------------------------------------------------- in-process runner


class InProcessRunner:
    """One background thread working a queue of job ids (the embedded default)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.queue: queue.Queue[str] = queue.Queue()
        self._waiting: set[str] = set()
        self._waiting_lock = threading.Lock()
        self.thread = threading.Thread(target=self._work, name="tm-jobs", daemon=True)
        self.thread.start()
        atexit.register(self.drain)

    def submit(self, job_id: str) -> None:
        with self._waiting_lock:
            if job_id in self._waiting:
                return  # already waiting in the queue
            self._waiting.add(job_id)
        self.queue.put(job_id)

    def drain(self, timeout: float | None = None) -> None:
        """Wait for queued jobs (a CLI import exits only once its pages are processed)."""
        if self.queue.unfinished_tasks:
            log.warning("finishing %d queued job(s) before exit", self.queue.unfinished_tasks)
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return
            time.sleep(0.05)

    def _work(self) -> None:
        while True:
            job_id = self.queue.get()
            with self._waiting_lock:
                self._waiting.discard(job_id)
            try:
                with self.app.app_context():
                    _run_with_retries(self.app, job_id, sleep=True)
            except Exception:  # noqa: BLE001 — the thread must survive any job
                log.exception("in-process job %s crashed", job_id)
            finally:
                self.queue.task_done()


def _in_process_runner(app: Flask) -> InProcessRunner:
    runner = app.extensions.get("tm_job_runner")
    if runner is None:
        with _extensions_lock:
            runner = app.extensions.get("tm_job_runner")
            if runner is None:
                runner = app.extensions["tm_job_runner"] = InProcessRunner(app)
                # Jobs left queued by a previous run of this process (embedded mode only).
                pending = db.session.scalars(
                    select(Job.id)
                    .where(Job.state.in_([JobState.QUEUED, JobState.RUNNING]))
                    .order_by(Job.created_at)
                ).all()
                for job_id in pending:
                    runner.submit(job_id)
                return runner
    return runner
