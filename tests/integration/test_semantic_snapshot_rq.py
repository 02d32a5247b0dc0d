"""The semantic segment snapshot the way production builds it: `flask tm semantic-snapshot
--enqueue` records a job, a real rq worker on a real Redis writes and publishes it, and a new
process maps it and finds the same sentences as an index held in the process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from memory.models import Language
from memory.services.semantic import SemanticMemory
from memory.similarity_models import Job, JobState
from tests.api.test_similar import push
from tests.integration.conftest import redis_backed_app, work_off_queue
from tm_service import create_app, jobs
from tm_service.extensions import db

pytestmark = pytest.mark.redis

GERMAN = (
    "<p>Wer nach Deutschland zieht, muss sich innerhalb von zwei Wochen beim Bürgerbüro "
    "anmelden.</p><p>Bringen Sie Ihren Pass, den Mietvertrag und die "
    "Wohnungsgeberbestätigung mit.</p><p>Termine vereinbaren Sie online oder telefonisch.</p>"
)
ENGLISH = (
    "<p>Anyone moving to Germany must register at the citizens' office within two weeks.</p>"
    "<p>Bring your passport, the rental contract and the landlord's confirmation.</p>"
    "<p>Make an appointment online or by phone.</p>"
)
QUERIES = [
    "Wer nach Deutschland umzieht, muss sich binnen zwei Wochen im Bürgerbüro anmelden.",
    "Bringen Sie bitte Ihren Pass und den Mietvertrag mit.",
    "Einen Termin bekommen Sie online oder am Telefon.",
]


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path, redis_server) -> Iterator[Flask]:
    with redis_backed_app(
        tmp_path,
        seeded_database,
        redis_server.url,
        INDEX_DIR=str(tmp_path / "index"),
        INDEX_REFRESH_SECONDS=0,
    ) as app:
        yield app


def found(app: Flask, memory: SemanticMemory) -> list:
    with app.app_context():
        de, en = (
            db.session.scalar(select(Language.id).where(Language.code == code))
            for code in ("de", "en")
        )
        hits = memory.neighbours(db.session, de, en, QUERIES, limit=3)
        db.session.remove()
    return [[(h.unit_id, h.source_text, round(h.neighbour.cosine, 5)) for h in row] for row in hits]


def test_a_worker_writes_the_snapshot_and_a_new_process_maps_it(app, make_token):
    client = app.test_client()
    alpha = make_token("cms", "alpha")
    push(client, alpha, "alpha", "anmeldung", "de", title="Anmeldung", content=GERMAN)
    push(client, alpha, "alpha", "anmeldung", "en", title="Registration", content=ENGLISH)
    work_off_queue(app)  # the content jobs: units, page and sentence vectors
    with app.app_context():
        encoder = jobs.get_encoder(app)
        from memory.services.semantic import embed_segment_texts

        embed_segment_texts(db.session, encoder, QUERIES)  # as a page's job would

    enqueued = app.test_cli_runner().invoke(args=["tm", "semantic-snapshot", "--enqueue"])
    assert enqueued.exit_code == 0, enqueued.output
    work_off_queue(app)
    with app.app_context():
        job = db.session.scalars(db.select(Job).where(Job.kind == jobs.SEMANTIC_SNAPSHOT)).one()
        assert job.state == JobState.FINISHED, job.error
        assert job.result["texts"] >= 3 and job.result["waiting"] == 0

    # A second process: an app of its own on the same database and index folder.
    names = ("TESTING", "REDIS_URL", "RQ_QUEUE", "EMBEDDING_MODEL", "INDEX_DIR")
    second = create_app(
        {
            **{name: app.config[name] for name in names},
            "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
            "INDEX_REFRESH_SECONDS": 0,
        }
    )
    mapped = jobs.get_semantic_memory(second)
    answers = found(second, mapped)
    assert mapped.snapshot is not None and mapped.snapshot.texts == job.result["texts"]
    assert mapped.stats()["mapped"] == job.result["texts"]
    assert all(answers), answers
    assert answers == found(app, SemanticMemory(lambda: encoder.name, refresh_seconds=0))
    with second.app_context():
        db.engine.dispose()
