"""Translation memory through the API: units from public pages, exact/fuzzy/pivot lookup,
placeholders, penalties, neighbour ranking, concordance, bad input."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from memory.authorization import Actor
from memory.models import Language, Origin, PageTranslation, Role
from memory.services.pages import push_translation
from memory.services.regions import update_region
from memory.services.translation_memory import refresh_all_units, refresh_units
from memory.tm_models import TranslationUnit
from tests.conftest import app_with_augsburg
from tm_service.extensions import db

ADMIN = Actor(role=Role.ADMIN, region_slug=None)
# A unit of the Landkreis Augsburg corpus (German page → English translation).
SENTENCE = (
    "Fa. Alois Strohmayr Am Graben 15, 86391 Stadtbergen 0821 431015 info@strohmayr-architekten.de"
)
TRANSLATION = (
    "Alois Strohmayr Company Am Graben 15, 86391 Stadtbergen 0821 431015 "
    "info@strohmayr-architekten.de"
)


@pytest.fixture(scope="module")
def corpus_app(tmp_path_factory, seeded_database: Path) -> Iterator[Flask]:
    """One app per module with Landkreis Augsburg imported and its units built."""
    app = app_with_augsburg(tmp_path_factory.mktemp("corpus"), seeded_database)
    yield app
    with app.app_context():
        db.engine.dispose()


def lookup(client, **body):
    return client.post("/api/v1/tm/lookup", json=body)


# --- the Landkreis Augsburg corpus ----------------------------------------------


def test_german_sentence_of_the_corpus_returns_its_english_translation_exactly(corpus_app):
    response = lookup(
        corpus_app.test_client(), text=SENTENCE, source_language="de", target_language="en"
    )
    assert response.status_code == 200, response.json
    best = response.json["matches"][0]
    assert best["kind"] == "exact"
    assert best["base_score"] == 100
    assert best["text"] == TRANSLATION
    assert best["origin"]["region"] == "lkaugsburg"
    assert best["origin"]["region_name"]
    assert best["origin"]["license"] == "CC BY 4.0"
    assert best["origin"]["url"].startswith("https://")
    # The county's published human translation: an identical source is a 100 % match, and
    # the translation is approved content (no "unreviewed" penalty), so nothing is taken off.
    assert best["match"] == 100
    assert best["trust"]["status"] == "approved"
    assert best["trust"]["score"] == 100
    assert best["trust"]["penalties"] == []
    assert best["penalties"] == []
    assert best["score"] == 100


def test_edited_variant_is_a_fuzzy_match_carrying_the_new_phone_number(corpus_app):
    edited = SENTENCE.replace("Strohmayr Am", "Strohmaier Am").replace("0821 431015", "08231 96650")
    response = lookup(
        corpus_app.test_client(), text=edited, source_language="de", target_language="en"
    )
    best = response.json["matches"][0]
    assert best["kind"] == "fuzzy"
    assert 80 <= best["base_score"] < 100
    assert "08231 96650" in best["text"]
    assert "0821 431015" not in best["text"]
    assert best["text"].startswith("Alois Strohmayr Company")


def test_units_are_built_once_and_a_second_refresh_changes_nothing(corpus_app):
    with corpus_app.app_context():
        count = len(db.session.scalars(select(TranslationUnit.id)).all())
        report = refresh_all_units(db.session, region_slug="lkaugsburg")
        assert report.created == report.updated == report.deleted == 0
        assert report.unchanged == count
    assert count > 4000


def test_concordance_finds_units_containing_a_phrase(corpus_app):
    response = corpus_app.test_client().get(
        "/api/v1/tm/concordance", query_string={"q": "ALOIS Strohmayr", "language": "de"}
    )
    assert response.status_code == 200
    items = response.json["items"]
    assert items and all("Alois Strohmayr" in item["source_text"] for item in items)
    assert items[0]["target_language"] == "en"


def test_lookup_latency_stays_low(corpus_app):
    client = corpus_app.test_client()
    lookup(client, text=SENTENCE, source_language="de", target_language="en")  # warm the index
    import time

    started = time.perf_counter()
    for number in range(20):
        lookup(
            client,
            text=SENTENCE.replace("15", str(number)),
            source_language="de",
            target_language="en",
        )
    assert (time.perf_counter() - started) / 20 < 0.5


# --- small data pushed through the API -------------------------------------------


def push(app, region, external_id, language, title, content, **extra):
    """Store a page translation through the page service, as the CMS push does.

    The service, not the HTTP push: the push's background hook also embeds pages, which
    these tests do not need.
    """
    actor = Actor(role=Role.CMS, region_slug=region)
    with app.app_context():
        data = {"title": title, "content": content, **extra}
        push_translation(db.session, actor, region, external_id, language, data)


def refresh_everything(app: Flask) -> None:
    with app.app_context():
        ids = db.session.scalars(select(PageTranslation.id)).all()
        refresh_units(db.session, ids)


GERMAN = "<p>Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an.</p>"
ENGLISH = "<p>Please register your residence within two weeks.</p>"
ARABIC = "<p>يرجى تسجيل مكان إقامتك في غضون أسبوعين.</p>"


def test_pivot_from_german_through_english_to_arabic(app, client):
    push(app, "alpha", "1", "de", "Anmeldung", GERMAN)
    push(app, "alpha", "1", "en", "Registration", ENGLISH)
    push(app, "alpha", "1", "ar", "التسجيل", ARABIC)
    refresh_everything(app)
    response = lookup(
        client,
        text="Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an.",
        source_language="de",
        target_language="ar",
    )
    best = response.json["matches"][0]
    assert best["pivot"] is True
    assert best["pivot_language"] == "en"
    assert best["text"] == "يرجى تسجيل مكان إقامتك في غضون أسبوعين."
    assert "pivot" in [p["code"] for p in best["penalties"]]
    assert best["origin"]["pivot"]["text"] == "Please register your residence within two weeks."


def test_outdated_and_machine_translated_units_lose_trust_not_match(app, client):
    push(app, "alpha", "1", "de", "Anmeldung", GERMAN + "<p>Das ist kostenlos.</p>")
    push(app, "alpha", "1", "en", "Registration", ENGLISH + "<p>It is free.</p>", origin="machine")
    refresh_everything(app)
    text = "Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an."
    machine = lookup(client, text=text, source_language="de", target_language="en").json
    codes = [p["code"] for p in machine["matches"][0]["penalties"]]
    assert codes == ["machine_translated"]
    assert machine["matches"][0]["score"] == 90
    # An identical source is a 100 % match whoever translated it; the machine shows as trust.
    assert machine["matches"][0]["match"] == 100
    assert machine["matches"][0]["trust"]["status"] == "machine"
    assert machine["matches"][0]["trust"]["score"] == 90

    # The German source changes: the English translation (and its units) become outdated.
    push(app, "alpha", "1", "de", "Anmeldung", GERMAN + "<p>Das kostet nichts.</p>")
    refresh_everything(app)
    outdated = lookup(client, text=text, source_language="de", target_language="en").json
    best = outdated["matches"][0]
    assert sorted(p["code"] for p in best["penalties"]) == ["machine_translated", "outdated"]
    assert best["score"] == 85
    assert best["origin"]["outdated"] is True
    assert best["match"] == 100
    assert best["trust"]["outdated"] is True and best["trust"]["score"] == 85


def test_a_translators_reviewed_text_ranks_before_the_published_one_at_equal_score(app, client):
    from memory.models import Region
    from memory.services.translation_memory import add_reviewed_unit

    push(app, "alpha", "1", "de", "Anmeldung", GERMAN)
    push(app, "alpha", "1", "en", "Registration", ENGLISH)
    refresh_everything(app)
    with app.app_context():
        alpha = db.session.scalar(select(Region).where(Region.slug == "alpha"))
        german = db.session.scalar(select(Language).where(Language.code == "de"))
        english = db.session.scalar(select(Language).where(Language.code == "en"))
        add_reviewed_unit(
            db.session,
            region=alpha,
            page=None,
            source=german,
            target=english,
            source_text="Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an.",
            target_text="Please register your place of residence within two weeks.",
            origin=Origin.HUMAN,
            license="CC BY 4.0",
            attribution="Alpha",
        )
        db.session.commit()
    text = "Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an."
    found = lookup(client, text=text, source_language="de", target_language="en", region="alpha")
    matches = found.json["matches"]
    assert [(m["score"], m["trust"]["score"]) for m in matches] == [(100, 100), (100, 100)]
    assert [m["trust"]["status"] for m in matches] == ["reviewed", "approved"]


def test_drafts_never_appear_in_lookup_concordance_or_export(app, client):
    push(app, "alpha", "7", "de", "Entwurf", "<p>Geheimer Entwurfstext hier.</p>")
    push(
        app,
        "alpha",
        "7",
        "en",
        "Draft",
        "<p>Secret draft text here.</p>",
        status="draft",
    )
    refresh_everything(app)
    found = lookup(
        client, text="Geheimer Entwurfstext hier.", source_language="de", target_language="en"
    )
    assert found.json["matches"] == []
    hits = client.get("/api/v1/tm/concordance", query_string={"q": "Entwurf", "language": "de"})
    assert hits.json["items"] == []
    export = client.get(
        "/api/v1/tm/export", query_string={"source_language": "de", "target_language": "en"}
    )
    assert b"Secret" not in export.data and b"Geheim" not in export.data


def test_neighbouring_region_ranks_before_a_distant_one_at_equal_score(app, client):
    with app.app_context():
        for slug, name in (("gamma", "Gamma"), ("delta", "Delta")):
            from memory.services.regions import create_region

            create_region(
                db.session,
                ADMIN,
                {
                    "slug": slug,
                    "name": name,
                    "kind": "county",
                    "languages": [{"code": "de"}, {"code": "en", "parent": "de"}],
                },
            )
    for slug, english in (
        ("gamma", "Please register your home within two weeks."),
        ("delta", "Register your place of residence within two weeks, please."),
    ):
        push(app, slug, "1", "de", "Anmeldung", GERMAN)
        push(app, slug, "1", "en", "Registration", f"<p>{english}</p>")
    refresh_everything(app)
    text = "Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an."
    # No neighbours yet: the regions' places are now in this process's cache.
    before = lookup(client, text=text, source_language="de", target_language="en", region="beta")
    assert [m["origin"]["region"] for m in before.json["matches"]] == ["gamma", "delta"]
    with app.app_context():
        update_region(db.session, ADMIN, "beta", {"neighbours": ["delta"]})
    # The change drops the cache: the next lookup ranks the new neighbour first.
    ranked = lookup(client, text=text, source_language="de", target_language="en", region="beta")
    regions = [m["origin"]["region"] for m in ranked.json["matches"]]
    assert regions == ["delta", "gamma"]
    assert ranked.json["matches"][0]["score"] == ranked.json["matches"][1]["score"]
    # Without a region, ties fall back to the unit order: gamma came first.
    plain = lookup(client, text=text, source_language="de", target_language="en")
    assert [m["origin"]["region"] for m in plain.json["matches"]] == ["gamma", "delta"]


def test_context_match_scores_101_when_neighbouring_segments_match(app, client):
    push(app, "alpha", "1", "de", "Anmeldung", GERMAN)
    push(app, "alpha", "1", "en", "Registration", ENGLISH, review_status="reviewed")
    refresh_everything(app)
    body = {
        "text": "Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an.",
        "source_language": "de",
        "target_language": "en",
    }
    context = lookup(client, **body, context_before="Anmeldung").json["matches"][0]
    assert context["kind"] == "context" and context["score"] == 101
    assert context["match"] == 101 and context["trust"]["status"] == "reviewed"
    other = lookup(client, **body, context_before="Etwas anderes").json["matches"][0]
    assert other["kind"] == "exact"
    assert [p["code"] for p in other["penalties"]] == ["context_mismatch"]
    # Another context: a 100 % match (not 101), the translation as trusted as before; the
    # context point lowers the ranking score only.
    assert other["match"] == 100 and other["score"] == 99
    assert other["trust"] == {
        "score": 100.0,
        "status": "reviewed",
        "outdated": False,
        "other_region": False,
        "pivot": False,
        "rejections": 0,
        "penalties": [],
    }


def test_penalty_amounts_come_from_configuration(app, client):
    app.config["PENALTIES"] = '{"machine_translated": 30}'
    push(app, "alpha", "1", "de", "Anmeldung", GERMAN)
    push(app, "alpha", "1", "en", "Registration", ENGLISH, origin="machine")
    refresh_everything(app)
    text = "Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an."
    best = lookup(client, text=text, source_language="de", target_language="en").json
    assert best["matches"][0]["score"] == 70


def test_deleting_content_from_a_page_deletes_its_units(app, client):
    push(app, "alpha", "1", "de", "Anmeldung", GERMAN + "<p>Zweiter Satz hier.</p>")
    push(app, "alpha", "1", "en", "Registration", ENGLISH + "<p>Second one here.</p>")
    refresh_everything(app)
    push(app, "alpha", "1", "de", "Anmeldung", GERMAN)
    push(app, "alpha", "1", "en", "Registration", ENGLISH)
    refresh_everything(app)
    with app.app_context():
        texts = db.session.scalars(select(TranslationUnit.source_text)).all()
    assert sorted(texts) == sorted(
        ["Anmeldung", "Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen an."]
    )


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"source_language": "de", "target_language": "en"}, 422, "text"),
        ({"text": "Hallo", "source_language": "de", "target_language": "en", "min_score": 150},
         422, "min_score"),
        ({"text": "Hallo", "source_language": "xx", "target_language": "en"}, 404,
         "source_language"),
        ({"text": "Hallo", "source_language": "de", "target_language": "zz"}, 404,
         "target_language"),
        ({"text": "Hallo", "source_language": "de", "target_language": "en", "limit": 0}, 422,
         "limit"),
        ({"text": "Hallo", "source_language": "de", "target_language": "en", "region": "nowhere"},
         404, "region"),
        ({"text": "Hallo", "source_language": "de", "target_language": "de"}, 422,
         "target_language"),
        ({"text": "Hallo", "source_language": "de", "target_language": "en", "x": 1}, 422, "x"),
    ],
)  # fmt: skip
def test_bad_lookup_input_is_a_problem_naming_the_field(client, body, status, field):
    response = client.post("/api/v1/tm/lookup", json=body)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in response.json["errors"]


def test_concordance_needs_a_known_language(client):
    response = client.get("/api/v1/tm/concordance", query_string={"q": "x", "language": "xx"})
    assert response.status_code == 404
    assert "language" in response.json["errors"]


def test_outdated_translation_is_paired_with_the_source_it_was_made_from(app, client):
    push(app, "alpha", "1", "de", "Anmeldung", "<p>Das ist kostenlos.</p>")
    push(app, "alpha", "1", "en", "Registration", "<p>It is free.</p>")
    refresh_everything(app)
    # The German sentence is replaced; English is not updated yet (outdated).
    push(app, "alpha", "1", "de", "Anmeldung", "<p>Das kostet zehn Euro.</p>")
    refresh_everything(app)
    changed = lookup(
        client, text="Das kostet zehn Euro.", source_language="de", target_language="en"
    ).json["matches"]
    assert all(m["text"] != "It is free." for m in changed), changed
    old = lookup(
        client, text="Das ist kostenlos.", source_language="de", target_language="en"
    ).json["matches"]
    assert old[0]["text"] == "It is free."
    assert old[0]["origin"]["outdated"] is True


def test_rebuild_units_rekeys_imported_units_built_with_older_forms(app, client, runner):
    tmx = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header creationtool="t" creationtoolversion="1" datatype="plaintext"
segtype="sentence" adminlang="en" srclang="de" o-tmf="t"/><body>
<tu><tuv xml:lang="de"><seg>Rufen Sie 08213448411 an.</seg></tuv>
<tuv xml:lang="en"><seg>Call 08213448411.</seg></tuv></tu>
</body></tmx>"""
    with app.app_context():
        from memory.services import tmx_io

        tmx_io.import_tmx(
            db.session, ADMIN, io.BytesIO(tmx.encode()), batch_name="old", region="alpha"
        )
        unit = db.session.scalars(select(TranslationUnit)).one()
        # As an older version stored it: the unbroken number read as {NUM}.
        unit.source_form = "rufen sie {NUM} an."
        unit.source_hash = hashlib.sha256(unit.source_form.encode()).hexdigest()
        unit.unit_key = "0" * 64
        db.session.commit()
    text = "Rufen Sie 08251 998877 an."
    before = lookup(client, text=text, source_language="de", target_language="en").json
    assert not [m for m in before["matches"] if m["kind"] == "exact"]

    result = runner.invoke(args=["tm", "rebuild-units"])
    assert result.exit_code == 0, result.output
    assert '"imported_units_rekeyed": 1' in result.output
    runner.invoke(args=["tm", "rebuild-index"])
    after = lookup(client, text=text, source_language="de", target_language="en").json
    assert after["matches"][0]["kind"] == "exact"
    assert after["matches"][0]["text"] == "Call 08251 998877."


def test_sentences_of_one_page_that_differ_only_in_numbers_are_two_units(app, client):
    push(
        app,
        "alpha",
        "1",
        "de",
        "Sprechstunde",
        "<p>Die Sprechstunde ist in Raum 202.</p><p>Die Sprechstunde ist in Raum 303.</p>",
    )
    push(
        app,
        "alpha",
        "1",
        "en",
        "Office hours",
        "<p>Office hours are in room 202.</p><p>Office hours are in room 303.</p>",
    )
    refresh_everything(app)

    with app.app_context():
        texts = db.session.scalars(
            select(TranslationUnit.source_text).order_by(TranslationUnit.position)
        ).all()
    assert texts == [
        "Sprechstunde",
        "Die Sprechstunde ist in Raum 202.",
        "Die Sprechstunde ist in Raum 303.",
    ]


def test_an_index_that_passed_an_import_s_revision_still_loads_its_units(app, tmp_path):
    """A reader that checks the memory while an import runs passes the import's reserved
    revision before the import's units are committed; it must load them once they are."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from memory.services import tmx_io
    from memory.services.translation_memory import TranslationMemoryIndex, segment_key

    other_process = Session(create_engine(app.config["SQLALCHEMY_DATABASE_URI"]))
    index = TranslationMemoryIndex(refresh_seconds=0)
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<tmx version="1.4"><header creationtool="t" '
        'creationtoolversion="1" datatype="plaintext" segtype="sentence" adminlang="en" '
        'srclang="de" o-tmf="t"/><body><tu><tuv xml:lang="de"><seg>Die Bürgersprechstunde '
        'ist dienstags.</seg></tuv><tuv xml:lang="en"><seg>Citizens\' office hours are on '
        "Tuesdays.</seg></tuv></tu></body></tmx>"
    ).encode()

    class ReadWhileImporting(io.BytesIO):
        """The file as the import reads it; the other process looks at the memory meanwhile."""

        def read(self, size=-1):
            if self.tell() == 0:
                index.ensure_fresh(other_process)
                other_process.rollback()  # end its read transaction, as a request would
            return super().read(size)

    try:
        with app.app_context():
            passed = index.revision
            tmx_io.import_tmx(
                db.session, ADMIN, ReadWhileImporting(body), region="alpha", batch_name="b"
            )
            de, en = (
                db.session.scalar(select(Language.id).where(Language.code == code))
                for code in ("de", "en")
            )
        assert index.revision is not None and index.revision > (passed or 0)
        index.ensure_fresh(other_process)
        form = segment_key("Die Bürgersprechstunde ist mittwochs.", "de").form
        assert index.search(de, en, form, 5, 70)
    finally:
        other_process.close()


def test_a_repeated_lookup_reads_only_the_units_and_a_changed_language_shows_at_once(corpus_app):
    """Languages are cached per process and database: the second lookup of a pair sends one SQL
    statement (the units), not three; a language written in this process is read anew."""
    from sqlalchemy import event

    from memory.models import TextDirection
    from memory.services.regions import cached_language, save_language

    client = corpus_app.test_client()
    statements: list[str] = []
    with corpus_app.app_context():
        engine = db.engine

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert lookup(client, text=SENTENCE, source_language="de", target_language="en").json[
            "matches"
        ]
        statements.clear()
        again = lookup(client, text=SENTENCE, source_language="de", target_language="en")
        assert again.json["matches"][0]["text"] == TRANSLATION
        assert len(statements) == 1 and "translation_unit" in statements[0]
    finally:
        event.remove(engine, "before_cursor_execute", count)

    with corpus_app.app_context():
        assert cached_language(db.session, "en").direction == TextDirection.LTR
        save_language(db.session, ADMIN, "en", {"direction": TextDirection.RTL})
        assert cached_language(db.session, "en").direction == TextDirection.RTL
        save_language(db.session, ADMIN, "en", {"direction": TextDirection.LTR})
        # An unknown code is never cached: created later, it is found.
        unknown = lookup(client, text=SENTENCE, source_language="de", target_language="sw")
        assert unknown.status_code == 404
        save_language(db.session, ADMIN, "sw", {"name": "Kiswahili"})
    assert (
        lookup(client, text=SENTENCE, source_language="de", target_language="sw").status_code == 200
    )


def test_a_lookup_with_a_region_token_sends_two_statements_the_token_and_the_units(corpus_app):
    """Issue #12: the token check (with its region) and one statement for the exact and fuzzy
    units together, nothing else."""
    from sqlalchemy import event

    from memory.services import tokens

    with corpus_app.app_context():
        token = tokens.create_token(db.session, None, role=Role.CMS, region_slug="lkaugsburg")
        engine = db.engine
    client = corpus_app.test_client()
    # One word changed: fuzzy candidates, no exact match.
    body = {
        "text": SENTENCE.replace("Graben", "Anger"),
        "source_language": "de",
        "target_language": "en",
        "region": "lkaugsburg",  # ranked by region: the regions' places come from the cache
    }
    headers = {"Authorization": f"Bearer {token.plaintext}"}
    assert client.post("/api/v1/tm/lookup", json=body, headers=headers).status_code == 200
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = client.post("/api/v1/tm/lookup", json=body, headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert answer.status_code == 200
    assert 0 < answer.json["matches"][0]["match"] < 100  # a fuzzy match was found and loaded
    assert len(statements) == 2, statements
    assert "api_token" in statements[0] and "region" in statements[0]
    assert "translation_unit" in statements[1]


@pytest.mark.parametrize("threshold", ["score", "match"])
def test_scoring_stops_early_without_changing_a_lookup_s_matches(corpus_app, threshold):
    """A lookup scores its candidates highest bound first and stops once `limit` kept matches beat
    every later bound: the matches are those of scoring them all, on 150 corpus sentences
    (most edited, some asked in their own context), half the units penalised (some reach fewer
    than `limit` matches, many stop early)."""
    import random
    from dataclasses import replace

    from memory.services.translation_memory.lookups import (
        LookupContext,
        _direct,
        _distinct,
        _highest_score,
    )
    from tm_service.jobs import get_tm_index

    rng = random.Random(7)
    with corpus_app.app_context():
        units = db.session.scalars(select(TranslationUnit)).all()
        # Penalties that reorder candidates: machine-made, outdated, rejected units (rolled back).
        for unit in rng.sample(units, len(units) // 2):
            unit.origin = rng.choice([Origin.MACHINE, unit.origin])
            unit.outdated = rng.random() < 0.4
            unit.rejections = rng.choice([0, 0, 1, 2])
        db.session.flush()
        index = get_tm_index(corpus_app)
        context = LookupContext(
            db.session,
            index,
            source_language="de",
            target_language="en",
            region="lkaugsburg",
            min_score=60,
            limit=3,
            threshold=threshold,
        )
        fewer = stopped = 0
        for unit in rng.sample(units, 150):
            words = unit.source_text.split()
            if len(words) > 3 and rng.random() < 0.7:
                del words[rng.randrange(len(words))]
            query = context.query(" ".join(words))
            if rng.random() < 0.3:  # asked in the unit's own context: a 101 for it
                query = replace(query, context_hash=unit.context_hash)
            args = (context.source, context.target, 60, 3, context.policy, context.ranker)
            every = _direct(db.session, index, query, *args)
            early = _direct(db.session, index, query, *args, passes=context._passes)
            for found in every:  # the bound is the score unless a placeholder did not transfer
                scored = db.session.get(TranslationUnit, found.match.unit_id)
                base = min(found.match.base_score, 100.0)  # a context match's 101 is 100 here
                highest = _highest_score(scored, base, query, context.policy)
                if found.placeholder_mismatches:
                    assert found.match.score <= highest
                else:
                    assert found.match.score == highest

            def best(found):
                kept = sorted((m for m in found if context._passes(m)), key=lambda m: m.rank)
                return [(m.match.unit_id, m.match.score) for m in _distinct(kept)[:3]]

            assert best(early) == best(every), unit.source_text
            assert best(context.matches(query, pivots=False)) == best(every)
            fewer += len(best(every)) < 3
            stopped += len(early) < len(every)
        db.session.rollback()
    assert stopped > 20  # it does stop early, and often
    assert fewer > 5  # and some have fewer than `limit` matches to keep
