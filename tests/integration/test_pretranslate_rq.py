"""Pre-translation the way production runs it: `flask tm pretranslate` enqueues, a real
`flask tm worker --burst` on a real Redis runs it, and its queue shows in the review UI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from rq import SimpleWorker
from sqlalchemy import func, select

from memory.models import Language, PageTranslation, Role, TranslationStatus
from memory.review_models import Suggestion, SuggestionStatus
from memory.services import tokens as token_service
from memory.similarity_models import Job, JobState
from tests.api.test_pretranslate import PAGES, county_slice
from tests.api.test_review_ui_client import csrf_of
from tests.integration.conftest import redis_backed_app
from tm_service import jobs
from tm_service.extensions import db

pytestmark = pytest.mark.redis

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path, redis_server) -> Iterator[Flask]:
    with redis_backed_app(
        tmp_path,
        seeded_database,
        redis_server.url,
        SECRET_KEY="rq-test-secret-key-0123456789abcdef",
    ) as app:
        yield app


def flask_tm(app: Flask, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TM_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "TM_REDIS_URL": app.config["REDIS_URL"],
        "TM_RQ_QUEUE": app.config["RQ_QUEUE"],
        "TM_EMBEDDING_MODEL": "fake",
        "TM_INDEX_DIR": "memory",
    }
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "tm", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_flask_tm_pretranslate_runs_on_a_real_worker_leaves_drafts_and_fills_the_queue(
    app, tmp_path
):
    # The county's pages (a slice of Landkreis Augsburg, de and en), their units built by a
    # worker as after any import.
    imported = app.test_cli_runner().invoke(
        args=[
            "tm",
            "import-integreat",
            str(county_slice(tmp_path / "dump")),
            "--region",
            "lkaugsburg",
        ]
    )
    assert imported.exit_code == 0, imported.output
    with app.app_context():
        queue = jobs.rq_queue(app)
        SimpleWorker([queue], connection=queue.connection).work(burst=True)

    enqueued = flask_tm(app, "pretranslate", "lkaugsburg", "--language", "fa")

    assert enqueued.returncode == 0, enqueued.stderr
    job_id = json.loads(enqueued.stdout.strip().splitlines()[-1])["job"]
    assert "queued for the rq workers" in enqueued.stderr
    with app.app_context():
        row = db.session.get(Job, job_id)
        assert (row.kind, row.state, row.progress_total) == ("pretranslate", JobState.QUEUED, PAGES)
        assert job_id in jobs.rq_queue(app).job_ids

    worked = flask_tm(app, "worker", "--burst")

    assert worked.returncode == 0, worked.stderr
    with app.app_context():
        row = db.session.get(Job, job_id)
        assert row.state == JobState.FINISHED, row.error
        assert (row.progress_done, row.progress_total) == (PAGES, PAGES)
        assert jobs.rq_queue(app).fetch_job(job_id).meta["progress"]["done"] == PAGES
        farsi = select(Language.id).where(Language.code == "fa").scalar_subquery()
        statuses = db.session.scalars(
            select(PageTranslation.status).where(PageTranslation.language_id == farsi)
        ).all()
        assert statuses == [TranslationStatus.DRAFT] * PAGES  # only drafts
        queued = db.session.scalar(
            select(func.count(Suggestion.id)).where(
                Suggestion.target_language_id == farsi,
                Suggestion.status == SuggestionStatus.PENDING,
            )
        )
        assert queued == row.result["segments"] > PAGES
        token = token_service.create_token(
            db.session, None, role=Role.TRANSLATOR, region_slug="lkaugsburg"
        ).plaintext

    # Farsi is no language of the county's tree, yet its queue is in the review UI.
    client = app.test_client()
    form = client.get("/ui/").get_data(as_text=True)
    assert (
        client.post("/ui/", data={"token": token, "csrf_token": csrf_of(form)}).status_code == 302
    )
    picker = client.get("/ui/review").get_data(as_text=True)
    assert "language=fa" in picker and f'<span class="count">{queued}</span>' in picker
    listed = client.get("/ui/review?language=fa").get_data(as_text=True)
    assert listed.count('class="segment"') == min(queued, 50)
    assert f"0 of {queued} done" in listed
