"""The in-process fuzzy index follows other processes' writes within its refresh interval."""

from __future__ import annotations

import io

from sqlalchemy import select

from memory.authorization import Actor
from memory.models import Language, PageTranslation, Role
from memory.services.pages import push_translation
from memory.services.tmx_io import import_tmx
from memory.services.translation_memory import (
    TranslationMemoryIndex,
    build_index_snapshot,
    lookup,
    refresh_units,
    segment_key,
)
from tm_service.extensions import db

TMX = b"""<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="de" creationtool="t" segtype="sentence" o-tmf="t"
 adminlang="en" datatype="plaintext" creationtoolversion="1"/>
<body>
<tu><tuv xml:lang="de"><seg>Die Sprechstunde ist am Montag.</seg></tuv>
<tuv xml:lang="en"><seg>Consultation hours are on Monday.</seg></tuv></tu>
</body></tmx>"""


LICENSED = {"license": "CC BY 4.0", "attribution": "Stadt Augsburg"}


def pair_ids(session) -> tuple[int, int]:
    ids = {
        language.code: language.id
        for language in session.scalars(select(Language).where(Language.code.in_(["de", "en"])))
    }
    return ids["de"], ids["en"]


def search(index, session, text):
    de, en = pair_ids(session)
    return index.search(de, en, segment_key(text, "de").form, 5, 90)


def test_a_second_process_sees_new_and_deleted_units_after_its_refresh(app):
    with app.app_context():
        session = db.session
        ours = TranslationMemoryIndex(refresh_seconds=0)
        theirs = TranslationMemoryIndex(refresh_seconds=3600)
        ours.ensure_fresh(session)
        theirs.ensure_fresh(session)
        assert ours.stats()["units"] == theirs.stats()["units"] == 0

        import_tmx(session, None, io.BytesIO(TMX), batch_name="one", **LICENSED)
        ours.ensure_fresh(session)
        assert search(ours, session, "Die Sprechstunde ist am Dienstag.")
        # Within its interval the other index has not looked yet: the bounded delay.
        theirs.ensure_fresh(session)
        assert not search(theirs, session, "Die Sprechstunde ist am Dienstag.")
        theirs.ensure_fresh(session, force=True)
        assert search(theirs, session, "Die Sprechstunde ist am Dienstag.")

        actor = Actor(role=Role.CMS, region_slug="alpha")
        for language, content in (("de", "<p>Erster Satz.</p>"), ("en", "<p>First one.</p>")):
            push_translation(
                session, actor, "alpha", "1", language, {"title": "T", "content": content}
            )
        refresh_units(session, session.scalars(select(PageTranslation.id)).all())
        ours.ensure_fresh(session)
        assert search(ours, session, "Erster Satz.")
        for language, content in (("de", "<p>Anderer Satz.</p>"), ("en", "<p>Other one.</p>")):
            push_translation(
                session, actor, "alpha", "1", language, {"title": "T", "content": content}
            )
        refresh_units(session, session.scalars(select(PageTranslation.id)).all())
        ours.ensure_fresh(session)
        assert not search(ours, session, "Erster Satz.")
        assert search(ours, session, "Anderer Satz.")
        assert ours.stats()["units"] == 3  # the TMX unit, the title, the new sentence


def test_exact_matches_come_from_the_database_without_delay(app):
    with app.app_context():
        index = TranslationMemoryIndex(refresh_seconds=3600)
        index.ensure_fresh(db.session)
        import_tmx(db.session, None, io.BytesIO(TMX), batch_name="one", **LICENSED)
        matches = lookup(
            db.session,
            index,
            text="Die Sprechstunde ist am Montag.",
            source_language="de",
            target_language="en",
        )
        assert [m.match.kind for m in matches] == ["exact"]
        assert matches[0].match.target_text == "Consultation hours are on Monday."


def test_segment_key_ignores_markup_case_and_local_values():
    one = segment_key("Rufen Sie <g1>uns</g1> an: 0821 3102-0", "de")
    two = segment_key("rufen sie uns an: 07151 501-0", "de")
    assert one.form == two.form == "rufen sie uns an: {PHONE}"
    assert one.hash == two.hash
    assert [v.value for v in two.values] == ["07151 501-0"]


# --- one index of distinct source forms, snapshots, warming up -----------------------------

SHARED_TMX = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="de" creationtool="t" segtype="sentence" o-tmf="t"
 adminlang="en" datatype="plaintext" creationtoolversion="1"/>
<body>
<tu><tuv xml:lang="de"><seg>Die Sprechstunde ist am Montag.</seg></tuv>
<tuv xml:lang="en"><seg>Consultation hours are on Monday.</seg></tuv>
<tuv xml:lang="ar"><seg>ساعات الاستشارة يوم الاثنين.</seg></tuv>
<tuv xml:lang="fa"><seg>ساعات مشاوره روز دوشنبه است.</seg></tuv></tu>
</body></tmx>""".encode()
TARGETS = {
    "en": "Consultation hours are on Monday.",
    "ar": "ساعات الاستشارة يوم الاثنين.",
    "fa": "ساعات مشاوره روز دوشنبه است.",
}
QUERIES = (
    "Die Sprechstunde ist am Dienstag.",
    "Erster Satz!",
    "Anderer Satz!",
    "Die Sprechstunde ist am Montag.",
    "Sprechstunde",
)


def push_page(session, de: str, en: str) -> None:
    actor = Actor(role=Role.CMS, region_slug="alpha")
    for language, content in (("de", de), ("en", en)):
        push_translation(
            session, actor, "alpha", "1", language, {"title": "Sprechstunde", "content": content}
        )
    refresh_units(session, session.scalars(select(PageTranslation.id)).all())


def language_ids(session) -> dict[str, int]:
    return {language.code: language.id for language in session.scalars(select(Language))}


def test_one_source_form_is_indexed_once_for_three_target_languages(app, tmp_path):
    with app.app_context():
        session = db.session
        import_tmx(session, None, io.BytesIO(SHARED_TMX), batch_name="shared", **LICENSED)
        index = TranslationMemoryIndex(refresh_seconds=0)
        index.ensure_fresh(session)
        stats = index.stats()
        assert (stats["forms"], stats["delta_entries"], stats["units"]) == (1, 0, 3)
        for code, translation in TARGETS.items():
            matches = lookup(
                session,
                index,
                text="Die Sprechstunde ist am Dienstag.",
                source_language="de",
                target_language=code,
            )
            assert [(m.match.kind, m.match.target_text) for m in matches] == [
                ("fuzzy", translation)
            ]
        manifest = build_index_snapshot(session, tmp_path)
        assert (manifest.forms, manifest.units) == (1, 3)


def test_snapshot_plus_delta_and_tombstones_answer_like_an_index_built_now(app, tmp_path):
    with app.app_context():
        session = db.session
        import_tmx(session, None, io.BytesIO(SHARED_TMX), batch_name="shared", **LICENSED)
        push_page(
            session,
            "<p>Die Sprechstunde ist am Montag.</p><p>Erster Satz.</p>",
            "<p>Office hours: Monday.</p><p>First one.</p>",
        )
        snapshot = build_index_snapshot(session, tmp_path)
        mapped = TranslationMemoryIndex(refresh_seconds=0, snapshot_dir=tmp_path)
        mapped.ensure_fresh(session)
        assert mapped.fuzzy_status == "ready"
        assert mapped.stats()["snapshot"]["revision"] == snapshot.revision
        before = mapped.stats()["units"]

        # After the snapshot: the page's German Monday sentence and "Erster Satz." go (the
        # form of the first keeps its TMX units, the second has none left: a tombstone),
        # "Anderer Satz." comes (the delta).
        push_page(session, "<p>Anderer Satz.</p>", "<p>Other one.</p>")
        mapped.ensure_fresh(session)
        built_now = TranslationMemoryIndex(refresh_seconds=0)
        built_now.ensure_fresh(session)
        assert mapped.stats()["units"] == built_now.stats()["units"] == before - 1
        assert mapped.stats()["delta_entries"] == 1
        assert mapped.language_pairs() == built_now.language_pairs()
        ids = language_ids(session)
        for code in TARGETS:
            for text in QUERIES:
                form = segment_key(text, "de").form
                found = mapped.search(ids["de"], ids[code], form, 5, 50)
                assert found == built_now.search(ids["de"], ids[code], form, 5, 50), (code, text)
        erster = segment_key("Erster Satz.", "de").form
        assert not mapped.search(ids["de"], ids["en"], erster, 5, 90)
        assert mapped.search(ids["de"], ids["en"], segment_key("Anderer Satz.", "de").form, 5, 90)

        # A newer snapshot replaces snapshot and delta; results stay the same.
        build_index_snapshot(session, tmp_path)
        mapped.ensure_fresh(session)
        assert mapped.stats()["delta_entries"] == 0
        assert mapped.stats()["units"] == built_now.stats()["units"]


def test_without_a_snapshot_lookups_answer_exact_matches_and_say_warming_up(app, tmp_path):
    with app.app_context():
        session = db.session
        import_tmx(session, None, io.BytesIO(SHARED_TMX), batch_name="shared", **LICENSED)
        asked = []
        index = TranslationMemoryIndex(
            refresh_seconds=0, snapshot_dir=tmp_path, request_snapshot=lambda: asked.append(1)
        )
        exact = lookup(
            session,
            index,
            text="Die Sprechstunde ist am Montag.",
            source_language="de",
            target_language="en",
        )
        assert [m.match.kind for m in exact] == ["exact"]
        assert index.fuzzy_status == "warming_up"
        fuzzy = lookup(
            session,
            index,
            text="Die Sprechstunde ist am Dienstag.",
            source_language="de",
            target_language="en",
        )
        assert fuzzy == []
        assert asked == [1]  # asked once, not at every lookup

        build_index_snapshot(session, tmp_path)  # what the job does
        index.ensure_fresh(session)
        assert index.fuzzy_status == "ready"
        fuzzy = lookup(
            session,
            index,
            text="Die Sprechstunde ist am Dienstag.",
            source_language="de",
            target_language="en",
        )
        assert [m.match.target_text for m in fuzzy] == [TARGETS["en"]]


def test_a_delta_that_outgrows_a_tenth_of_the_snapshot_asks_for_a_new_one(
    app, tmp_path, monkeypatch
):
    from memory.services.translation_memory import index as tm_index

    monkeypatch.setattr(tm_index, "DELTA_REBUILD_MINIMUM", 0)
    with app.app_context():
        session = db.session
        build_index_snapshot(session, tmp_path)  # empty: taken before any unit
        asked = []
        index = TranslationMemoryIndex(
            refresh_seconds=0, snapshot_dir=tmp_path, request_snapshot=lambda: asked.append(1)
        )
        index.ensure_fresh(session)
        assert index.fuzzy_status == "ready" and asked == []
        import_tmx(session, None, io.BytesIO(SHARED_TMX), batch_name="shared", **LICENSED)
        index.ensure_fresh(session)
        assert asked == [1]
        assert index.stats()["delta_entries"] == 3  # one form in three language pairs


def test_a_snapshot_of_another_memory_is_never_mapped(app, tmp_path):
    from sqlalchemy import update

    from memory.tm_models import TmRevision

    with app.app_context():
        session = db.session
        import_tmx(session, None, io.BytesIO(SHARED_TMX), batch_name="shared", **LICENSED)
        build_index_snapshot(session, tmp_path)
        # Another database in the same folder: same revision, another memory.
        session.execute(update(TmRevision).values(memory_id="another database"))
        session.commit()
        index = TranslationMemoryIndex(refresh_seconds=0, snapshot_dir=tmp_path)
        index.ensure_fresh(session)
        assert index.fuzzy_status == "warming_up"
        build_index_snapshot(session, tmp_path)  # its own snapshot: not the one kept
        index.ensure_fresh(session)
        assert index.fuzzy_status == "ready"
        assert index.stats()["snapshot"]["memory_id"] == "another database"
