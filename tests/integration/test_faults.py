"""Processes killed with SIGKILL halfway leave nothing partial, and the work completes on retry.

- A `flask tm tmx-import` of a big file (20 000 units) is killed half-way through, its one
  transaction writing units on a real PostgreSQL: none of its units exist; the same import run
  again stores them all, and a third run adds nothing.
- A `flask tm worker` is killed in the middle of the job that an Integreat import enqueued
  (refreshing translation-memory units, on real Redis and PostgreSQL): once the dead worker's
  claim lapses, the next worker retries the job (rq's registry cleanup) and it finishes with the
  units and embeddings of a clean run, none twice. A job killed on its last attempt is marked
  failed on its Job row, and the next identical change runs it again.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from rq import Queue
from rq.registry import StartedJobRegistry
from sqlalchemy import create_engine, func, select, text

from connectors.integreat import read_dumps
from memory.models import PageTranslation
from memory.services.imports import import_integreat_pages
from memory.similarity_models import EmbeddingCache, Job, JobState
from memory.tm_models import TranslationUnit
from memory.tmx import TmxUnit, write_tmx
from tm_service import create_app, jobs
from tm_service.demo import DEMO_DIR
from tm_service.extensions import db

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]
TMX_UNITS = 20_000
# A unit row holds ≥ 420 bytes of hashes and texts here (≈ 550 on disk): once the table has
# grown by this much, the import is about half-way through the file.
HALF_WAY_BYTES = TMX_UNITS * 250
BATCH = "killed-halfway"
HEARTBEAT_S = 1  # the killed worker's claim lapses after 3 s (HEARTBEAT_TTL_FACTOR × this)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@contextmanager
def table_size(database_url: str, table: str) -> Iterator[Callable[[], int]]:
    """A function giving the heap size of a table: it grows with inserted rows, committed or
    not."""
    engine = create_engine(database_url)

    def size() -> int:
        with engine.connect() as connection:
            return connection.scalar(text("SELECT pg_relation_size(:t)"), {"t": table}) or 0

    try:
        yield size
    finally:
        engine.dispose()


def kill(process: subprocess.Popen) -> None:
    assert process.poll() is None, "the process finished before it could be killed"
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL


def flask_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", "tm", *args]


def run_env(database_url: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "TM_DATABASE_URL": database_url,
        "TM_EMBEDDING_MODEL": "fake",
        **extra,
    }


@pytest.fixture
def pg_app(postgres_url: str) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        db.engine.dispose()


# ----------------------------------------------------------------------------- TMX import


def pseudo_word(number: int) -> str:
    """A distinct made-up word per number (digits would all normalise to one placeholder)."""
    letters = "bcdfghklmnprstvz"
    word = ""
    for _ in range(5):
        number, rest = divmod(number, len(letters))
        word += letters[rest] + "aeiou"[rest % 5]
    return word.capitalize()


def big_tmx(path: Path, units: int) -> None:
    records = (
        TmxUnit(
            source_language="de",
            target_language="en",
            source_text=f"Die Beratungsstelle {pseudo_word(i)} hilft bei der Anmeldung.",
            target_text=f"The {pseudo_word(i)} counselling centre helps with registration.",
            properties={"x-origin": "human"},
        )
        for i in range(units)
    )
    with path.open("wb") as out:
        assert write_tmx(records, out, source_language="de") == units


def units_of_batch(app: Flask, batch: str) -> int:
    with app.app_context():
        count = db.session.scalar(
            select(func.count(TranslationUnit.id)).where(TranslationUnit.import_batch == batch)
        )
        db.session.remove()
        return count or 0


def test_tmx_import_killed_halfway_stores_nothing_and_the_rerun_completes_once(
    pg_app, postgres_url, tmp_path
):
    path = tmp_path / "big.tmx"
    big_tmx(path, TMX_UNITS)
    env = run_env(postgres_url)
    arguments = ["tmx-import", str(path), "--batch", BATCH, "--license", "CC BY 4.0"]
    arguments += ["--attribution", "generated test units"]
    command = flask_command(*arguments)

    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        # Its one transaction has written about half of the units: not committed, so the table
        # is empty for everyone else, but its heap has grown.
        with table_size(postgres_url, "translation_unit") as size:
            wait_for(lambda: size() >= HALF_WAY_BYTES, "the import to write half of its units")
        kill(process)
    finally:
        if process.poll() is None:
            process.kill()
        process.communicate()

    assert units_of_batch(pg_app, BATCH) == 0
    with pg_app.app_context():
        assert db.session.scalar(select(func.count(TranslationUnit.id))) == 0
        db.session.remove()

    # The same command again (in this process: the same CLI code without a second start-up).
    runner = pg_app.test_cli_runner()
    again = runner.invoke(args=["tm", *arguments])
    assert again.exit_code == 0, again.output
    report = json.loads(again.stdout.strip().splitlines()[-1])
    assert (report["created"], report["unchanged"]) == (TMX_UNITS, 0)
    assert units_of_batch(pg_app, BATCH) == TMX_UNITS

    third = runner.invoke(args=["tm", *arguments])
    assert third.exit_code == 0, third.output
    report = json.loads(third.stdout.strip().splitlines()[-1])
    assert (report["created"], report["unchanged"]) == (0, TMX_UNITS)
    assert units_of_batch(pg_app, BATCH) == TMX_UNITS


# ----------------------------------------------------------------------------- rq worker


def import_lkaugsburg() -> list[int]:
    """The Landkreis Augsburg dumps (471 page translations); the ids whose job is enqueued."""
    report = import_integreat_pages(
        db.session, None, "lkaugsburg", read_dumps(DEMO_DIR), region_name="Landkreis Augsburg"
    )
    return report.changed_translation_ids


def stored_counts() -> dict[str, int]:
    units = select(func.count(TranslationUnit.id))
    return {
        "translations": db.session.scalar(select(func.count(PageTranslation.id))) or 0,
        "units": db.session.scalar(units) or 0,
        "unit_keys": db.session.scalar(select(func.count(func.distinct(TranslationUnit.unit_key))))
        or 0,
        "embeddings": db.session.scalar(select(func.count(EmbeddingCache.id))) or 0,
    }


@pytest.fixture(scope="module")
def clean_run(postgres_server) -> dict[str, int]:
    """What the import and its job store when nothing goes wrong (a database of its own, the
    job run in-line); `units_heap` is the unit table's size in bytes."""
    name = f"t_clean_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = postgres_server.url.rsplit("/", 1)[0] + f"/{name}"
    app = create_app({"TESTING": True, "DATABASE_URL": url, "EMBEDDING_MODEL": "fake"})
    try:
        with app.app_context():
            upgrade()
            jobs.translations_changed(import_lkaugsburg())
            (job,) = db.session.scalars(select(Job)).all()
            assert job.state == JobState.FINISHED
            counts = stored_counts()
            counts["units_heap"] = db.session.scalar(
                text("SELECT pg_relation_size('translation_unit')")
            )
            db.session.remove()
            db.engine.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    assert counts["units"] > 4000 and counts["embeddings"] > 400
    return counts


@pytest.fixture
def rq_app(postgres_url, redis_server) -> Iterator[Flask]:
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": postgres_url,
            "REDIS_URL": redis_server.url,
            "RQ_QUEUE": f"faults-{uuid.uuid4().hex[:8]}",
            "EMBEDDING_MODEL": "fake",
            "JOB_RETRY_INTERVALS": [0, 0, 0],
        }
    )
    with app.app_context():
        upgrade()
    yield app
    with app.app_context():
        jobs.rq_queue(app).connection.close()
        db.session.remove()
        db.engine.dispose()


class Workers:
    """`flask tm worker` processes of one test, each in its own process group (a worker
    starts its rq scheduler as a child): killed with the whole group, or run to the end."""

    def __init__(self, app: Flask, logs: Path) -> None:
        self.env = run_env(
            app.config["SQLALCHEMY_DATABASE_URI"],
            TM_REDIS_URL=app.config["REDIS_URL"],
            TM_RQ_QUEUE=app.config["RQ_QUEUE"],
            TM_JOB_HEARTBEAT_SECONDS=str(HEARTBEAT_S),
        )
        self.logs = logs
        self.started: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        with (self.logs / f"worker-{len(self.started)}.log").open("wb") as log:
            process = subprocess.Popen(
                flask_command("worker"),
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        assert process.poll() is None, "the worker exited before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)
        assert process.wait(timeout=10) == -signal.SIGKILL

    def burst(self) -> str:
        """A worker that starts, does what the queue holds and exits; its output."""
        finished = subprocess.run(
            [*flask_command("worker"), "--burst"],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert finished.returncode == 0, finished.stderr
        return finished.stderr

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


@pytest.fixture
def workers(rq_app, tmp_path) -> Iterator[Workers]:
    started = Workers(rq_app, tmp_path)
    yield started
    started.stop_all()


def job_row(app: Flask, job_id: str) -> Job:
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert job is not None
        db.session.expunge(job)
        db.session.remove()
        return job


def counts_of(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = stored_counts()
        db.session.remove()
        return counts


def wait_until_claim_lapsed(queue: Queue, job_id: str) -> None:
    """The dead worker's claim (its StartedJobRegistry entry) expired: cleanup may take it."""
    registry = StartedJobRegistry(queue=queue)
    wait_for(lambda: job_id in registry.get_expired_job_ids(), "the claim to lapse", 30)


def test_worker_killed_mid_job_the_retry_finishes_with_the_units_of_a_clean_run(
    rq_app, workers, clean_run
):
    with rq_app.app_context():
        job_id = jobs.translations_changed(import_lkaugsburg())
        queue = jobs.rq_queue(rq_app)
    assert job_id is not None and queue.job_ids == [job_id]

    worker = workers.start()
    # Half-way through refreshing the units: written, not committed.
    with table_size(rq_app.config["SQLALCHEMY_DATABASE_URI"], "translation_unit") as size:
        wait_for(lambda: size() >= clean_run["units_heap"] // 2, "half of the units written")
    workers.kill(worker)

    killed = job_row(rq_app, job_id)
    assert (killed.state, killed.attempts) == (JobState.RUNNING, 1)
    assert counts_of(rq_app)["units"] == 0  # the refresh is one transaction
    assert job_id in StartedJobRegistry(queue=queue).get_job_ids(cleanup=False)

    wait_until_claim_lapsed(queue, job_id)
    workers.burst()  # starts with rq's registry cleanup: the job is retried, and run

    done = job_row(rq_app, job_id)
    assert (done.state, done.attempts, done.error) == (JobState.FINISHED, 2, None)
    assert queue.fetch_job(job_id).get_status() == "finished"
    counts = counts_of(rq_app)
    assert counts["units"] == counts["unit_keys"] == clean_run["units"]
    assert counts["embeddings"] == clean_run["embeddings"]
    assert counts["translations"] == clean_run["translations"]


def test_worker_killed_on_the_last_attempt_fails_the_job_and_the_next_change_runs_it(
    rq_app, workers, clean_run
):
    with rq_app.app_context():
        ids = import_lkaugsburg()
        job_id = jobs.translations_changed(ids)
        queue = jobs.rq_queue(rq_app)
    rq_job = queue.fetch_job(job_id)
    rq_job.retries_left = 0  # as if the earlier attempts had failed
    rq_job.save()

    worker = workers.start()
    wait_for(lambda: job_row(rq_app, job_id).state == JobState.RUNNING, "the job to start")
    workers.kill(worker)

    wait_until_claim_lapsed(queue, job_id)
    workers.burst()  # the cleanup finds the job abandoned with no retry left

    failed = job_row(rq_app, job_id)
    assert (failed.state, failed.message) == (JobState.FAILED, "failed: worker died")
    assert failed.error.startswith("AbandonedJobError")
    assert queue.fetch_job(job_id).get_status() == "failed"
    assert counts_of(rq_app)["units"] in (0, clean_run["units"])  # nothing partial

    with rq_app.app_context():
        assert jobs.translations_changed(ids) == job_id  # the same change: queued again
    workers.burst()

    done = job_row(rq_app, job_id)
    assert (done.state, done.attempts) == (JobState.FINISHED, 2)
    counts = counts_of(rq_app)
    assert counts["units"] == counts["unit_keys"] == clean_run["units"]
    assert counts["embeddings"] == clean_run["embeddings"]


def test_a_worker_restarted_before_the_claim_lapsed_retries_the_job_once_it_lapses(
    rq_app, workers, clean_run, tmp_path
):
    # A claim of 30 s: the new worker is up (and has run its start-up cleanup) well before it
    # lapses, so only its periodic maintenance can find the abandoned job. rq's default of 10
    # minutes between maintenances (17 in practice) made that wait; it is one heartbeat now.
    heartbeat = 10
    workers.env["TM_JOB_HEARTBEAT_SECONDS"] = str(heartbeat)
    with rq_app.app_context():
        job_id = jobs.translations_changed(import_lkaugsburg())
        queue = jobs.rq_queue(rq_app)
    registry = StartedJobRegistry(queue=queue)

    first = workers.start()
    wait_for(lambda: job_row(rq_app, job_id).state == JobState.RUNNING, "the job to start")
    workers.kill(first)
    killed_at = time.monotonic()
    workers.start()
    log = tmp_path / "worker-1.log"
    wait_for(lambda: log.exists() and "rq worker on queue" in log.read_text(), "the new worker")
    assert job_id not in registry.get_expired_job_ids()  # its claim still held at the restart

    lapse = jobs.HEARTBEAT_TTL_FACTOR * heartbeat
    done = wait_for(
        lambda: (row := job_row(rq_app, job_id)).state == JobState.FINISHED and row,
        "the restarted worker to retry and finish the job",
        timeout=lapse + 3 * heartbeat + 60,
    )
    retried_after = time.monotonic() - killed_at

    assert done.attempts == 2
    assert retried_after < lapse + 2 * heartbeat + 60  # the lapse, one maintenance, the run
    counts = counts_of(rq_app)
    assert counts["units"] == counts["unit_keys"] == clean_run["units"]
