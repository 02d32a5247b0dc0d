"""Jobs on a real Redis: enqueued by a push, run by a real rq worker, retried after a failure."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from memory.similarity_models import Job, JobState
from tests.conftest import bearer
from tests.integration.conftest import redis_backed_app, work_off_queue
from tm_service import jobs
from tm_service.extensions import db

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]
PAGE = "<p>Die Schuldnerberatung hilft kostenlos bei Schulden, Mahnungen und Inkasso.</p>"


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path, redis_server) -> Iterator[Flask]:
    with redis_backed_app(tmp_path, seeded_database, redis_server.url) as app:
        yield app


def push(client, token, content=PAGE):
    response = client.put(
        "/api/v1/regions/alpha/pages/schulden/translations/de",
        json={"title": "Schuldnerberatung", "content": content},
        headers=bearer(token),
    )
    assert response.status_code == 201


def only_job(app: Flask) -> Job:
    with app.app_context():
        (job,) = db.session.scalars(db.select(Job)).all()
        db.session.expunge(job)
        return job


def test_a_push_is_enqueued_once_and_a_real_worker_finishes_it(app, client, make_token):
    push(client, make_token())
    job = only_job(app)
    queue = jobs.rq_queue(app)

    assert job.state == JobState.QUEUED
    with app.app_context():
        assert jobs.translations_changed(job.params["translation_ids"]) == job.id
    assert queue.job_ids == [job.id]  # the same change enqueued twice: one rq job

    work_off_queue(app)

    done = only_job(app)
    assert done.state == JobState.FINISHED
    assert (done.progress_done, done.progress_total) == (1, 1)
    assert done.result["embedding"]["encoded"] == 1
    assert queue.fetch_job(job.id).meta["progress"]["done"] == 1
    assert client.get(f"/api/v1/jobs/{job.id}").get_json()["state"] == "finished"


def test_a_job_that_fails_once_is_retried_by_rq_and_finishes(app, client, make_token, monkeypatch):
    failures = []
    real = jobs.similarity.embed_pages

    def flaky(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise RuntimeError("encoder crashed")
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs.similarity, "embed_pages", flaky)
    push(client, make_token())

    work_off_queue(app)

    job = only_job(app)
    assert failures == [1]
    assert job.state == JobState.FINISHED
    assert job.attempts == 2


def test_flask_tm_worker_burst_runs_queued_jobs_in_a_subprocess(app, client, make_token):
    push(client, make_token())
    env = {
        **os.environ,
        "TM_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "TM_REDIS_URL": app.config["REDIS_URL"],
        "TM_RQ_QUEUE": app.config["RQ_QUEUE"],
        "TM_EMBEDDING_MODEL": "fake",
    }

    finished = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "tm", "worker", "--burst"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert finished.returncode == 0, finished.stderr
    assert only_job(app).state == JobState.FINISHED
