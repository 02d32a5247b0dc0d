"""Leverage report through the API: what the memory covers of a region's missing or outdated
translations, per match band and language, and what that saves on DeepL."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from matchers.scoring import similarity
from memory.authorization import Actor
from memory.models import PageTranslation, Role
from memory.segmentation import count_words, segment_html, strip_placeholders
from memory.services.leverage import BANDS, LEVERAGED_BANDS, MATCH_BANDS, TRUST_CLASSES, band_of
from memory.services.pages import push_translation
from memory.services.regions import update_region
from memory.services.translation_memory import refresh_units, segment_key
from tm_service.extensions import db

SENTENCE = "Bitte melden Sie Ihren Wohnsitz innerhalb von zwei Wochen beim Bürgerbüro an."
SENTENCE_EN = "Please register your residence at the citizens' office within two weeks."
OTHER = "Der Integrationskurs beginnt jeden Montag um neun Uhr in der Volkshochschule."
OTHER_EN = (
    "The integration course starts every Monday at nine o'clock at the adult education centre."
)
ADMIN = Actor(role=Role.ADMIN, region_slug=None)
MARKER = "Zebrafinkentwurf"  # appears only in drafts


@pytest.fixture
def app(app: Flask) -> Flask:
    # Reports right after a refresh must see the new units in the fuzzy index at once.
    app.config["INDEX_REFRESH_SECONDS"] = 0.0
    return app


def push(app, external_id, language, title, content, region="alpha", **extra):
    """Store a page translation through the page service, as the CMS push does."""
    with app.app_context():
        push_translation(
            db.session,
            Actor(role=Role.CMS, region_slug=region),
            region,
            external_id,
            language,
            {"title": title, "content": content, **extra},
        )


def build_units(app: Flask) -> None:
    """What the content-changed job does after a push: rebuild the memory's units."""
    with app.app_context():
        refresh_units(db.session, db.session.scalars(select(PageTranslation.id)).all())


def report(client, region="alpha", **query):
    response = client.get(f"/api/v1/regions/{region}/leverage", query_string=query)
    assert response.status_code == 200, response.json
    return response.json


def language(body, code):
    return next(item for item in body["languages"] if item["language"] == code)


def words_of(title: str, content: str, code: str = "de") -> int:
    """The content's word count: the title and every segment, as DeepL would get them."""
    return count_words(title) + sum(count_words(s.text) for s in segment_html(content, code))


def characters_of(title: str, content: str, code: str = "de") -> int:
    return len(title) + sum(len(strip_placeholders(s.text)) for s in segment_html(content, code))


def assert_adds_up(counts):
    for unit in ("segments", "words", "characters"):
        assert sum(counts["bands"][band][unit] for band in BANDS) == counts[unit], unit
        for band in MATCH_BANDS:
            by_trust = counts["bands"][band]["trust"]
            assert sorted(by_trust) == sorted(TRUST_CLASSES)
            assert sum(c[unit] for c in by_trust.values()) == counts["bands"][band][unit], band


def plain(band: dict) -> dict:
    """A band's counts without its trust breakdown."""
    return {key: value for key, value in band.items() if key != "trust"}


def trusted(band: dict) -> dict:
    """A band's words per trust class, the empty classes left out."""
    return {name: count["words"] for name, count in band["trust"].items() if count["segments"]}


def test_bands_add_up_to_the_word_count_of_the_content_to_translate(app, client):
    pages = {
        "1": ("Anmeldung", f"<p>{SENTENCE}</p><p>{OTHER}</p>"),
        "2": ("Sprachkurse", f"<h2>Kurse</h2><p>{OTHER} Bringen Sie <b>Ihren Pass</b> mit.</p>"),
        "3": ("Wohnen", "<ul><li>Wohngeld: 0821 3102-0</li><li>WBS beantragen</li></ul>"),
    }
    for external_id, (title, content) in pages.items():
        push(app, external_id, "de", title, content)
    push(app, "1", "en", "Registration", f"<p>{SENTENCE_EN}</p><p>{OTHER_EN}</p>")
    build_units(app)

    body = report(client)

    english = language(body, "en")
    assert english["pages"] == english["pages_missing"] == 2
    assert english["words"] == sum(words_of(*pages[key]) for key in ("2", "3"))
    assert english["characters"] == sum(characters_of(*pages[key]) for key in ("2", "3"))
    for counts in (*body["languages"], body["totals"]):
        assert_adds_up(counts)
    assert body["totals"]["words"] == sum(item["words"] for item in body["languages"])
    assert body["totals"]["pages"] == sum(item["pages"] for item in body["languages"])


def test_an_exact_sentence_already_in_memory_lands_in_100(app, client):
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p>")
    push(app, "1", "en", "Registration", f"<p>{SENTENCE_EN}</p>", review_status="reviewed")
    push(app, "2", "de", "Neu hier", f"<p>Ganz anderer Text über Hunde.</p><p>{SENTENCE}</p>")
    build_units(app)

    english = language(report(client, target_language="en"), "en")

    assert plain(english["bands"]["100"]) == {
        "segments": 1,
        "words": count_words(SENTENCE),
        "characters": len(SENTENCE),
    }
    assert trusted(english["bands"]["100"]) == {"reviewed": count_words(SENTENCE)}
    assert english["bands"]["no_match"]["segments"] == 2  # the title and the sentence on dogs
    assert english["bands"]["no_match"]["trust"] == {}
    assert_adds_up(english)


@pytest.mark.parametrize(
    ("extra", "trust"),
    [({}, "approved"), ({"origin": "machine"}, "machine")],
)
def test_an_identical_sentence_is_in_100_whoever_translated_it_and_its_trust_says_who(
    app, client, extra, trust
):
    # Published, never reviewed: a region's human translation is approved content, a
    # machine's is a 100 % match of lower trust — neither is a lower match.
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p>")
    push(app, "1", "en", "Registration", f"<p>{SENTENCE_EN}</p>", **extra)
    push(app, "2", "de", "Neu hier", f"<p>Ganz anderer Text über Hunde.</p><p>{SENTENCE}</p>")
    build_units(app)

    english = language(report(client, target_language="en"), "en")

    assert english["bands"]["100"]["words"] == count_words(SENTENCE)
    assert trusted(english["bands"]["100"]) == {trust: count_words(SENTENCE)}
    assert english["bands"]["95-99"]["segments"] == 0
    assert_adds_up(english)


def test_the_cli_breaks_each_matched_band_down_by_trust(app, runner):
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p>")
    push(app, "1", "en", "Registration", f"<p>{SENTENCE_EN}</p>", origin="machine")
    push(app, "2", "de", "Neu hier", f"<p>Ganz anderer Text über Hunde.</p><p>{SENTENCE}</p>")
    build_units(app)

    result = runner.invoke(args=["tm", "leverage", "alpha", "--language", "en"])

    assert result.exit_code == 0, result.output
    assert f"en by trust: 100 machine {count_words(SENTENCE)}" in result.output


def test_a_page_copied_whole_is_a_context_match_101(app, client):
    content = f"<p>{SENTENCE}</p><p>{OTHER}</p>"
    push(app, "1", "de", "Anmeldung", content)
    push(
        app,
        "1",
        "en",
        "Registration",
        f"<p>{SENTENCE_EN}</p><p>{OTHER_EN}</p>",
        review_status="reviewed",
    )
    push(app, "2", "de", "Anmeldung", content)
    build_units(app)

    english = language(report(client, target_language="en"), "en")

    assert english["bands"]["101"]["segments"] == english["segments"] == 3
    assert english["machine_translation"]["words_needed"] == 0


@pytest.mark.parametrize(
    ("edited", "band"),
    [
        (SENTENCE.replace("zwei", "drei"), "95-99"),
        (SENTENCE.replace("beim Bürgerbüro", "im Rathaus"), "85-94"),
        (
            SENTENCE.replace(
                "Ihren Wohnsitz innerhalb von zwei Wochen", "Ihre Wohnung innerhalb eines Monats"
            ),
            "75-84",
        ),
    ],
)
def test_an_edited_sentence_lands_in_its_fuzzy_band(app, client, edited, band):
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p>")
    push(app, "1", "en", "Registration", f"<p>{SENTENCE_EN}</p>", review_status="reviewed")
    push(app, "2", "de", "Neu hier", f"<p>{edited}</p>")
    build_units(app)

    english = language(report(client, target_language="en"), "en")

    # Reviewed, same region: no penalty, the score is the similarity of the matching forms.
    score = similarity(segment_key(edited, "de").form, segment_key(SENTENCE, "de").form)
    assert band_of(score) == band
    assert plain(english["bands"][band]) == {
        "segments": 1,
        "words": count_words(edited),
        "characters": len(edited),
    }
    assert trusted(english["bands"][band]) == {"reviewed": count_words(edited)}


def test_a_page_whose_english_is_up_to_date_is_not_counted_and_an_outdated_one_is(app, client):
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p><p>{OTHER}</p>")
    push(
        app,
        "1",
        "en",
        "Registration",
        f"<p>{SENTENCE_EN}</p><p>{OTHER_EN}</p>",
        review_status="reviewed",
    )
    build_units(app)
    assert language(report(client, target_language="en"), "en")["pages"] == 0

    new_sentence = "Hunde müssen bei der Stadtkasse angemeldet werden, das kostet Geld."
    changed = f"<p>{SENTENCE}</p><p>{new_sentence}</p>"
    push(app, "1", "de", "Anmeldung", changed)
    build_units(app)
    english = language(report(client, target_language="en", pages="true"), "en")

    assert english["pages_outdated"] == english["pages"] == 1
    assert english["pages_missing"] == 0
    assert english["words"] == words_of("Anmeldung", changed)
    assert english["page_details"] == [
        {**english["page_details"][0], "external_id": "1", "source_language": "de",
         "state": "outdated"}
    ]  # fmt: skip
    # What is left is the new sentence. The unchanged title and sentence keep their earlier
    # translations (as CAT tools count a previous version): identical sources, outdated trust.
    assert plain(english["bands"]["no_match"]) == {
        "segments": 1,
        "words": count_words(new_sentence),
        "characters": len(new_sentence),
    }
    exact = english["bands"]["100"]["segments"] + english["bands"]["101"]["segments"]
    assert exact == 2
    assert english["bands"]["100"]["trust"]["outdated"] == plain(english["bands"]["100"])
    assert english["bands"]["101"]["trust"]["outdated"] == plain(english["bands"]["101"])
    assert english["bands"]["95-99"]["segments"] == 0
    assert_adds_up(english)


def test_arabic_is_counted_from_english_in_alphas_language_tree(app, client):
    english = f"<p>{SENTENCE_EN}</p><p>{OTHER_EN}</p>"
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p><p>{OTHER}</p>")
    push(app, "1", "en", "Registration", english)
    push(app, "2", "de", "Nur Deutsch", f"<p>{OTHER}</p>")
    build_units(app)

    arabic = language(report(client, target_language="ar", pages="true"), "ar")

    assert arabic["pages_missing"] == 1
    assert arabic["words"] == words_of("Registration", english, "en")
    assert [(p["external_id"], p["source_language"]) for p in arabic["page_details"]] == [
        ("1", "en")
    ]
    # Page 2 has no English yet, so there is nothing to translate its Arabic from.
    assert arabic["pages_waiting_for_source"] == 1


def test_a_sentence_repeated_in_the_batch_is_counted_as_a_repetition(app, client):
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p>")
    push(app, "2", "de", "Ummeldung", f"<p>{SENTENCE}</p>")
    build_units(app)

    english = language(report(client, target_language="en"), "en")

    assert english["bands"]["no_match"]["segments"] == 3  # two titles, the sentence once
    assert english["bands"]["repetitions"]["words"] == count_words(SENTENCE)
    assert english["machine_translation"]["words_saved"] == count_words(SENTENCE)


def test_deepl_savings_are_the_leveraged_bands_priced_per_character(app, client):
    app.config["DEEPL_PRICE_PER_MILLION_CHARACTERS"] = 25.0
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p><p>{OTHER}</p>")
    push(app, "1", "en", "Registration", f"<p>{SENTENCE_EN}</p><p>{OTHER_EN}</p>")
    push(app, "2", "de", "Neu", f"<p>{SENTENCE}</p><p>{OTHER.replace('neun', 'zehn')}</p>")
    push(app, "3", "de", "Hunde", "<p>Hunde müssen angemeldet werden.</p>")
    with app.app_context():
        update_region(db.session, ADMIN, "alpha", {"mt_word_budget": 10})
    build_units(app)

    body = report(client, target_language="en")
    english = language(body, "en")
    saved = {
        unit: sum(english["bands"][band][unit] for band in LEVERAGED_BANDS)
        for unit in ("words", "characters")
    }
    no_match = english["bands"]["no_match"]

    assert saved["words"] > 0 and no_match["words"] > 0
    assert english["machine_translation"] == {
        "words_saved": saved["words"],
        "characters_saved": saved["characters"],
        "cost_saved": round(saved["characters"] * 25.0 / 1_000_000, 4),
        "words_needed": no_match["words"],
        "characters_needed": no_match["characters"],
        "cost_needed": round(no_match["characters"] * 25.0 / 1_000_000, 4),
    }
    assert body["price_per_million_characters"] == 25.0
    assert body["budget"] == {
        "word_budget": 10,
        "words_used": 0,
        "words_left": 10,
        "words_needed": no_match["words"],
        "fits": no_match["words"] <= 10,
        "shortfall": max(no_match["words"] - 10, 0),
    }


def test_a_drafts_text_never_appears_and_its_words_never_count(app, client):
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p>")
    push(app, "1", "de", f"Anmeldung {MARKER}", f"<p>{MARKER} {SENTENCE}</p>", status="draft")
    push(app, "1", "en", f"Registration {MARKER}", f"<p>{MARKER}</p>", status="draft")
    push(app, "2", "de", MARKER, f"<p>{MARKER} kommt bald.</p>", status="draft")
    build_units(app)

    response = client.get("/api/v1/regions/alpha/leverage", query_string={"pages": "true"})

    assert MARKER not in response.get_data(as_text=True)
    english = language(response.json, "en")
    assert english["words"] == words_of("Anmeldung", f"<p>{SENTENCE}</p>")
    assert [page["external_id"] for page in english["page_details"]] == ["1"]


def test_languages_default_to_all_but_the_source_and_can_be_listed(app, client):
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p>")
    assert [item["language"] for item in report(client)["languages"]] == ["ar", "en"]
    assert [item["language"] for item in report(client, target_language="en,ar")["languages"]] == [
        "en",
        "ar",
    ]
    repeated = client.get("/api/v1/regions/alpha/leverage?target_language=en&target_language=ar")
    assert [item["language"] for item in repeated.json["languages"]] == ["en", "ar"]
    assert "page_details" not in report(client)["languages"][0]


@pytest.mark.parametrize(
    ("region", "query", "status", "field"),
    [
        ("alpha", {"target_language": "xx"}, 404, "target_language"),  # no such language
        ("alpha", {"target_language": "de"}, 422, "target_language"),  # alpha's source
        ("alpha", {"target_language": "EN!"}, 422, "query.target_language"),
        ("alpha", {"pages": "maybe"}, 422, "query.pages"),
        ("nowhere", {}, 404, "region"),
    ],
)
def test_bad_languages_and_regions_are_problems_naming_the_field(
    client, region, query, status, field
):
    response = client.get(f"/api/v1/regions/{region}/leverage", query_string=query)
    assert response.status_code == status
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in response.json["errors"]


def test_a_language_the_region_has_not_added_yet_is_priced_as_all_missing(app, client):
    # "What would Farsi cost us?" is asked before the language is added, not after.
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p>")
    push(app, "1", "en", "Registration", f"<p>{SENTENCE_EN}</p>")

    body = report(client, target_language="fa", pages="true")

    farsi = language(body, "fa")
    assert farsi["in_region"] is False
    assert farsi["pages_missing"] == 1
    assert farsi["words"] == words_of("Anmeldung", f"<p>{SENTENCE}</p>")
    assert farsi["page_details"][0]["source_language"] == "de"
    assert "PATCH /api/v1/regions/alpha" in farsi["note"]
    # The region's own languages say so, and are not among the defaults' strangers.
    assert language(report(client, target_language="en"), "en")["in_region"] is True
    assert "note" not in language(report(client, target_language="en"), "en")
    assert [item["language"] for item in report(client)["languages"]] == ["ar", "en"]


def test_a_region_with_only_its_source_language_can_ask_what_english_would_cost(app, client):
    push(app, "7", "de", "Anmeldung", f"<p>{SENTENCE}</p>", region="beta")
    push(app, "8", "de", "Kurse", f"<p>{OTHER}</p>", region="beta")

    body = report(client, region="beta", target_language="en")

    english = language(body, "en")
    assert english["in_region"] is False
    assert english["pages_missing"] == 2
    assert english["words"] == words_of("Anmeldung", f"<p>{SENTENCE}</p>") + words_of(
        "Kurse", f"<p>{OTHER}</p>"
    )
    assert_adds_up(english)
    assert body["totals"]["words"] == english["words"]


def test_the_cli_prints_the_same_report_as_a_table(app, runner):
    push(app, "1", "de", "Anmeldung", f"<p>{SENTENCE}</p>")
    push(app, "2", "de", "Ummeldung", f"<p>{SENTENCE}</p>")

    result = runner.invoke(args=["tm", "leverage", "alpha", "--language", "en"])

    assert result.exit_code == 0, result.output
    words = 2 * count_words(SENTENCE) + 2
    assert result.output.splitlines()[1].split()[:3] == ["en", "2", str(words)]
    assert "by trust" not in result.output  # nothing matched: no band to break down
    assert runner.invoke(args=["tm", "leverage", "alpha", "--language", "xx"]).exit_code == 1
