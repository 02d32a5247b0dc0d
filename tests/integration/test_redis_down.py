"""Redis down: the Job row is the truth. A push that stored its version answers 2xx, /health says
degraded, and the rows whose jobs never reached Redis (or were lost with it) are enqueued again
by the workers' sweep once Redis is back. A real redis-server is stopped and started again."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from memory.similarity_models import Job, JobState
from tests.conftest import bearer
from tests.integration.servers import RedisServer, start_redis
from tm_service import create_app, jobs
from tm_service.extensions import db

pytestmark = [pytest.mark.slow, pytest.mark.redis]

REPO = Path(__file__).resolve().parents[2]
PAGES = {
    "schulden": "<p>Die Schuldnerberatung hilft kostenlos bei Schulden, Mahnungen und Inkasso.</p>",
    "kita": "<p>Einen Kita-Platz beantragen Sie bis spätestens sechs Monate vor dem Start.</p>",
}


class StoppableRedis:
    """A redis-server of this test alone (the session's is shared), stopped and started on one
    port; without persistence, so a restart loses every queued job."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.server: RedisServer | None = start_redis(base)
        if self.server is None:
            if os.environ.get("CI"):
                pytest.fail("redis-server is not installed; .ci/run installs it")
            pytest.skip("redis-server is not installed")
        self.url = self.server.url
        self.port = int(self.url.rsplit(":", 1)[1].split("/")[0])

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None

    def start(self) -> None:
        assert self.server is None
        self.server = start_redis(self.base, port=self.port)


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[StoppableRedis]:
    server = StoppableRedis(tmp_path / "redis")
    yield server
    server.stop()


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path, redis: StoppableRedis) -> Iterator[Flask]:
    path = tmp_path / "tm.sqlite3"
    shutil.copyfile(seeded_database, path)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{path}",
            "REDIS_URL": redis.url,
            "RQ_QUEUE": f"down-{uuid.uuid4().hex[:8]}",
            "EMBEDDING_MODEL": "fake",
            "JOB_RETRY_INTERVALS": [0, 0, 0],
        }
    )
    yield app
    with app.app_context():
        jobs.rq_queue(app).connection.close()
        db.engine.dispose()


def push(client, token: str, page: str):
    return client.put(
        f"/api/v1/regions/alpha/pages/{page}/translations/de",
        json={"title": page.capitalize(), "content": PAGES[page]},
        headers=bearer(token),
    )


def job_rows(app: Flask) -> list[Job]:
    with app.app_context():
        rows = db.session.scalars(db.select(Job).order_by(Job.created_at)).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def worker_burst(app: Flask) -> str:
    """`flask tm worker --burst` as production runs it: sweep at start, work, exit."""
    env = {
        **os.environ,
        "TM_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "TM_REDIS_URL": app.config["REDIS_URL"],
        "TM_RQ_QUEUE": app.config["RQ_QUEUE"],
        "TM_EMBEDDING_MODEL": "fake",
        "TM_JOB_SWEEP_GRACE_SECONDS": "0",  # the rows are seconds old
    }
    finished = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "tm", "worker", "--burst"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    return finished.stderr


def test_pushes_while_redis_is_down_are_stored_and_their_jobs_run_once_it_is_back(
    app, client, make_token, redis
):
    token = make_token()
    assert client.get("/api/v1/health").get_json()["status"] == "ok"
    redis.stop()

    health = client.get("/api/v1/health")
    first = push(client, token, "schulden")
    again = push(client, token, "schulden")
    other = push(client, token, "kita")

    assert health.status_code == 200
    assert health.get_json() | {"version": None} == {
        "status": "degraded",
        "database": "ok",
        "jobs": "redis",
        "redis": "unavailable",
        "version": None,
    }
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    rows = job_rows(app)
    assert [row.state for row in rows] == [JobState.QUEUED, JobState.QUEUED]
    assert all("Redis unreachable" in row.message for row in rows)

    redis.start()  # empty: nothing of the pushes reached it
    assert client.get("/api/v1/health").get_json()["status"] == "ok"
    log = worker_burst(app)

    assert "enqueued 2 job(s) again that Redis did not hold" in log
    done = job_rows(app)
    assert [(row.state, row.attempts) for row in done] == [(JobState.FINISHED, 1)] * 2
    assert all(row.result["embedding"]["encoded"] == 1 for row in done)


def test_jobs_lost_with_a_restarted_redis_are_enqueued_again(app, client, make_token, redis):
    assert push(client, make_token(), "schulden").status_code == 201
    (row,) = job_rows(app)
    with app.app_context():
        assert jobs.rq_queue(app).job_ids == [row.id]

    redis.stop()
    redis.start()  # no persistence: the queued rq job is gone, the row still says queued
    with app.app_context():
        assert jobs.rq_queue(app).job_ids == []
    worker_burst(app)

    (done,) = job_rows(app)
    assert (done.id, done.state, done.attempts) == (row.id, JobState.FINISHED, 1)


def test_the_sweep_leaves_young_rows_and_rows_redis_holds_alone(app, client, make_token):
    assert push(client, make_token(), "schulden").status_code == 201
    (row,) = job_rows(app)

    with app.app_context():
        assert jobs.enqueue_lost_jobs(app) == []  # younger than the grace period, and queued
        app.config["JOB_SWEEP_GRACE_SECONDS"] = 0
        assert jobs.enqueue_lost_jobs(app) == []  # Redis holds its rq job
        assert jobs.rq_queue(app).job_ids == [row.id]
