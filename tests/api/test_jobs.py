"""Background jobs: Job rows, progress endpoint, idempotent enqueue, retries (synchronous)."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from memory.similarity_models import Job, JobState
from tests.conftest import bearer
from tm_service import create_app, jobs
from tm_service.extensions import db

PAGE = "<p>Die Ausländerbehörde berät zu Aufenthaltstiteln und Visa. Termine nur online.</p>"


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    path = tmp_path / "tm.sqlite3"
    shutil.copyfile(seeded_database, path)
    app = create_app(
        {
            "TESTING": True,
            "DATABASE_URL": f"sqlite:///{path}",
            "EMBEDDING_MODEL": "fake",
            "JOB_RETRY_INTERVALS": [0, 0, 0],
        }
    )
    yield app
    with app.app_context():
        db.engine.dispose()


def push(client, token, page="amt", title="Ausländerbehörde", content=PAGE):
    response = client.put(
        f"/api/v1/regions/alpha/pages/{page}/translations/de",
        json={"title": title, "content": content},
        headers=bearer(token),
    )
    assert response.status_code in (200, 201)
    return response


def test_a_push_runs_a_job_whose_progress_and_result_are_public(client, make_token):
    push(client, make_token())

    listed = client.get("/api/v1/jobs").get_json()["items"]
    assert len(listed) == 1
    assert set(listed[0]) == {
        "id",
        "kind",
        "state",
        "progress",
        "message",
        "created_at",
        "finished_at",
    }
    job = client.get(f"/api/v1/jobs/{listed[0]['id']}").get_json()
    assert job["state"] == "finished"
    assert job["kind"] == "content_changed"
    assert job["progress"] == {"done": 1, "total": 1}
    assert job["result"]["embedding"] == {
        "translations": 1,
        "skipped": 0,
        "cached": 0,
        "encoded": 1,
    }
    assert job["error"] is None
    assert job["attempts"] == 1
    assert isinstance(job["result"]["tm_units"], dict)  # the translation-memory step ran


def test_unknown_job_is_a_404_problem(client):
    response = client.get("/api/v1/jobs/does-not-exist")

    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_job_list_filters_by_state_and_validates_its_query(client, make_token):
    push(client, make_token())

    assert len(client.get("/api/v1/jobs?state=finished").get_json()["items"]) == 1
    assert client.get("/api/v1/jobs?state=failed").get_json()["items"] == []
    assert client.get("/api/v1/jobs?limit=0").status_code == 422
    assert client.get("/api/v1/jobs?state=sleeping").status_code == 422


def test_the_same_change_enqueued_twice_runs_once(app, client, make_token, monkeypatch):
    push(client, make_token())
    runs = []
    real = jobs.run_content_pipeline
    monkeypatch.setattr(
        jobs, "run_content_pipeline", lambda *a, **k: runs.append(a[1]) or real(*a, **k)
    )
    with app.app_context():
        (translation_id,) = db.session.scalars(db.select(Job)).one().params["translation_ids"]
        first = jobs.translations_changed([translation_id])
        second = jobs.translations_changed([translation_id, translation_id])
        rows = db.session.scalars(db.select(Job)).all()

    assert first == second == rows[0].id
    assert len(rows) == 1
    assert runs == []  # finished before: not run again


def test_a_different_content_is_a_new_job(client, make_token):
    token = make_token()
    push(client, token)
    push(client, token, content=PAGE + "<p>Neu: Sprechzeiten am Samstag.</p>")

    assert len(client.get("/api/v1/jobs").get_json()["items"]) == 2


def test_a_job_that_fails_once_is_retried_and_finishes(app, client, make_token, monkeypatch):
    failures = []
    real = jobs.similarity.embed_pages

    def flaky(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise RuntimeError("encoder crashed")
        return real(*args, **kwargs)

    monkeypatch.setattr(jobs.similarity, "embed_pages", flaky)
    push(client, make_token())

    (job,) = client.get("/api/v1/jobs").get_json()["items"]
    detail = client.get(f"/api/v1/jobs/{job['id']}").get_json()
    assert detail["state"] == "finished"
    assert detail["attempts"] == 2


def test_a_job_that_always_fails_ends_failed_and_can_be_queued_again(
    app, client, make_token, monkeypatch
):
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /etc/tm.conf")

    monkeypatch.setattr(jobs.similarity, "embed_pages", broken)
    push(client, make_token())
    (job,) = client.get("/api/v1/jobs").get_json()["items"]
    detail = client.get(f"/api/v1/jobs/{job['id']}").get_json()

    assert detail["state"] == "failed"
    assert detail["attempts"] == 4  # first try plus three retries
    assert detail["error"] == "RuntimeError"  # the type only, not the message

    monkeypatch.undo()
    with app.app_context():
        row = db.session.get(Job, job["id"])
        again = jobs.translations_changed(row.params["translation_ids"])
        assert again == job["id"]
        assert db.session.get(Job, job["id"]).state == JobState.FINISHED


def test_the_translation_memory_step_is_skipped_when_missing(
    app, client, make_token, caplog, monkeypatch
):
    monkeypatch.setitem(sys.modules, "memory.services.translation_memory", None)
    with caplog.at_level("INFO", logger="tm_service.jobs"):
        push(client, make_token())

    (job,) = client.get("/api/v1/jobs").get_json()["items"]
    assert client.get(f"/api/v1/jobs/{job['id']}").get_json()["result"]["tm_units"] == "skipped"
    assert "translation-memory refresh skipped" in caplog.text
