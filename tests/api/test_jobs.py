"""Background jobs: Job rows, progress endpoint, idempotent enqueue, retries (synchronous)."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event

from connectors.integreat import read_dumps
from memory.models import Page, PageTranslation, utcnow
from memory.services.imports import import_integreat_pages
from memory.similarity_models import Job, JobState
from tests.conftest import DEMO, bearer, copy_of_seeded_app
from tm_service import jobs
from tm_service.extensions import db

PAGE = "<p>Die Ausländerbehörde berät zu Aufenthaltstiteln und Visa. Termine nur online.</p>"


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    with copy_of_seeded_app(tmp_path, seeded_database, JOB_RETRY_INTERVALS=[0, 0, 0]) as app:
        yield app


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
    assert job["progress"] == {"done": 1, "total": 1, "eta_seconds": None}
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


def translation_id(app: Flask, page: str) -> int:
    with app.app_context():
        return db.session.scalars(
            db.select(PageTranslation.id).join(Page).where(Page.external_id == page)
        ).one()


def test_progress_total_stays_fixed_and_done_only_grows_while_a_job_runs(app, client, make_token):
    token = make_token()
    push(client, token)
    response = client.put(
        "/api/v1/regions/alpha/pages/entwurf/translations/de",
        json={"title": "Entwurf", "content": "<p>Noch nicht fertig.</p>", "status": "draft"},
        headers=bearer(token),
    )
    assert response.status_code == 201
    seen: list[tuple[int, int]] = []

    def record(mapper, connection, row: Job) -> None:
        seen.append((row.progress_done, row.progress_total))

    # A job over a public version and a draft: embedding skips the draft (it counts 1 of 1).
    ids = [translation_id(app, "amt"), translation_id(app, "entwurf")]
    event.listen(Job, "before_update", record)
    try:
        with app.app_context():
            job_id = jobs.translations_changed(ids)
    finally:
        event.remove(Job, "before_update", record)

    assert seen and {total for _, total in seen} == {2}
    done = [d for d, _ in seen]
    assert done == sorted(done) and done[-1] == 2
    assert client.get(f"/api/v1/jobs/{job_id}").get_json()["progress"] == {
        "done": 2,
        "total": 2,
        "eta_seconds": None,
    }


def test_a_running_job_reports_the_seconds_it_still_needs_at_its_rate_so_far(
    app, client, make_token
):
    push(client, make_token())
    with app.app_context():
        job = db.session.scalars(db.select(Job)).one()
        # As a running attempt leaves it: a minute in, 100 of 400 page translations done.
        job.state = JobState.RUNNING
        job.started_at = utcnow() - timedelta(seconds=60)
        job.progress_done, job.progress_total = 100, 400
        job.message = "embedding pages"
        db.session.commit()
        job_id = job.id

    progress = client.get(f"/api/v1/jobs/{job_id}").get_json()["progress"]
    listed = client.get("/api/v1/jobs").get_json()["items"][0]["progress"]

    assert progress["done"] == 100 and progress["total"] == 400
    assert 178 <= progress["eta_seconds"] <= 185  # 60 s × 300 / 100, a few seconds later
    assert listed["eta_seconds"] == pytest.approx(progress["eta_seconds"], abs=2)


def test_a_job_logs_its_progress_with_an_eta_every_ten_percent_not_every_batch(app, caplog):
    with app.app_context():
        report = import_integreat_pages(db.session, None, "lkaugsburg", list(read_dumps(DEMO)))
        with caplog.at_level("INFO", logger="tm_service.jobs"):
            jobs.translations_changed(report.changed_translation_ids)
    total = len(report.changed_translation_ids)

    lines = [r.getMessage() for r in caplog.records if "embedding pages" in r.getMessage()]
    counts = [tuple(map(int, re.search(r"(\d+)/(\d+)", line).groups())) for line in lines]
    assert 3 <= len(lines) <= 12  # 15 batches of 32, one line per 10 %
    assert {t for _, t in counts} == {total}
    assert [d for d, _ in counts] == sorted(d for d, _ in counts)
    assert lines[-1].endswith(f"{total}/{total} (100 %)")
    midway = [line for line, (d, t) in zip(lines, counts, strict=True) if 0 < d < t]
    assert midway and all(re.search(r", about \d+ (s|min) left$", line) for line in midway)
    assert f"finished: {total} page translations" in caplog.text
