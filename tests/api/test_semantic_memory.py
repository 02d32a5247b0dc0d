"""The sentence-vector index of the memory (semantic candidates): it follows the units (new
ones found, deleted ones gone) and never holds a web request for its first load: past `wait_s`
the request is answered without semantic candidates while a background thread of the process
loads it; a job waits for it. The load reads every unit (5.6 s for 300 000)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from memory.authorization import Actor
from memory.models import Language, PageTranslation, Role
from memory.services import semantic
from memory.services.pages import push_translation
from memory.services.semantic import SemanticMemory, embed_segment_texts, unembedded_unit_sources
from memory.services.tmx_io import import_tmx
from memory.services.translation_memory import refresh_units
from tests.conftest import bearer
from tm_service.api import suggestions as suggestions_api
from tm_service.extensions import db
from tm_service.jobs import get_encoder, get_semantic_memory

TMX = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="de" datatype="plaintext" segtype="sentence" adminlang="en"
 creationtool="test" creationtoolversion="1" o-tmf="test"/><body>
<tu><tuv xml:lang="de"><seg>Die Sprechzeiten sind montags von 8 bis 12 Uhr.</seg></tuv>
 <tuv xml:lang="en"><seg>Office hours are Mondays from 8 to 12.</seg></tuv></tu>
<tu><tuv xml:lang="de"><seg>Bitte bringen Sie Ihren Pass zum Termin mit.</seg></tuv>
 <tuv xml:lang="en"><seg>Please bring your passport to the appointment.</seg></tuv></tu>
</body></tmx>
"""
QUERY = "Die Sprechzeiten sind dienstags von 9 bis 11 Uhr."


@pytest.fixture
def memory_with_vectors(app, tmp_path: Path, monkeypatch):
    """Two imported units and the query, each with a cached sentence vector; every
    `SemanticMemory` load takes `slow["seconds"]` longer, and waits for `slow["gate"]` (an
    event) where the test sets one. Returns the language ids and `slow`."""
    path = tmp_path / "units.tmx"
    path.write_text(TMX, encoding="utf-8")
    with app.app_context():
        import_tmx(db.session, None, str(path), batch_name="t", license="CC0", attribution="a")
        encoder = get_encoder(app)
        texts = [*unembedded_unit_sources(db.session, encoder.name), QUERY]
        embed_segment_texts(db.session, encoder, texts)
        de, en = (
            db.session.scalar(select(Language.id).where(Language.code == code))
            for code in ("de", "en")
        )
    slow: dict = {"seconds": 0.0, "gate": None}
    load = SemanticMemory._load_units

    def slow_load(self, session, since):
        time.sleep(slow["seconds"])
        if slow["gate"] is not None:
            assert slow["gate"].wait(30), "the test never opened the gate"
        load(self, session, since)

    monkeypatch.setattr(SemanticMemory, "_load_units", slow_load)
    return de, en, slow


def neighbours(app, memory, de, en, wait_s):
    with app.app_context():
        hits = memory.neighbours(db.session, de, en, [QUERY], wait_s=wait_s)
        db.session.remove()
    return hits[0]


def test_a_request_is_answered_without_semantic_candidates_while_the_index_loads(
    app, memory_with_vectors
):
    de, en, slow = memory_with_vectors
    memory = get_semantic_memory(app)
    slow["gate"] = gate = threading.Event()  # the load cannot finish before the test says so
    try:
        started = time.monotonic()
        assert neighbours(app, memory, de, en, wait_s=0.1) == []
        assert time.monotonic() - started < 5.0  # not held for the load (which waits up to 30 s)
        assert memory.warming_up
    finally:
        gate.set()
    loader = next(t for t in threading.enumerate() if t.name == "tm-semantic-refresh")
    loader.join(10)
    assert not memory.warming_up
    hits = neighbours(app, memory, de, en, wait_s=0.1)
    assert [hit.source_text for hit in hits][:1] == [
        "Die Sprechzeiten sind montags von 8 bis 12 Uhr."
    ]


def test_a_load_within_the_wait_answers_at_once_and_a_job_waits_for_it(app, memory_with_vectors):
    de, en, slow = memory_with_vectors
    memory = get_semantic_memory(app)
    slow["seconds"] = 0.3
    assert neighbours(app, memory, de, en, wait_s=semantic.REQUEST_WAIT_S)  # within the wait
    other = SemanticMemory(memory._model_name)
    assert neighbours(app, other, de, en, wait_s=None)  # a job: in its own thread, waits
    assert not any(t.name == "tm-semantic-refresh" and t.is_alive() for t in threading.enumerate())


def test_the_background_load_of_a_suggestions_request_completes(
    app, client, make_token, memory_with_vectors, monkeypatch, caplog
):
    _de, _en, slow = memory_with_vectors
    slow["gate"] = gate = threading.Event()  # the load finishes only after the response
    monkeypatch.setattr(suggestions_api, "REQUEST_WAIT_S", 0.1)
    try:
        response = client.post(
            "/api/v1/regions/alpha/suggestions",
            json={"text": QUERY, "source_language": "de", "target_language": "en"},
            headers=bearer(make_token("translator")),
        )
        assert response.status_code == 200, response.get_json()
        memory = get_semantic_memory(app)  # made by the request, as in a web worker
        assert memory.warming_up
    finally:
        gate.set()
    next(t for t in threading.enumerate() if t.name == "tm-semantic-refresh").join(10)
    # Outside the request and its app context, the load still finds the app's model.
    assert not memory.warming_up
    assert "semantic index refresh failed" not in caplog.text


def test_a_first_load_reading_the_cache_in_one_pass_finds_the_same(
    app, memory_with_vectors, monkeypatch
):
    de, en, _slow = memory_with_vectors
    asked = [hit.source_text for hit in neighbours(app, get_semantic_memory(app), de, en, None)]
    monkeypatch.setattr(semantic, "STREAM_CACHE_FROM", 1)
    streamed = SemanticMemory(get_semantic_memory(app)._model_name)
    assert [hit.source_text for hit in neighbours(app, streamed, de, en, None)] == asked
    assert asked


SECOND = "Zweiter Satz: bringen Sie bitte den Mietvertrag mit."


def test_units_written_and_deleted_later_are_followed(app):
    def publish(german: str, english: str) -> None:
        actor = Actor(role=Role.CMS, region_slug="alpha")
        with app.app_context():
            for language, content in (("de", german), ("en", english)):
                data = {"title": "Anmeldung", "content": content}
                push_translation(db.session, actor, "alpha", "1", language, data)
            refresh_units(db.session, db.session.scalars(select(PageTranslation.id)).all())
            encoder = get_encoder(app)
            embed_segment_texts(
                db.session,
                encoder,
                [*unembedded_unit_sources(db.session, encoder.name), QUERY, SECOND],
            )

    first = "<p>Die Sprechzeiten sind montags von 8 bis 12 Uhr.</p>"
    publish(first, "<p>Office hours are Mondays from 8 to 12.</p>")
    with app.app_context():
        de, en = (
            db.session.scalar(select(Language.id).where(Language.code == code))
            for code in ("de", "en")
        )
    memory = SemanticMemory(get_semantic_memory(app)._model_name, refresh_seconds=0)
    texts = [QUERY, SECOND]

    def found() -> list[set[str]]:
        with app.app_context():
            hits = memory.neighbours(db.session, de, en, texts, limit=5)
            db.session.remove()
        return [{hit.source_text for hit in segment} for segment in hits]

    assert "Die Sprechzeiten sind montags von 8 bis 12 Uhr." in found()[0]
    publish(
        first + f"<p>{SECOND}</p>",
        "<p>Office hours are Mondays from 8 to 12.</p>"
        "<p>Second: please bring the rental contract.</p>",
    )
    after_second = found()
    assert SECOND in after_second[0]  # the new unit is found
    assert SECOND not in after_second[1]  # its own text: the exact match's business
    assert "Die Sprechzeiten sind montags von 8 bis 12 Uhr." in after_second[1]
    publish("<p>Die Sprechzeiten sind dienstags.</p>", "<p>Office hours are Tuesdays.</p>")
    now = found()
    assert all("Die Sprechzeiten sind montags von 8 bis 12 Uhr." not in s for s in now), now


def test_a_text_whose_vector_is_cached_after_its_unit_is_found_then(app, tmp_path: Path):
    path = tmp_path / "units.tmx"
    path.write_text(TMX, encoding="utf-8")
    with app.app_context():
        import_tmx(db.session, None, str(path), batch_name="t", license="CC0", attribution="a")
        encoder = get_encoder(app)
        embed_segment_texts(db.session, encoder, [QUERY])  # the units' texts not yet
        de, en = (
            db.session.scalar(select(Language.id).where(Language.code == code))
            for code in ("de", "en")
        )
    memory = SemanticMemory(get_semantic_memory(app)._model_name, refresh_seconds=0)
    assert neighbours(app, memory, de, en, None) == []
    assert memory.stats()["without_vector"] == 2
    with app.app_context():
        embed_segment_texts(db.session, encoder, unembedded_unit_sources(db.session, encoder.name))
    hits = neighbours(app, memory, de, en, None)
    assert "Die Sprechzeiten sind montags von 8 bis 12 Uhr." in {hit.source_text for hit in hits}
    assert memory.stats()["without_vector"] == 0
