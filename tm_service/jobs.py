"""Background work: what happens after content changes (rq workers, a CLI command, a thread).

Pipeline of a "content_changed" job: refresh translation-memory units → embed the pages (cache
first) → refresh this process's similarity index. The Job row is the truth about a job: its
state, its progress (page translations done of a total fixed when it was recorded, ETA) and its
error. Ways to run it, same job function:

- TM_REDIS_URL set: an rq job on queue RQ_QUEUE (id = the Job row's id), retried 3 times;
  `flask tm worker` (`tm_service.workers`) runs it inside an app context. A row whose rq job
  never reached Redis (Redis was down) or was lost with it is enqueued again by the workers'
  sweep (`enqueue_lost_jobs`), so a stored version always gets its job.
- a CLI command (imports, demo load) without Redis: in the command, before it returns, with a
  progress display (`run_changes_here`); a failed job fails the command.
- TESTING without Redis: synchronously in the caller, so tests are deterministic.
- otherwise (`tm serve`, web requests): one background thread per process with a queue, so the
  server answers at once; rows still queued when the process stops run at its next start.

A second kind, "tm_index_snapshot", builds the fuzzy translation-memory index from the
database and publishes it as a snapshot in INDEX_DIR (`request_index_snapshot`): a web worker
without a snapshot asks for one and answers without fuzzy candidates meanwhile; a CLI command
or a job builds it there and then. A third, "similarity_snapshot", builds the near-duplicate
page index and publishes it in INDEX_DIR/similarity (`request_similarity_snapshot`,
`flask tm similarity-snapshot`): processes map it instead of building their own. A fourth,
"semantic_snapshot", does the same for the sentence vectors of the memory's source texts in
INDEX_DIR/semantic (`request_semantic_snapshot`, `flask tm semantic-snapshot`).

Every CLI command and web worker imports this module: rq, redis and the embedding model are
imported only where they are used.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, has_app_context, has_request_context
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError

from matchers.embeddings import Encoder, load_encoder
from memory.models import PageTranslation, utcnow
from memory.services import similarity
from memory.similarity_models import Job, JobState
from tm_service.extensions import db

if TYPE_CHECKING:
    from rq import Queue

log = logging.getLogger(__name__)

CONTENT_CHANGED = "content_changed"
INDEX_SNAPSHOT = "tm_index_snapshot"
# Region-wide jobs (tm_service.region_jobs): pre-translation and the leverage report.
PRETRANSLATE = "pretranslate"
LEVERAGE = "leverage"
REGION_JOB_KINDS = (PRETRANSLATE, LEVERAGE)
# The live sync of a region from an Integreat instance (tm_service.sync_jobs).
INTEGREAT_SYNC = "integreat_sync"
SIMILARITY_SNAPSHOT = "similarity_snapshot"
SEMANTIC_SNAPSHOT = "semantic_snapshot"
JOB_KINDS = (
    CONTENT_CHANGED,
    INDEX_SNAPSHOT,
    SIMILARITY_SNAPSHOT,
    SEMANTIC_SNAPSHOT,
    *REGION_JOB_KINDS,
    INTEGREAT_SYNC,
)
# A queued or running snapshot job older than this is taken for lost: a new one is recorded.
INDEX_SNAPSHOT_STALE_S = 1800
# How long a request that asks for a snapshot job waits for SQLite's write lock; past it the
# request goes on (the index asks again later).
SNAPSHOT_ASK_WAIT_MS = 1000
DEFAULT_RETRY_INTERVALS = (5, 30, 120)
MAX_RETRIES = 3
JOB_TIMEOUT_S = 3600
# A worker renews its claim on the running job this often (JOB_HEARTBEAT_SECONDS); a claim not
# renewed for HEARTBEAT_TTL_FACTOR times as long belongs to a dead worker.
DEFAULT_HEARTBEAT_S = 30
HEARTBEAT_TTL_FACTOR = 3
# A queued row younger than this may still be on its way to Redis: the sweep leaves it alone.
DEFAULT_SWEEP_GRACE_S = 30
SWEEP_BATCH = 500
# The web side must not hang on an unreachable Redis: a push answers, its row waits for the sweep.
REDIS_CONNECT_TIMEOUT_S = 2.0
REDIS_TIMEOUT_S = 10.0
HEALTH_REDIS_TIMEOUT_S = 1.0

ProgressCallback = Callable[[int, int, str], None]
"""(done, total, step) of a job, in page translations: total is fixed, done only grows."""

_encoders: dict[tuple[str, str], Encoder] = {}
_encoders_lock = threading.Lock()
_extensions_lock = threading.Lock()


# ----------------------------------------------------------------------------- per-process state


def models_dir(app: Flask) -> Path:
    """MODELS_DIR, by default instance/models: where the default model is converted once."""
    configured = app.config.get("MODELS_DIR")
    return Path(configured) if configured else Path(app.instance_path) / "models"


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
                    lambda: get_encoder(app).name,
                    refresh_interval=interval,
                    snapshot_dir=similarity_snapshot_dir(app),
                    # A job, never a build on the request path.
                    request_snapshot=lambda: request_similarity_snapshot(app, here=False),
                )
    return holder


def get_semantic_memory(app: Flask | None = None):
    """This app's sentence-vector indexes of the memory: the mapped snapshot in
    INDEX_DIR/semantic plus what was written since, or built lazily on the first query."""
    from memory.services.semantic import SemanticMemory

    # The app itself, not the proxy: its background load runs outside any app context.
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    holder = app.extensions.get("tm_semantic")
    if holder is None:
        with _extensions_lock:
            holder = app.extensions.get("tm_semantic")
            if holder is None:
                interval = float(app.config.get("INDEX_REFRESH_SECONDS", 2.0))
                holder = app.extensions["tm_semantic"] = SemanticMemory(
                    lambda: get_encoder(app).name,
                    refresh_seconds=interval,
                    snapshot_dir=semantic_snapshot_dir(app),
                    # A job, never a build on the request path; asked from the background
                    # load too, outside any app context.
                    request_snapshot=lambda: _in_app_context(
                        app, lambda: request_semantic_snapshot(app, here=False)
                    ),
                )
    return holder


def index_dir(app: Flask | None = None) -> Path | None:
    """Where fuzzy-index snapshots live: INDEX_DIR, by default <instance>/tm-index/<database>.

    None (the index is built in memory by each process) for INDEX_DIR "memory", and under
    TESTING unless INDEX_DIR is set: each test has its own database.
    """
    app = app or current_app
    configured = app.config.get("INDEX_DIR")
    if configured == "memory" or (not configured and app.config.get("TESTING")):
        return None
    if configured:
        return Path(configured)
    # One folder per database, so switching TM_DATABASE_URL never maps another memory's index.
    url = db.engine.url.render_as_string(hide_password=True)
    return Path(app.instance_path) / "tm-index" / hashlib.sha256(url.encode()).hexdigest()[:12]


def similarity_snapshot_dir(app: Flask | None = None) -> Path | None:
    """Where near-duplicate index snapshots live: INDEX_DIR/similarity; None with index_dir
    None (each process builds its own index, as without snapshots)."""
    directory = index_dir(app)
    return None if directory is None else directory / "similarity"


def semantic_snapshot_dir(app: Flask | None = None) -> Path | None:
    """Where semantic segment index snapshots live: INDEX_DIR/semantic; None with index_dir
    None (each process holds every sentence itself)."""
    directory = index_dir(app)
    return None if directory is None else directory / "semantic"


def _in_app_context(app: Flask, call: Callable[[], Any]) -> Any:
    if has_app_context():
        return call()
    with app.app_context():
        try:
            return call()
        finally:
            db.session.remove()


def get_tm_index(app: Flask | None = None):
    """This process's fuzzy translation-memory index (snapshot-backed unless index_dir is None)."""
    from memory.services.translation_memory import index_from

    app = app or current_app
    found = app.extensions.get("tm_index")
    if found is not None:
        return found
    with _extensions_lock:
        return index_from(
            app.extensions,
            refresh_seconds=float(app.config.get("INDEX_REFRESH_SECONDS", 2.0)),
            snapshot_dir=index_dir(app),
            request_snapshot=request_index_snapshot,
        )


def _retry_intervals(app: Flask) -> list[int]:
    return [int(s) for s in app.config.get("JOB_RETRY_INTERVALS", DEFAULT_RETRY_INTERVALS)]


# ----------------------------------------------------------------------------- entry points


def translation_changed(translation_id: int) -> str | None:
    """Hook called after a page translation version is stored; returns the job id."""
    return translations_changed([translation_id])


def translations_changed(translation_ids: Sequence[int]) -> str | None:
    """Hook called after versions are stored in bulk (imports); returns the job id (or None).

    The same change (same translation ids with the same content hashes) enqueued twice gives
    the same Job row and runs once; a job that failed for good is queued again. With Redis
    unreachable the row stays queued (no error: the version is stored) until the sweep.
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


def run_changes_here(
    translation_ids: Sequence[int], on_progress: ProgressCallback | None = None
) -> Job | None:
    """Record the job of a change and run it now, in this thread (a CLI command without Redis).

    Same retry policy as everywhere (the waits between attempts too, except under TESTING);
    `on_progress` sees every progress update. Returns the Job row afterwards, `finished` or
    `failed` (its `error` holds the exception's type and message); None if nothing changed.
    A change that already finished is not run again.
    """
    ids = sorted(set(translation_ids))
    if not ids:
        return None
    job, _ = _job_row_for(ids)
    if job.state == JobState.FINISHED:
        return db.session.get(Job, job.id, populate_existing=True)
    return run_recorded_here(job.id, on_progress)


def run_recorded_here(job_id: str, on_progress: ProgressCallback | None = None) -> Job | None:
    """Run a recorded Job row now, in this thread (a CLI command without Redis), as
    `run_changes_here` runs a change: same retries, `on_progress` sees every update."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    _run_with_retries(
        app,
        job_id,
        sleep=not app.config.get("TESTING"),
        remove_session=False,
        on_progress=on_progress,
    )
    return db.session.get(Job, job_id, populate_existing=True)


def request_index_snapshot(app: Flask | None = None, *, here: bool | None = None) -> str | None:
    """Have a fuzzy-index snapshot built; returns the job id when a job does it.

    `here` (default: outside a web request — a CLI command, a job) builds it in this process
    now. Otherwise records a "tm_index_snapshot" job (one at a time: a queued or running one is
    reused) for the rq workers, or this process's job thread in the embedded mode.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    directory = index_dir(app)
    if directory is None:
        return None
    if here is None:
        here = not has_request_context()
    if here:
        from memory.services.translation_memory import build_index_snapshot

        build_index_snapshot(db.session, directory)
        db.session.commit()
        return None
    job_id, fresh = _index_snapshot_row()
    if fresh:
        _dispatch(app, job_id)
    return job_id


def request_similarity_snapshot(
    app: Flask | None = None, *, here: bool | None = None
) -> str | dict[str, Any] | None:
    """Have a near-duplicate index snapshot built; returns the job id when a job does it.

    `here` (default: outside a web request) builds it in this process now and returns its
    manifest (a dict). Otherwise records a "similarity_snapshot" job (one at a time: a queued
    or running one is reused) for the rq workers, or this process's job thread.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if similarity_snapshot_dir(app) is None:
        return None
    if here is None:
        here = not has_request_context()
    if here:
        return run_similarity_snapshot(app, lambda *_: None)
    job_id, fresh = _index_snapshot_row(SIMILARITY_SNAPSHOT)
    if fresh:
        _dispatch(app, job_id)
    return job_id


def request_semantic_snapshot(
    app: Flask | None = None, *, here: bool | None = None
) -> str | dict[str, Any] | None:
    """Have a semantic segment index snapshot built; returns the job id when a job does it.

    `here` (default: outside a web request) builds it in this process now and returns its
    manifest (a dict). Otherwise records a "semantic_snapshot" job (one at a time: a queued or
    running one is reused) for the rq workers, or this process's job thread.
    """
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if semantic_snapshot_dir(app) is None:
        return None
    if here is None:
        here = not has_request_context()
    if here:
        return run_semantic_snapshot(app, lambda *_: None)
    job_id, fresh = _index_snapshot_row(SEMANTIC_SNAPSHOT)
    if fresh:
        _dispatch(app, job_id)
    return job_id


def _index_snapshot_row(kind: str = INDEX_SNAPSHOT) -> tuple[str, bool]:
    """The id of the queued or running job of `kind` (and False), or of a new one (and True).

    Asked from inside a request (a lookup that has no snapshot), so it writes on a connection
    of its own: the request's transaction is neither committed early nor left unusable when
    the write fails, and on SQLite it waits at most `SNAPSHOT_ASK_WAIT_MS` for the write lock
    (the embedded job thread may hold it for minutes while it embeds the demo pages)."""
    with db.engine.connect() as connection, _short_lock_wait(connection):
        pending = connection.scalar(
            select(Job.id)
            .where(
                Job.kind == kind,
                Job.state.in_([JobState.QUEUED, JobState.RUNNING]),
                Job.created_at >= utcnow() - timedelta(seconds=INDEX_SNAPSHOT_STALE_S),
            )
            .order_by(Job.created_at.desc())
            .limit(1)
        )
        if pending is not None:
            return pending, False
        job_id = str(uuid.uuid4())
        connection.execute(
            insert(Job).values(
                id=job_id,
                kind=kind,
                state=JobState.QUEUED,
                params={},
                idempotency_key=hashlib.sha256(f"{kind}|{job_id}".encode()).hexdigest(),
                progress_total=1,
                message="queued",
            )
        )
        connection.commit()
        return job_id, True


@contextmanager
def _short_lock_wait(connection: Connection) -> Iterator[None]:
    """On SQLite, wait at most SNAPSHOT_ASK_WAIT_MS for the write lock on `connection`, then
    put its own wait back (the pool hands the connection out again)."""
    if connection.dialect.name != "sqlite":
        yield
        return
    previous = int(connection.exec_driver_sql("PRAGMA busy_timeout").scalar() or 0)
    connection.exec_driver_sql(f"PRAGMA busy_timeout = {SNAPSHOT_ASK_WAIT_MS}")
    try:
        yield
    finally:
        connection.rollback()
        connection.exec_driver_sql(f"PRAGMA busy_timeout = {previous}")
        connection.commit()


def resume_pending_jobs(app: Flask) -> None:
    """Start this process's job thread now: it runs the rows a previous run left queued."""
    if not app.config.get("REDIS_URL"):
        _in_process_runner(app)


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


def dispatch(app: Flask, job_id: str) -> None:
    """Run a recorded Job row the way this configuration runs jobs (rq, thread, in-line)."""
    _dispatch(app, job_id)


def _dispatch(app: Flask, job_id: str) -> None:
    if app.config.get("REDIS_URL"):
        from redis.exceptions import RedisError

        try:
            enqueue(app, job_id)
        except RedisError as error:
            # The version is stored and its row says queued: the workers' sweep enqueues it
            # once Redis answers again. The caller (a push) must not fail for that.
            log.warning("job %s stays queued, Redis is unreachable: %s", job_id, error)
            row = db.session.get(Job, job_id)
            if row is not None:
                row.message = "queued; Redis unreachable, enqueued when it is back"
                db.session.commit()
    elif app.config.get("TESTING"):
        # Same session as the caller (a request or a CLI command): don't remove it.
        _run_with_retries(app, job_id, sleep=False, remove_session=False)
    else:
        _in_process_runner(app).submit(job_id)


def enqueue(app: Flask, job_id: str) -> None:
    """Put a job on the rq queue (rq job id = Job id) with the retry policy; RedisError if down."""
    from rq import Retry

    rq_queue(app).enqueue(
        run_job,
        job_id,
        job_id=job_id,
        retry=Retry(max=MAX_RETRIES, interval=_retry_intervals(app)),
        job_timeout=JOB_TIMEOUT_S,
        description=f"tm job {job_id}",
    )


def rq_queue(app: Flask | None = None) -> Queue:
    """The rq queue of this app (RQ_QUEUE on REDIS_URL)."""
    app = app or current_app
    found = app.extensions.get("tm_rq_queue")
    if found is None:
        from redis import Redis
        from rq import Queue

        connection = Redis.from_url(
            app.config["REDIS_URL"],
            socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S,
            # A worker raises this above its wait for work (rq sets it); web calls are short.
            socket_timeout=REDIS_TIMEOUT_S,
        )
        found = app.extensions["tm_rq_queue"] = Queue(app.config["RQ_QUEUE"], connection=connection)
    return found


def redis_reachable(app: Flask | None = None) -> bool:
    """Whether REDIS_URL answers a PING within a second (for /health)."""
    app = app or current_app
    client = app.extensions.get("tm_health_redis")
    if client is None:
        from redis import Redis

        client = app.extensions["tm_health_redis"] = Redis.from_url(
            app.config["REDIS_URL"],
            socket_connect_timeout=HEALTH_REDIS_TIMEOUT_S,
            socket_timeout=HEALTH_REDIS_TIMEOUT_S,
        )
    from redis.exceptions import RedisError

    try:
        return bool(client.ping())
    except RedisError:
        return False


def enqueue_lost_jobs(app: Flask | None = None) -> list[str]:
    """Enqueue again the queued or running rows whose rq job Redis does not hold; their ids.

    Such a row's enqueue failed (Redis was down when the version was stored) or Redis lost the
    job (restarted without its data). Rows younger than JOB_SWEEP_GRACE_SECONDS are left alone:
    their enqueue may be under way. rq workers run this at start and at every maintenance.
    """
    from rq.job import Job as RqJob

    app = app or current_app
    grace = float(app.config.get("JOB_SWEEP_GRACE_SECONDS", DEFAULT_SWEEP_GRACE_S))
    session = db.session
    candidates = session.scalars(
        select(Job.id)
        .where(
            Job.kind.in_(JOB_KINDS),
            Job.state.in_([JobState.QUEUED, JobState.RUNNING]),
            Job.created_at <= utcnow() - timedelta(seconds=grace),
        )
        .order_by(Job.created_at)
    ).all()
    session.commit()  # end the read: the sweep must not hold a transaction open
    connection = rq_queue(app).connection
    lost: list[str] = []
    for start in range(0, len(candidates), SWEEP_BATCH):
        chunk = candidates[start : start + SWEEP_BATCH]
        with connection.pipeline(transaction=False) as pipeline:
            for job_id in chunk:
                pipeline.exists(RqJob.key_for(job_id))
            held = pipeline.execute()
        lost.extend(job_id for job_id, there in zip(chunk, held, strict=True) if not there)
    for job_id in lost:
        enqueue(app, job_id)
    if lost:
        log.warning("enqueued %d job(s) again that Redis did not hold", len(lost))
    return lost


def heartbeat_seconds(app: Flask) -> int:
    """JOB_HEARTBEAT_SECONDS: how often a worker renews its claim on the running job."""
    return max(1, int(app.config.get("JOB_HEARTBEAT_SECONDS", DEFAULT_HEARTBEAT_S)))


def rq_worker(app: Flask | None = None, *, fork: bool = False):
    """An rq worker on this app's queue (see `tm_service.workers.rq_worker`)."""
    from tm_service.workers import rq_worker as make_worker

    return make_worker(app or current_app, fork=fork)


# ----------------------------------------------------------------------------- progress


class ProgressThrottle:
    """When a progress line is worth writing where lines pile up (a log, redirected output):
    at each `percent` of the total, at the end, and after `seconds` without a line."""

    def __init__(
        self, percent: int = 10, seconds: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.percent = max(1, percent)
        self.seconds = seconds
        self.clock = clock
        self._last: tuple[int, int, str] | None = None
        self._bucket = -1
        self._at = 0.0

    def due(self, done: int, total: int, step: str = "") -> bool:
        """Whether (done, total, step) deserves a line; if so, it counts as written."""
        if (done, total, step) == self._last:
            return False
        bucket = (100 * done // total) // self.percent if total > 0 else 0
        now = self.clock()
        changed_step = self._last is None or self._last[2] != step
        if (
            changed_step
            or bucket != self._bucket
            or done >= total
            or now - self._at >= self.seconds
        ):
            self._last, self._bucket, self._at = (done, total, step), bucket, now
            return True
        return False


def eta_seconds(job: Job, now: Any = None) -> int | None:
    """Seconds a running job still needs at its average rate so far; None if it can't tell.

    elapsed × (total − done) / done, elapsed since this attempt started; None before the first
    page translation is done, and once done reached total (the last steps run no count).
    """
    if job.state != JobState.RUNNING or job.started_at is None:
        return None
    done, total = job.progress_done or 0, job.progress_total or 0
    if done <= 0 or done >= total:
        return None
    elapsed = ((now or utcnow()) - job.started_at).total_seconds()
    return max(0, round(elapsed * (total - done) / done))


def describe_eta(seconds: int | None) -> str:
    """'about 4 min left' (or '' when unknown)."""
    if seconds is None:
        return ""
    if seconds < 90:
        return f"about {max(1, seconds)} s left"
    minutes = round(seconds / 60)
    if minutes < 90:
        return f"about {minutes} min left"
    return f"about {minutes // 60} h {minutes % 60} min left"


def describe_progress(job: Job) -> str:
    """'embedding pages 120/471 (25 %), about 4 min left' for logs and the CLI."""
    done, total = job.progress_done or 0, job.progress_total or 0
    percent = 100 * done // total if total else 100
    eta = describe_eta(eta_seconds(job))
    return f"{job.message} {done}/{total} ({percent} %)" + (f", {eta}" if eta else "")


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
    from rq import get_current_job

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


def _run_with_retries(
    app: Flask,
    job_id: str,
    *,
    sleep: bool,
    remove_session: bool = True,
    on_progress: ProgressCallback | None = None,
) -> None:
    """In-process runs (thread, CLI or synchronous): the same retry policy as rq."""
    intervals = _retry_intervals(app)
    for attempt in range(MAX_RETRIES + 1):
        will_retry = attempt < MAX_RETRIES
        try:
            execute_job(app, job_id, will_retry=will_retry, on_progress=on_progress)
            return
        except Exception as error:  # noqa: BLE001 — recorded on the Job row
            wait = intervals[min(attempt, len(intervals) - 1)] if sleep else 0
            log.warning(
                "job %s failed (attempt %d of %d): %s: %s%s",
                job_id,
                attempt + 1,
                MAX_RETRIES + 1,
                type(error).__name__,
                error,
                f"; retrying in {wait} s" if will_retry else "",
                exc_info=log.isEnabledFor(logging.DEBUG),
            )
            if not will_retry:
                return
            if wait:
                time.sleep(wait)
        finally:
            if remove_session:
                db.session.remove()


def execute_job(
    app: Flask,
    job_id: str,
    *,
    will_retry: bool = False,
    rq_job: Any = None,
    on_progress: ProgressCallback | None = None,
) -> dict[str, Any] | None:
    """Run a job by its row: state running → finished (or queued again / failed), progress.

    Progress is in page translations: `progress_total` stays what it was when the job was
    recorded and `progress_done` only grows during an attempt (each step's own count is scaled
    to it); a line goes to the log at every 10 % and every 30 s, with the ETA.
    """
    session = db.session
    job = session.get(Job, job_id)
    if job is None:
        log.warning("job %s has no row; nothing to do", job_id)
        return None
    if job.state == JobState.FINISHED:
        return job.result  # already done (a duplicate delivery)
    ids = [int(i) for i in job.params.get("translation_ids", [])]
    job.state = JobState.RUNNING
    job.attempts += 1
    job.started_at = utcnow()
    job.error = None
    job.message = "running"
    job.progress_total = job.progress_total or len(ids)
    job.progress_done = 0  # an attempt does its work again (cached vectors are quick)
    session.commit()
    total = job.progress_total
    throttle = ProgressThrottle()

    def progress(step_done: int, step_total: int, message: str | None = None) -> None:
        row = session.get(Job, job_id)
        if row is None:
            return
        # A step counts its own items (embedding skips drafts, say): scale it to the job's total.
        scaled = total if step_total <= 0 else total * min(step_done, step_total) // step_total
        done = max(row.progress_done or 0, scaled)
        if done == row.progress_done and (not message or message == row.message):
            return
        row.progress_done = done
        if message:
            row.message = message
        session.commit()
        step = row.message
        if throttle.due(done, total, step):
            log.info("job %s: %s", job_id, describe_progress(row))
        if rq_job is not None:
            rq_job.meta["progress"] = {
                "done": done,
                "total": total,
                "message": step,
                "eta_seconds": eta_seconds(row),
            }
            rq_job.save_meta()
        if on_progress is not None:
            on_progress(done, total, step)

    try:
        if job.kind == INDEX_SNAPSHOT:
            result = run_index_snapshot(app, progress)
        elif job.kind == SIMILARITY_SNAPSHOT:
            result = run_similarity_snapshot(app, progress)
        elif job.kind == SEMANTIC_SNAPSHOT:
            result = run_semantic_snapshot(app, progress)
        elif job.kind in REGION_JOB_KINDS:
            from tm_service.region_jobs import run_region_job

            result = run_region_job(app, job, progress)
        elif job.kind == INTEGREAT_SYNC:
            from tm_service.sync_jobs import run_integreat_sync

            result = run_integreat_sync(app, job, progress)
        else:
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
            if on_progress is not None:
                on_progress(row.progress_done, total, row.message)
        raise
    row = session.get(Job, job_id)
    assert row is not None
    row.state = JobState.FINISHED
    row.progress_done = row.progress_total
    row.result = result
    row.message = "finished"
    row.finished_at = utcnow()
    session.commit()
    log.info("job %s finished: %d page translations", job_id, row.progress_total)
    if on_progress is not None:
        on_progress(row.progress_done, row.progress_total, row.message)
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
        from memory.services.semantic import SentenceEmbedder

        encoder = get_encoder(app)
        # Pages whose block structure does not decide are aligned by meaning, with a
        # multilingual model only (the test suite's fake encoder relates no languages).
        embedder = SentenceEmbedder(session, encoder) if encoder.multilingual else None
        result["tm_units"] = _json_safe(refresh_units(session, ids, embed=embedder))
        session.commit()
        if embedder is not None:
            result["alignment_vectors_encoded"] = embedder.store()
    progress(0, len(ids), "embedding pages")
    report = similarity.embed_pages(
        session, get_encoder(app), ids, lambda done, total: progress(done, total)
    )
    result["embedding"] = report.as_dict()
    from memory.services.semantic import embed_segments

    progress(report.translations, report.translations, "embedding sentences")
    result["segment_embedding"] = embed_segments(session, get_encoder(app), ids).as_dict()
    holder = app.extensions.get("tm_similarity")
    if holder is not None:
        # Only a process that serves queries holds an index; make its next query see this.
        holder.mark_stale()
        progress(report.translations, report.translations, "updating similarity index")
        holder.ensure_fresh(session)
    return result


def run_index_snapshot(app: Flask, progress) -> dict[str, Any]:
    """Build the fuzzy index from the database and publish it in INDEX_DIR."""
    from memory.services.translation_memory import build_index_snapshot

    directory = index_dir(app)
    if directory is None:
        return {"skipped": "INDEX_DIR is memory: each process builds its own index"}
    progress(0, 1, "building the fuzzy index snapshot")
    started = time.perf_counter()
    manifest = build_index_snapshot(db.session, directory)
    db.session.commit()
    holder = app.extensions.get("tm_index")
    if holder is not None:
        holder.mark_stale()  # this process serves queries: map the snapshot at the next one
    log.info(
        "fuzzy index snapshot of revision %d: %d forms, %d units, %.1f MB, %.1f s",
        manifest.revision,
        manifest.forms,
        manifest.units,
        manifest.bytes / 1e6,
        time.perf_counter() - started,
    )
    return dataclasses.asdict(manifest)


def run_similarity_snapshot(app: Flask, progress) -> dict[str, Any]:
    """Build the near-duplicate page index from the database and publish it in
    INDEX_DIR/similarity; every process maps it at its next refresh."""
    directory = similarity_snapshot_dir(app)
    if directory is None:
        return {"skipped": "INDEX_DIR is memory: each process builds its own index"}
    progress(0, 1, "building the near-duplicate index snapshot")
    manifest = similarity.build_similarity_snapshot(db.session, get_encoder(app).name, directory)
    db.session.commit()
    holder = app.extensions.get("tm_similarity")
    if holder is not None:
        holder.mark_stale()  # this process serves queries: map the snapshot at the next one
    return {**dataclasses.asdict(manifest), "index_dir": str(directory)}


def run_semantic_snapshot(app: Flask, progress) -> dict[str, Any]:
    """Write the memory's source sentences and their vectors as a snapshot in
    INDEX_DIR/semantic; every process maps it at its next refresh."""
    from memory.services.semantic import build_semantic_snapshot

    directory = semantic_snapshot_dir(app)
    if directory is None:
        return {"skipped": "INDEX_DIR is memory: each process holds every sentence itself"}
    from memory.services.semantic import embed_unit_sources

    # Units imported through the API have no page job that embeds them: this one does.
    progress(0, 1, "embedding unit sentences without a vector")
    embedded = embed_unit_sources(db.session, get_encoder(app))
    progress(0, 1, "building the semantic segment index snapshot")
    manifest = build_semantic_snapshot(db.session, get_encoder(app).name, directory)
    db.session.commit()
    holder = app.extensions.get("tm_semantic")
    if holder is not None:
        holder.mark_stale()  # this process serves queries: map the snapshot at the next one
    return {
        **dataclasses.asdict(manifest),
        "index_dir": str(directory),
        "unit_sentences": embedded.as_dict(),
    }


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
    """One background thread working a queue of job ids (`tm serve`, web requests, no Redis).

    Nothing waits for it at exit: a job cut short keeps its row queued or running, and the
    next start of the process runs it again (`_in_process_runner` picks such rows up).
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.queue: queue.Queue[str] = queue.Queue()
        self._waiting: set[str] = set()
        self._waiting_lock = threading.Lock()
        self.thread = threading.Thread(target=self._work, name="tm-jobs", daemon=True)
        self.thread.start()

    def submit(self, job_id: str) -> None:
        with self._waiting_lock:
            if job_id in self._waiting:
                return  # already waiting in the queue
            self._waiting.add(job_id)
        self.queue.put(job_id)

    def drain(self, timeout: float | None = None) -> None:
        """Wait until the queued jobs are done (or `timeout` seconds passed)."""
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
