"""The query's numbers and times through POST /api/v1/tm/lookup, on units built from pushed pages:
inline markup is never edited, and a time arrives as a valid time in the translation's clock."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from matchers.placeholders import extract_placeholders
from memory.authorization import Actor
from memory.models import PageTranslation, Role
from memory.services.pages import push_translation
from memory.services.translation_memory import refresh_units
from memory.services.translation_memory.keys import strip_markup
from memory.services.translation_memory.lookups import stored_placeholder_values
from memory.tm_models import TranslationUnit
from tests.conftest import app_with_augsburg
from tm_service.extensions import db


def push_pair(app: Flask, external_id: str, german: str, english: str) -> None:
    """Store a German page and its English translation through the page service, build units."""
    actor = Actor(role=Role.CMS, region_slug="alpha")
    with app.app_context():
        for language, title, content in (("de", "Kurse", german), ("en", "Courses", english)):
            data = {"title": title, "content": content}
            push_translation(db.session, actor, "alpha", external_id, language, data)
        refresh_units(db.session, db.session.scalars(select(PageTranslation.id)).all())


def best_match(client, text: str) -> dict:
    response = client.post(
        "/api/v1/tm/lookup", json={"text": text, "source_language": "de", "target_language": "en"}
    )
    assert response.status_code == 200, response.json
    return response.json["matches"][0]


def test_a_number_is_replaced_in_the_text_not_in_the_inline_markup(app, client):
    push_pair(
        app,
        "1",
        '<p>Die Pause zwischen <a href="/kurse">Kursen</a> dauert zwischen 1 und 15 Wochen.</p>',
        '<p>The break between <a href="/courses">courses</a> lasts between 1 and 15 weeks.</p>',
    )
    best = best_match(client, "Die Pause zwischen Kursen dauert zwischen 2 und 15 Wochen.")
    assert best["text"] == "The break between courses lasts between 2 and 15 weeks."
    assert best["segment"] == "The break between <g1>courses</g1> lasts between 2 and 15 weeks."
    assert best["placeholder_mismatches"] == []


def test_opening_hours_arrive_in_the_12_hour_clock_of_the_translation(app, client):
    push_pair(
        app,
        "2",
        "<p>Montag - Freitag: 14 Uhr bis 24 Uhr</p><p>Samstag: 8 Uhr bis 12 Uhr</p>",
        "<p>Monday - Friday: 2pm until midnight</p><p>Saturday: 8 am to 12 pm</p>",
    )
    weekdays = best_match(client, "Montag - Freitag: 15 Uhr bis 24 Uhr")
    assert weekdays["text"] == "Monday - Friday: 3pm until midnight"
    assert weekdays["placeholder_mismatches"] == []
    saturday = best_match(client, "Samstag: 15 Uhr bis 24 Uhr")
    assert saturday["text"] == "Saturday: 3 pm to 12 am"
    assert saturday["placeholder_mismatches"] == []


def test_a_query_time_that_cannot_be_written_is_listed_and_costs_a_penalty(app, client):
    push_pair(app, "3", "<p>Geöffnet ab 8:00 Uhr.</p>", "<p>Open from 8 am.</p>")
    best = best_match(client, "Geöffnet ab 25:00 Uhr.")
    assert best["text"] == "Open from 8 am."
    assert best["placeholder_mismatches"] == [
        {"kind": "TIME", "reason": "invalid_in_query", "value": "25:00"}
    ]
    assert "placeholder_mismatch" in [p["code"] for p in best["penalties"]]


def test_the_stored_form_says_which_units_have_values_to_replace(tmp_path, seeded_database):
    # A lookup reads a candidate's values again only when its form holds a {KIND} token: on
    # every unit of the real Landkreis Augsburg pages that gives what reading the text gives.
    app = app_with_augsburg(tmp_path, seeded_database)
    with app.app_context():
        units = db.session.scalars(select(TranslationUnit)).all()
        with_values = 0
        for unit in units:
            read = extract_placeholders(strip_markup(unit.source_text)).values
            assert stored_placeholder_values(unit) == read, unit.source_text
            with_values += bool(read)
    assert len(units) > 1000
    assert 100 < with_values < len(units) / 2
