"""`POST /tm/lookup` with a snapshot-backed fuzzy index: warming up, then ready; the CLI."""

from __future__ import annotations

import io
import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from memory.services.tmx_io import import_tmx
from memory.similarity_models import Job, JobState
from tests.conftest import copy_of_seeded_app
from tm_service import jobs
from tm_service.extensions import db

TMX = b"""<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="de" creationtool="t" segtype="sentence" o-tmf="t"
 adminlang="en" datatype="plaintext" creationtoolversion="1"/>
<body>
<tu><tuv xml:lang="de"><seg>Die Sprechstunde ist am Montag.</seg></tuv>
<tuv xml:lang="en"><seg>Consultation hours are on Monday.</seg></tuv></tu>
</body></tmx>"""
EXACT = "Die Sprechstunde ist am Montag."
FUZZY = "Die Sprechstunde ist am Dienstag."


@pytest.fixture
def snapshot_app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    """An app whose fuzzy index lives in snapshots under tmp_path/index, with one TMX unit."""
    with copy_of_seeded_app(tmp_path, seeded_database, INDEX_DIR=str(tmp_path / "index")) as app:
        with app.app_context():
            import_tmx(
                db.session,
                None,
                io.BytesIO(TMX),
                batch_name="one",
                license="CC BY 4.0",
                attribution="Stadt Augsburg",
            )
        yield app


def lookup(client, text: str) -> dict:
    response = client.post(
        "/api/v1/tm/lookup",
        json={"text": text, "source_language": "de", "target_language": "en"},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_lookup_says_fuzzy_matching_is_ready(client):
    assert lookup(client, "Guten Tag.")["fuzzy"] == "ready"


def test_without_a_snapshot_a_lookup_answers_exact_matches_and_says_warming_up(
    snapshot_app, monkeypatch
):
    dispatched = []
    monkeypatch.setattr(jobs, "_dispatch", lambda app, job_id: dispatched.append(job_id))
    client = snapshot_app.test_client()

    exact = lookup(client, EXACT)
    assert exact["fuzzy"] == "warming_up"
    assert [m["kind"] for m in exact["matches"]] == ["exact"]
    fuzzy = lookup(client, FUZZY)
    assert fuzzy == {**fuzzy, "fuzzy": "warming_up", "matches": []}
    # One snapshot job was recorded for the workers, not one per lookup.
    assert len(dispatched) == 1
    with snapshot_app.app_context():
        job = db.session.get(Job, dispatched[0])
        assert (job.kind, job.state) == (jobs.INDEX_SNAPSHOT, JobState.QUEUED)
        jobs.execute_job(snapshot_app, job.id)  # what an rq worker does
        assert db.session.get(Job, job.id).state == JobState.FINISHED

    ready = lookup(client, FUZZY)
    assert ready["fuzzy"] == "ready"
    assert [m["text"] for m in ready["matches"]] == ["Consultation hours are on Monday."]


def test_a_lookup_answers_while_the_snapshot_job_cannot_be_recorded(
    snapshot_app, tmp_path, monkeypatch
):
    # The embedded mode's job thread can hold SQLite's write lock for minutes (embedding the
    # demo pages on a first start). Asking for the snapshot job then fails: the lookup must
    # still answer, soon, and ask again later.
    dispatched = []
    monkeypatch.setattr(jobs, "_dispatch", lambda app, job_id: dispatched.append(job_id))
    writer = sqlite3.connect(tmp_path / "tm.sqlite3", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    client = snapshot_app.test_client()
    try:
        started = time.monotonic()
        exact = lookup(client, EXACT)
        waited = time.monotonic() - started
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert exact["fuzzy"] == "warming_up"
    assert [m["kind"] for m in exact["matches"]] == ["exact"]
    assert waited < 10  # not the 30 s every other SQLite writer waits
    assert dispatched == []
    with snapshot_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == 0
        index = jobs.get_tm_index(snapshot_app)
        index._snapshot_requests.interval_s = 0.0  # the next check asks again at once
        index.mark_stale()
    assert lookup(client, FUZZY)["fuzzy"] == "warming_up"
    assert len(dispatched) == 1


def test_in_tests_the_snapshot_job_runs_before_the_first_lookup_answers(snapshot_app, tmp_path):
    client = snapshot_app.test_client()
    answer = lookup(client, FUZZY)
    assert answer["fuzzy"] == "ready"
    assert answer["matches"]
    assert (tmp_path / "index" / "CURRENT").exists()
    kinds = [item["kind"] for item in client.get("/api/v1/jobs").get_json()["items"]]
    assert kinds == [jobs.INDEX_SNAPSHOT]


def test_rebuild_index_command_writes_a_snapshot_every_process_maps(snapshot_app, tmp_path):
    result = snapshot_app.test_cli_runner().invoke(args=["tm", "rebuild-index"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["units"] == 1 and report["fuzzy"] == "ready"
    assert report["snapshot"]["units"] == 1
    assert report["index_dir"] == str(tmp_path / "index")
    name = (tmp_path / "index" / "CURRENT").read_text().strip()
    assert report["snapshot_name"] == name
    assert (tmp_path / "index" / name / "manifest.json").exists()


def test_rebuild_units_leaves_a_snapshot_of_the_forms_it_wrote(snapshot_app, tmp_path):
    from memory.services.translation_memory import current_revision

    snapshot_app.test_cli_runner().invoke(args=["tm", "rebuild-index"])
    with snapshot_app.app_context():
        from sqlalchemy import update

        from memory.tm_models import TranslationUnit

        # As an older version stored it: another form than today's code computes.
        db.session.execute(update(TranslationUnit).values(source_form="alt", source_hash="0" * 64))
        db.session.commit()
    result = snapshot_app.test_cli_runner().invoke(args=["tm", "rebuild-units"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output.strip().splitlines()[-1])
    assert report["imported_units_rekeyed"] == 1
    with snapshot_app.app_context():
        assert report["index_snapshot_revision"] == current_revision(db.session)[0]
    assert lookup(snapshot_app.test_client(), FUZZY)["matches"]
