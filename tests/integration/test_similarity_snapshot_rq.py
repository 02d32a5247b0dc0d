"""The near-duplicate snapshot the way production builds it: `flask tm similarity-snapshot
--enqueue` records a job, a real rq worker on a real Redis builds and publishes it, and a new
process maps it and answers `/similar` like an index built from the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from memory.services import similarity
from memory.similarity_models import Job, JobState
from tests.api.test_similar import COURSES_DE, DOCTOR_DE, REGISTRATION_DE, push, similar
from tests.integration.conftest import redis_backed_app, work_off_queue
from tm_service import create_app, jobs
from tm_service.extensions import db

pytestmark = pytest.mark.redis


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path, redis_server) -> Iterator[Flask]:
    with redis_backed_app(
        tmp_path,
        seeded_database,
        redis_server.url,
        INDEX_DIR=str(tmp_path / "index"),
        SIMILARITY_REFRESH_INTERVAL=0,
    ) as app:
        yield app


def test_a_worker_builds_the_snapshot_and_a_new_process_maps_it(app, make_token, tmp_path):
    client = app.test_client()
    alpha, beta = make_token("cms", "alpha"), make_token("cms", "beta")
    push(client, alpha, "alpha", "anmeldung", "de", title="Anmeldung", content=REGISTRATION_DE)
    push(client, alpha, "alpha", "kurse", "de", title="Deutschkurse", content=COURSES_DE)
    edited = REGISTRATION_DE.replace("zwei Wochen", "14 Tagen")
    push(client, beta, "beta", "wohnsitz", "de", title="Wohnsitz anmelden", content=edited)
    work_off_queue(app)  # the content jobs: units, page vectors

    enqueued = app.test_cli_runner().invoke(args=["tm", "similarity-snapshot", "--enqueue"])
    assert enqueued.exit_code == 0, enqueued.output
    work_off_queue(app)
    with app.app_context():
        job = db.session.scalars(db.select(Job).where(Job.kind == jobs.SIMILARITY_SNAPSHOT)).one()
        assert job.state == JobState.FINISHED, job.error
        assert job.result["pages"] == 3 and job.result["with_vector"] == 3
    # Written after the snapshot, its job run: a page of beta on the doctor.
    push(client, beta, "beta", "arzt", "de", title="Arzt", content=DOCTOR_DE)
    work_off_queue(app)

    # A second process: an app of its own on the same database and index folder.
    second = create_app({**_config_of(app)})
    answers = _answers(second)
    holder = second.extensions["tm_similarity"]
    assert holder.snapshot is not None and holder.snapshot.pages == 3
    assert holder.delta_pages == 1  # only beta's doctor page was read and indexed
    # This process: an index built from the database, as without snapshots.
    app.extensions["tm_similarity"] = similarity.SimilarityIndexes(
        lambda: jobs.get_encoder(app).name, refresh_interval=0
    )
    assert answers == _answers(app)
    assert answers[0]["items"][0]["external_id"] == "anmeldung"
    with second.app_context():
        db.engine.dispose()


def _config_of(app: Flask) -> dict:
    names = ("TESTING", "REDIS_URL", "RQ_QUEUE", "EMBEDDING_MODEL", "INDEX_DIR")
    return {
        **{name: app.config[name] for name in names},
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "SIMILARITY_REFRESH_INTERVAL": 0,
    }


def _answers(app: Flask) -> list:
    client = app.test_client()
    return [
        similar(client, "beta", "wohnsitz", min_score=0.0, min_relation="unrelated").get_json(),
        similar(client, "alpha", "kurse", min_score=0.0, min_relation="unrelated").get_json(),
        similar(client, "beta", "arzt", min_score=0.0, min_relation="unrelated").get_json(),
    ]
