"""`/similar` from a mapped near-duplicate snapshot plus the pages written since: the same
answers as an index built from the database; the CLI and the job that build it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from memory.services import similarity
from memory.similarity_models import Job, JobState
from memory.similarity_snapshot import current_name
from tests.api.test_similar import (
    COURSES_DE,
    DOCTOR_DE,
    REGISTRATION_AR,
    REGISTRATION_DE,
    REGISTRATION_EN,
    push,
    similar,
)
from tests.conftest import copy_of_seeded_app
from tm_service import jobs
from tm_service.extensions import db

QUERIES = [
    ("beta", "wohnsitz", {}),
    ("alpha", "anmeldung", {"min_score": 0.0, "limit": 100, "min_relation": "unrelated"}),
    ("alpha", "kurse", {"min_score": 0.0, "min_relation": "unrelated"}),
    ("beta", "arzt", {"min_score": 0.0, "min_relation": "unrelated"}),
    ("beta", "wohnsitz", {"language": "de", "cross_lingual": "false", "min_score": 0.0}),
]


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    """Snapshots under tmp_path/index; every query checks for changes."""
    with copy_of_seeded_app(
        tmp_path, seeded_database, INDEX_DIR=str(tmp_path / "index"), SIMILARITY_REFRESH_INTERVAL=0
    ) as app:
        yield app


@pytest.fixture
def content(client: FlaskClient, make_token) -> dict[str, str]:
    """The pages of tests/api/test_similar.py: alpha: registration (de, en, ar), courses
    (de); beta: registration (de, edited), doctor (de)."""
    alpha, beta = make_token("cms", "alpha"), make_token("cms", "beta")
    push(client, alpha, "alpha", "anmeldung", "de", title="Anmeldung", content=REGISTRATION_DE)
    push(client, alpha, "alpha", "anmeldung", "en", title="Registration", content=REGISTRATION_EN)
    push(client, alpha, "alpha", "anmeldung", "ar", title="التسجيل", content=REGISTRATION_AR)
    push(client, alpha, "alpha", "kurse", "de", title="Deutschkurse", content=COURSES_DE)
    edited = REGISTRATION_DE.replace("zwei Wochen", "14 Tagen").replace("online", "im Internet")
    push(client, beta, "beta", "wohnsitz", "de", title="Wohnsitz anmelden", content=edited)
    push(client, beta, "beta", "arzt", "de", title="Arzt", content=DOCTOR_DE)
    return {"alpha": alpha, "beta": beta}


def _answers(client: FlaskClient) -> list:
    found = []
    for region, page, query in QUERIES:
        response = similar(client, region, page, **query)
        assert response.status_code == 200, response.get_json()
        found.append(response.get_json())
    return found


def _new_process(app: Flask) -> None:
    """Forget this app's index holder: the next query starts as a fresh process would."""
    app.extensions.pop("tm_similarity", None)


def _built_here(app: Flask) -> None:
    """An index holder without snapshots: built from the database, as today."""
    app.extensions["tm_similarity"] = similarity.SimilarityIndexes(
        lambda: jobs.get_encoder(app).name, refresh_interval=0
    )


def test_snapshot_plus_delta_answers_like_an_index_built_from_the_database(
    app, client, content, runner, tmp_path
):
    result = runner.invoke(args=["tm", "similarity-snapshot"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert manifest["pages"] == 6 and manifest["with_vector"] == 6
    assert current_name(tmp_path / "index" / "similarity") is not None

    # Written after the snapshot: a new page, and a new version of one (a new translation id).
    push(client, content["beta"], "beta", "kurse", "de", title="Sprachkurse", content=COURSES_DE)
    push(client, content["alpha"], "alpha", "kurse", "de", title="Hausarzt", content=DOCTOR_DE)

    _new_process(app)
    from_snapshot = _answers(client)
    holder = app.extensions["tm_similarity"]
    assert holder.snapshot is not None and holder.snapshot.pages == 6
    assert holder.delta_pages == 2  # only the pages written since were read and indexed
    assert holder.index._stores["de"].base_rows == 4  # the snapshot's rows stay mapped
    _built_here(app)
    built = _answers(client)

    assert from_snapshot == built
    # The changed page is its new version (about the doctor now), not the snapshot's row.
    arzt = from_snapshot[3]["items"]
    assert arzt[0]["external_id"] == "kurse" and arzt[0]["region"] == "alpha"
    assert arzt[0]["title"] == "Hausarzt"


def test_with_index_dir_memory_there_are_no_snapshots(tmp_path: Path, seeded_database: Path):
    with copy_of_seeded_app(tmp_path, seeded_database, INDEX_DIR="memory") as memory_app:
        result = memory_app.test_cli_runner().invoke(args=["tm", "similarity-snapshot"])
        assert result.exit_code != 0 and "memory" in result.output
        with memory_app.app_context():
            assert jobs.similarity_snapshot_dir(memory_app) is None
            assert jobs.get_similarity_indexes(memory_app).snapshot_dir is None
            assert jobs.request_similarity_snapshot(memory_app) is None


def test_a_snapshot_job_is_recorded_and_a_running_process_maps_its_snapshot(
    app, client, content, monkeypatch
):
    before = _answers(client)
    holder = app.extensions["tm_similarity"]
    assert holder.snapshot is None  # no snapshot yet: built here, as today
    dispatched: list[str] = []
    monkeypatch.setattr(jobs, "_dispatch", lambda app, job_id: dispatched.append(job_id))
    with app.test_request_context():
        job_id = jobs.request_similarity_snapshot(app)
        assert jobs.request_similarity_snapshot(app) == job_id  # one at a time
    assert dispatched == [job_id]
    with app.app_context():
        job = db.session.get(Job, job_id)
        assert (job.kind, job.state) == (jobs.SIMILARITY_SNAPSHOT, JobState.QUEUED)
        jobs.execute_job(app, job_id)  # what an rq worker does
        job = db.session.get(Job, job_id)
        assert job.state == JobState.FINISHED and job.result["pages"] == 6

    after = _answers(client)
    assert app.extensions["tm_similarity"] is holder
    assert holder.snapshot is not None and holder.delta_pages == 0
    assert after == before


def test_a_snapshot_of_another_model_is_not_mapped(app, client, content, runner, tmp_path):
    assert runner.invoke(args=["tm", "similarity-snapshot"]).exit_code == 0
    root = tmp_path / "index" / "similarity"
    manifest = root / current_name(root) / "manifest.json"
    data = json.loads(manifest.read_text())
    manifest.write_text(json.dumps({**data, "model": "another-model"}))

    _new_process(app)
    from_here = _answers(client)

    holder = app.extensions["tm_similarity"]
    assert holder.snapshot is None and len(holder.pages) == 6  # built here, as without one
    _built_here(app)
    assert from_here == _answers(client)


def _snapshot_jobs(app: Flask) -> list[tuple[str, JobState]]:
    """(id, state) of the similarity-snapshot jobs recorded, oldest first."""
    with app.app_context():
        found = db.session.scalars(
            select(Job).where(Job.kind == jobs.SIMILARITY_SNAPSHOT).order_by(Job.created_at)
        )
        return [(job.id, job.state) for job in found]


def test_a_big_index_built_here_asks_for_a_snapshot_job_once(app, client, content, monkeypatch):
    # The content's 6 pages stand for an index past SNAPSHOT_MIN_PAGES.
    monkeypatch.setattr(similarity, "SNAPSHOT_MIN_PAGES", 6)
    # Recorded, not run: the test runs it the way an rq worker would.
    monkeypatch.setattr(jobs, "_dispatch", lambda app, job_id: None)
    _new_process(app)
    _answers(client)
    _answers(client)  # asked once, not at every refresh
    [(job_id, state)] = _snapshot_jobs(app)
    assert state == JobState.QUEUED
    with app.app_context():
        jobs.execute_job(app, job_id)

    # With the snapshot mapped, pages written since ask again only past their share of it.
    _new_process(app)
    _answers(client)
    holder = app.extensions["tm_similarity"]
    assert holder.snapshot is not None and holder.snapshot.pages == 6
    monkeypatch.setattr(similarity, "SNAPSHOT_MIN_PAGES", 1)
    push(client, content["beta"], "beta", "kurse", "de", title="Sprachkurse", content=COURSES_DE)
    _answers(client)
    assert holder.delta_pages == 1 and len(_snapshot_jobs(app)) == 1  # 1 of 6: under a fifth
    push(client, content["beta"], "beta", "arzt2", "de", title="Hausarzt", content=DOCTOR_DE)
    _answers(client)
    assert holder.delta_pages == 2  # 2 of 6 pages: past a fifth
    assert [state for _, state in _snapshot_jobs(app)] == [JobState.FINISHED, JobState.QUEUED]
