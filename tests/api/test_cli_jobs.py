"""Jobs of CLI commands: run before the command returns, fail it loudly, readable progress."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from memory.similarity_models import EmbeddingCache, Job, JobState
from tests.conftest import CORPUS, DEMO, copy_of_seeded_app
from tm_service import jobs
from tm_service.extensions import db


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    with copy_of_seeded_app(tmp_path, seeded_database, JOB_RETRY_INTERVALS=[0, 0, 0]) as app:
        yield app


def two_page_dump(folder: Path) -> Path:
    """The first two Landkreis Augsburg pages that have an English translation, both languages."""
    german = json.loads((CORPUS / "lkaugsburg" / "de_pages.json").read_text(encoding="utf-8"))
    english = json.loads((CORPUS / "lkaugsburg" / "en_pages.json").read_text(encoding="utf-8"))
    by_id = {page["id"]: page for page in english}
    picked = [p for p in german if p["available_languages"].get("en", {}).get("id") in by_id][:2]
    folder.mkdir(exist_ok=True)
    (folder / "de_pages.json").write_text(json.dumps(picked, ensure_ascii=False), "utf-8")
    translations = [by_id[p["available_languages"]["en"]["id"]] for p in picked]
    (folder / "en_pages.json").write_text(json.dumps(translations, ensure_ascii=False), "utf-8")
    return folder


def only_job(app: Flask) -> Job:
    with app.app_context():
        (job,) = db.session.scalars(select(Job)).all()
        db.session.expunge(job)
        return job


def test_an_import_runs_its_job_before_the_command_returns(app, tmp_path):
    result = app.test_cli_runner().invoke(
        args=["tm", "import-integreat", str(two_page_dump(tmp_path / "dump")), "--region", "copy"]
    )

    assert result.exit_code == 0, result.output
    job = only_job(app)
    assert (job.state, job.progress_done, job.progress_total) == (JobState.FINISHED, 4, 4)
    with app.app_context():
        pages = select(func.count(EmbeddingCache.id)).where(EmbeddingCache.kind == "page")
        assert db.session.scalar(pages) == 4


def test_a_failed_job_fails_the_command_with_the_exception_message(app, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("can't register atexit after shutdown")

    monkeypatch.setattr(jobs.similarity, "embed_pages", broken)

    result = app.test_cli_runner().invoke(
        args=["tm", "import-integreat", str(two_page_dump(tmp_path / "dump")), "--region", "copy"]
    )

    assert result.exit_code == 1
    assert "failed after 4 attempt(s): RuntimeError: can't register atexit after shutdown" in (
        result.output
    )
    job = only_job(app)
    assert job.state == JobState.FAILED
    assert job.error == "RuntimeError: can't register atexit after shutdown"


def test_progress_without_a_terminal_is_a_line_per_ten_percent_not_per_translation(app):
    result = app.test_cli_runner().invoke(
        args=["tm", "import-integreat", str(DEMO), "--region", "lkaugsburg"]
    )

    assert result.exit_code == 0, result.output
    lines = [line for line in re.split(r"[\r\n]+", result.stderr) if line.strip()]
    importing = [line for line in lines if line.startswith("importing lkaugsburg")]
    embedding = [line for line in lines if "embedding pages" in line]
    assert 3 <= len(importing) <= 12, importing  # 471 translations
    assert 3 <= len(embedding) <= 12, embedding
    assert len(lines) <= 30, lines
    assert importing[-1] == "importing lkaugsburg 471/471 (100 %)"
    assert embedding[-1] == "processing lkaugsburg: embedding pages 471/471 (100 %)"
    assert "\x1b" not in result.stderr and "█" not in result.stderr  # no bar drawing
