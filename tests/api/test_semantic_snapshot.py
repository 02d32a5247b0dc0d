"""The semantic segment index from a mapped snapshot plus what was written since: the same
answers as an index held in the process; the CLI and the job that build it; a process holding
many sentences asks for one.

Sentences from Landkreis Augsburg's pages (Integreat / Tür an Tür – Digitalfabrik gGmbH and
Landkreis Augsburg, CC BY 4.0, https://integreat.app/lkaugsburg/de/).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from flask import Flask
from sqlalchemy import select

from memory.authorization import Actor
from memory.models import Language, PageTranslation, Role
from memory.semantic_snapshot import current_name, read_manifest
from memory.services import semantic
from memory.services.pages import push_translation
from memory.services.semantic import (
    SemanticMemory,
    build_semantic_snapshot,
    embed_segment_texts,
    unembedded_unit_sources,
)
from memory.services.tmx_io import import_tmx
from memory.services.translation_memory import refresh_units
from memory.similarity_models import Job, JobState
from tests.conftest import copy_of_seeded_app
from tm_service import jobs
from tm_service.extensions import db

SENTENCES = [
    "Die Ausländerbehörde ist für Aufenthaltstitel und Visa zuständig.",
    "Bitte vereinbaren Sie vorher telefonisch einen Termin.",
    "Zur Anmeldung bringen Sie Ihren Pass und die Wohnungsgeberbestätigung mit.",
    "Die Anmeldung muss innerhalb von zwei Wochen nach dem Einzug erfolgen.",
    "Integrationskurse bestehen aus einem Sprachkurs und einem Orientierungskurs.",
    "Der Sprachkurs dauert in der Regel 600 Unterrichtsstunden.",
    "Kinder ab drei Jahren haben einen Anspruch auf einen Kindergartenplatz.",
    "Die Schulpflicht beginnt in Bayern mit sechs Jahren.",
    "Bei einem Notfall rufen Sie die Nummer 112 an.",
    "Die Beratung ist kostenlos und vertraulich.",
    "Das Jobcenter hilft Ihnen bei der Suche nach einer Arbeitsstelle.",
    "Für eine Wohnung brauchen Sie oft eine Mietschuldenfreiheitsbescheinigung.",
]
QUERIES = [
    "Für Aufenthaltstitel und Visa ist die Ausländerbehörde zuständig.",
    "Vereinbaren Sie bitte telefonisch einen Termin.",
    "Sie müssen sich innerhalb von 14 Tagen nach dem Umzug anmelden.",
    "Ein Integrationskurs hat einen Sprachkurs und einen Orientierungskurs.",
    "Im Notfall wählen Sie die 112.",
    "Das Jobcenter unterstützt Sie bei der Arbeitssuche.",
    "Die Beratungsstelle ist nun auch am Freitag offen.",
    "Für die Beratung muss man sich nicht anmelden.",
]
PAGE_BEFORE = [
    "Die Beratungsstelle hat montags und donnerstags geöffnet.",
    "Eine Anmeldung für die Beratung ist nicht nötig.",
]
PAGE_AFTER = ["Die Beratungsstelle hat jetzt auch freitags geöffnet."]


def _tmx(sentences: list[str]) -> str:
    units = "".join(
        f'<tu><tuv xml:lang="de"><seg>{escape(s)}</seg></tuv>'
        f'<tuv xml:lang="en"><seg>EN {n}: {escape(s)}</seg></tuv></tu>\n'
        for n, s in enumerate(sentences)
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header srclang="de" '
        'datatype="plaintext" segtype="sentence" adminlang="en" creationtool="test" '
        f'creationtoolversion="1" o-tmf="test"/><body>\n{units}</body></tmx>\n'
    )


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    """Snapshots under tmp_path/index (INDEX_DIR), every query checks for changes."""
    with copy_of_seeded_app(
        tmp_path, seeded_database, INDEX_DIR=str(tmp_path / "index"), INDEX_REFRESH_SECONDS=0
    ) as app:
        yield app


def _publish_page(app: Flask, sentences: list[str]) -> None:
    """Page "1" of region alpha in German and English (one paragraph a sentence), its units
    refreshed and every unit source and query embedded."""
    actor = Actor(role=Role.CMS, region_slug="alpha")
    with app.app_context():
        for language, prefix in (("de", ""), ("en", "EN: ")):
            content = "".join(f"<p>{prefix}{s}</p>" for s in sentences)
            data = {"title": "Beratung", "content": content}
            push_translation(db.session, actor, "alpha", "1", language, data)
        refresh_units(db.session, db.session.scalars(select(PageTranslation.id)).all())
        _embed_everything(app)


def _embed_everything(app: Flask) -> None:
    encoder = jobs.get_encoder(app)
    texts = [*unembedded_unit_sources(db.session, encoder.name), *QUERIES, *PAGE_BEFORE]
    embed_segment_texts(db.session, encoder, [*texts, *PAGE_AFTER])


@pytest.fixture
def memory_of_sentences(app: Flask, tmp_path: Path) -> tuple[int, int]:
    """SENTENCES imported from a TMX, PAGE_BEFORE published as a page; (de, en) ids."""
    path = tmp_path / "units.tmx"
    path.write_text(_tmx(SENTENCES), encoding="utf-8")
    with app.app_context():
        import_tmx(db.session, None, str(path), batch_name="t", license="CC0", attribution="a")
        _embed_everything(app)
    _publish_page(app, PAGE_BEFORE)
    with app.app_context():
        return tuple(  # type: ignore[return-value]
            db.session.scalar(select(Language.id).where(Language.code == code))
            for code in ("de", "en")
        )


def _answers(app: Flask, memory: SemanticMemory, de: int, en: int) -> list:
    """Every query's hits without the memory's own keys: unit, text, cosine, z."""
    with app.app_context():
        hits = memory.neighbours(db.session, de, en, QUERIES, limit=4)
        db.session.remove()
    return [
        [
            (h.unit_id, h.source_text, round(h.neighbour.cosine, 5), round(h.neighbour.z, 4))
            for h in row
        ]
        for row in hits
    ]


def _model(app: Flask):
    return lambda: jobs.get_encoder(app).name


def test_a_mapped_snapshot_and_what_was_written_since_answer_as_a_held_index(
    app: Flask, memory_of_sentences: tuple[int, int], tmp_path: Path
):
    de, en = memory_of_sentences
    root = tmp_path / "semantic"
    held = SemanticMemory(_model(app), refresh_seconds=0)
    mapped = SemanticMemory(_model(app), refresh_seconds=0, snapshot_dir=root)
    before = _answers(app, held, de, en)
    assert any(PAGE_BEFORE[0] in {hit[1] for hit in row} for row in before)
    assert _answers(app, mapped, de, en) == before  # no snapshot yet: held in the process
    assert mapped.snapshot is None

    with app.app_context():
        manifest = build_semantic_snapshot(db.session, _model(app)(), root)
    assert manifest.texts == len(SENTENCES) + len(PAGE_BEFORE)
    assert current_name(root) is not None
    fresh = SemanticMemory(_model(app), refresh_seconds=0, snapshot_dir=root)
    assert _answers(app, fresh, de, en) == before
    assert fresh.stats() == {"texts": manifest.texts, "mapped": manifest.texts, "without_vector": 0}
    assert _answers(app, mapped, de, en) == before  # a running process maps it too
    assert mapped.snapshot == manifest

    # The page is rewritten: its old sentences (in the snapshot) lose their units, a new one
    # is written since the snapshot.
    _publish_page(app, PAGE_AFTER)
    after = _answers(app, held, de, en)
    texts_after = {hit[1] for row in after for hit in row}
    assert PAGE_AFTER[0] in texts_after and not set(PAGE_BEFORE) & texts_after
    assert _answers(app, fresh, de, en) == after
    assert fresh.stats()["mapped"] == manifest.texts - len(PAGE_BEFORE)

    # And back: a hidden sentence of the snapshot is found again once it has a unit.
    _publish_page(app, PAGE_BEFORE)
    again = _answers(app, held, de, en)
    assert _answers(app, fresh, de, en) == again
    assert [[hit[1:] for hit in row] for row in again] == [
        [hit[1:] for hit in row] for row in before
    ]


def test_a_snapshot_of_another_model_or_memory_is_not_mapped(
    app: Flask, memory_of_sentences: tuple[int, int], tmp_path: Path
):
    de, en = memory_of_sentences
    root = tmp_path / "semantic"
    with app.app_context():
        build_semantic_snapshot(db.session, "another-model", root)
    memory = SemanticMemory(_model(app), refresh_seconds=0, snapshot_dir=root)
    answers = _answers(app, memory, de, en)
    assert memory.snapshot is None and answers  # held here instead
    assert answers == _answers(app, SemanticMemory(_model(app), refresh_seconds=0), de, en)


def test_the_cli_builds_the_snapshot_that_the_app_maps(
    app: Flask, memory_of_sentences: tuple[int, int]
):
    result = app.test_cli_runner().invoke(args=["tm", "semantic-snapshot"])
    assert result.exit_code == 0, result.output
    manifest = json.loads(result.output)
    assert manifest["texts"] == len(SENTENCES) + len(PAGE_BEFORE)
    with app.app_context():
        root = jobs.semantic_snapshot_dir(app)
        assert root is not None and read_manifest(root, current_name(root) or "") is not None
    de, en = memory_of_sentences
    memory = jobs.get_semantic_memory(app)
    assert _answers(app, memory, de, en)
    assert memory.snapshot is not None and memory.snapshot.texts == manifest["texts"]


def test_the_cli_refuses_without_a_snapshot_folder(tmp_path: Path, seeded_database: Path):
    with copy_of_seeded_app(tmp_path, seeded_database, INDEX_DIR="memory") as app:
        result = app.test_cli_runner().invoke(args=["tm", "semantic-snapshot"])
    assert result.exit_code != 0
    assert 'INDEX_DIR is "memory"' in result.output


def test_a_process_holding_many_sentences_asks_for_a_snapshot_job(
    app: Flask, memory_of_sentences: tuple[int, int], monkeypatch
):
    de, en = memory_of_sentences
    monkeypatch.setattr(semantic, "SNAPSHOT_MIN_TEXTS", 5)
    memory = jobs.get_semantic_memory(app)
    assert _answers(app, memory, de, en)  # held here; the refresh asked for a job
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == jobs.SEMANTIC_SNAPSHOT))
        assert job is not None and job.state == JobState.FINISHED, job and job.error
        assert job.result["texts"] == len(SENTENCES) + len(PAGE_BEFORE)
    assert _answers(app, memory, de, en)
    assert memory.snapshot is not None  # mapped at the next refresh
    assert memory.stats()["mapped"] == len(SENTENCES) + len(PAGE_BEFORE)

    # Mapped: the sentences written or gone since the snapshot ask for the next one.
    monkeypatch.setattr(semantic, "SNAPSHOT_DELTA_FRACTION", 0.05)
    monkeypatch.setattr(memory._snapshot_requests, "interval_s", 0.0)
    _publish_page(app, PAGE_AFTER)  # one sentence written, two gone: 3 > 5 % of 14
    assert _answers(app, memory, de, en)
    with app.app_context():
        assert (
            len(db.session.scalars(select(Job).where(Job.kind == jobs.SEMANTIC_SNAPSHOT)).all())
            == 2
        )


def test_units_imported_at_the_command_line_get_sentence_vectors(app: Flask, tmp_path: Path):
    path = tmp_path / "units.tmx"
    path.write_text(_tmx(SENTENCES), encoding="utf-8")
    args = ["tm", "tmx-import", str(path), "--license", "CC0", "--attribution", "a"]
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["created"] == len(SENTENCES)
    assert report["unit_sentences"]["encoded"] == len(SENTENCES)
    with app.app_context():
        assert unembedded_unit_sources(db.session, jobs.get_encoder(app).name) == []


def test_a_bulk_import_can_leave_the_embedding_for_later(app: Flask, tmp_path: Path):
    path = tmp_path / "units.tmx"
    path.write_text(_tmx(SENTENCES), encoding="utf-8")
    args = ["tm", "tmx-import", str(path), "--license", "CC0", "--attribution", "a"]
    result = app.test_cli_runner().invoke(args=[*args, "--no-embed"])
    assert result.exit_code == 0, result.output
    assert "unit_sentences" not in json.loads(result.stdout)
    with app.app_context():
        assert len(unembedded_unit_sources(db.session, jobs.get_encoder(app).name)) == 12
    embedded = app.test_cli_runner().invoke(args=["tm", "embed"])
    assert embedded.exit_code == 0, embedded.output
    assert json.loads(embedded.stdout)["unit_sentences"]["encoded"] == len(SENTENCES)


def test_units_imported_through_the_api_are_embedded_by_the_snapshot_job(app: Flask, make_token):
    from tests.conftest import bearer

    response = app.test_client().post(
        "/api/v1/tm/import",
        data=_tmx(SENTENCES).encode(),
        headers={**bearer(make_token("admin", None)), "Content-Type": "application/xml"},
        query_string={"license": "CC0", "attribution": "a"},
    )
    assert response.status_code == 200, response.get_json()
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == jobs.SEMANTIC_SNAPSHOT))
        assert job is not None and job.state == JobState.FINISHED, job and job.error
        assert job.result["unit_sentences"]["encoded"] == len(SENTENCES)
        assert job.result["texts"] == len(SENTENCES) and job.result["waiting"] == 0


def test_rebuild_index_writes_a_semantic_snapshot_of_the_new_epoch(
    app: Flask, memory_of_sentences: tuple[int, int]
):
    de, en = memory_of_sentences
    runner = app.test_cli_runner()
    assert runner.invoke(args=["tm", "semantic-snapshot"]).exit_code == 0
    result = runner.invoke(args=["tm", "rebuild-index"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["semantic_snapshot"]["texts"] == len(SENTENCES) + 2
    memory = SemanticMemory(
        _model(app), refresh_seconds=0, snapshot_dir=jobs.semantic_snapshot_dir(app)
    )
    assert _answers(app, memory, de, en)
    assert memory.snapshot is not None  # of the new epoch: mapped, not held
    with app.app_context():
        from memory.services.translation_memory import current_revision

        assert memory.snapshot.epoch == current_revision(db.session)[1] == 1
