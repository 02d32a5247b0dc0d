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
