"""The scheduled live sync on a real Redis: `flask tm sync-integreat … --every` records a job,
a real rq worker runs it against the stand-in instance and hands the next run to rq's scheduler;
`--stop` ends the schedule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from rq import SimpleWorker

from connectors.integreat import read_json_file
from memory.similarity_models import Job, JobState
from tests.conftest import DEMO
from tests.integration.conftest import redis_backed_app
from tests.integreat_standin import standin_of
from tm_service import jobs
from tm_service.extensions import db
from tm_service.jobs import INTEGREAT_SYNC

pytestmark = pytest.mark.redis


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path, redis_server) -> Iterator[Flask]:
    with redis_backed_app(tmp_path, seeded_database, redis_server.url) as app:
        yield app


@pytest.fixture
def standin():
    german = read_json_file(DEMO / "lkaugsburg_de_pages.json.gz")[:10]
    started = standin_of("lkaugsburg", {"de": german})
    yield started
    started.stop()


def sync_jobs(app: Flask) -> list[Job]:
    with app.app_context():
        rows = db.session.scalars(
            db.select(Job).where(Job.kind == INTEGREAT_SYNC).order_by(Job.created_at)
        ).all()
        for row in rows:
            db.session.expunge(row)
        return list(rows)


def test_a_scheduled_sync_runs_on_a_worker_and_schedules_its_next_run(app, standin):
    runner = app.test_cli_runner()

    started = runner.invoke(
        args=["tm", "sync-integreat", standin.url, "--region", "lkaugsburg", "--every", "3600"]
    )

    assert started.exit_code == 0, started.output
    (first,) = sync_jobs(app)
    assert first.state == JobState.QUEUED
    with app.app_context():
        queue = jobs.rq_queue(app)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)
    first_run, next_run = sync_jobs(app)
    assert first_run.id == first.id
    assert first_run.state == JobState.FINISHED, first_run.error
    assert first_run.result["created"] == 10
    assert first_run.result["languages"]["de"]["status"] == "changed"
    assert next_run.state == JobState.QUEUED
    assert next_run.params["every_s"] == 3600
    with app.app_context():
        assert next_run.id in jobs.rq_queue(app).scheduled_job_registry.get_job_ids()

    stopped = runner.invoke(
        args=["tm", "sync-integreat", standin.url, "--region", "lkaugsburg", "--stop"]
    )

    assert stopped.exit_code == 0, stopped.output
    assert "stopped 1 scheduled sync(s)" in stopped.output
    with app.app_context():
        assert next_run.id not in jobs.rq_queue(app).scheduled_job_registry.get_job_ids()
    assert sync_jobs(app)[-1].state == JobState.FAILED
