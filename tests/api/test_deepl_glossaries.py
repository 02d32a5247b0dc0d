"""DeepL glossaries from the termbase, against the local DeepL stand-in: a machine translation
of a pair with terms sends the glossary id; an unchanged termbase reuses the glossary; a changed
term recreates it once (and the old one is deleted); pairs without glossaries send none."""

from __future__ import annotations

import pytest

from connectors.deepl_client import DeepLTranslator
from memory.authorization import Actor
from memory.models import Role
from memory.services.regions import update_region
from tests.conftest import bearer
from tests.deepl_standin import deepl_standin  # noqa: F401 — fixture
from tm_service.demo import load_starter_termbase
from tm_service.extensions import db

ADMIN = Actor(role=Role.ADMIN, region_slug=None)
TEXT = "<p>Hartz IV und Bürgergeld beantragen Sie beim Jobcenter.</p>"


@pytest.fixture
def with_deepl(app, deepl_standin):  # noqa: F811
    app.config["DEEPL_API_KEY"] = deepl_standin.api_key
    app.config["DEEPL_SERVER_URL"] = deepl_standin.url
    app.config["DEEPL_TIMEOUT"] = 2
    with app.app_context():
        load_starter_termbase(db.session)
        update_region(
            db.session,
            ADMIN,
            "alpha",
            {
                "languages": [
                    {"code": "de"},
                    {"code": "en", "parent": "de"},
                    {"code": "ar", "parent": "de"},
                ]
            },
        )
        db.session.commit()
    return deepl_standin


def machine_translate(client, token, target="en", text=TEXT):
    response = client.post(
        "/api/v1/regions/alpha/suggestions",
        json={"text": text, "source_language": "de", "target_language": target},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.json
    assert response.json["machine_translation"]["status"] == "used", response.json
    return response.json


def test_a_machine_translation_sends_the_glossary_of_its_pair(client, make_token, with_deepl):
    result = machine_translate(client, make_token("editor"))
    (glossary,) = with_deepl.glossaries.values()
    assert (glossary["source_lang"], glossary["target_lang"]) == ("de", "en")
    assert glossary["entries"]["Bürgergeld"] == "citizen's benefit"
    assert glossary["entries"]["Hartz IV"] == "citizen's benefit"  # the old term, the new text
    assert glossary["entries"]["Jobcenter"] == "Jobcenter"
    (translate,) = with_deepl.translate_requests
    assert translate.body["glossary_id"] == glossary["glossary_id"]
    assert translate.body["source_lang"] == "DE"
    text = result["segments"][0]["candidates"][0]["text"]
    assert "citizen's benefit und citizen's benefit" in text


def test_an_unchanged_termbase_reuses_the_glossary_and_a_changed_term_recreates_it_once(
    app, client, make_token, with_deepl
):
    token = make_token("editor")
    machine_translate(client, token)
    machine_translate(client, token, text="<p>Die Duldung gilt drei Monate.</p>")
    creations = [
        r for r in with_deepl.requests if r.path == "/v2/glossaries" and r.method == "POST"
    ]
    assert len(creations) == 1
    (first,) = with_deepl.glossaries

    admin = bearer(make_token("admin", None))
    response = client.put(
        "/api/v1/terminology/shared/concepts/duldung",
        json={
            "license": "CC BY 4.0",
            "attribution": "Residence Act",
            "terms": [
                {"language": "de", "text": "Duldung"},
                {"language": "en", "text": "toleration"},
            ],
        },
        headers=admin,
    )
    assert response.status_code == 200, response.json
    machine_translate(client, token, text="<p>Eine Duldung ist kein Aufenthaltstitel.</p>")
    machine_translate(client, token, text="<p>Die Duldung wird verlängert.</p>")
    creations = [
        r for r in with_deepl.requests if r.path == "/v2/glossaries" and r.method == "POST"
    ]
    assert len(creations) == 2
    (second,) = with_deepl.glossaries  # the old one was deleted at DeepL
    assert second != first
    assert with_deepl.glossaries[second]["entries"]["Duldung"] == "toleration"
    deletions = [r for r in with_deepl.requests if r.method == "DELETE"]
    assert [r.path for r in deletions] == [f"/v2/glossaries/{first}"]
    assert with_deepl.translate_requests[-1].body["glossary_id"] == second


def test_a_pair_without_glossaries_at_deepl_translates_without_one(client, make_token, with_deepl):
    machine_translate(client, make_token("editor"), target="ar")
    assert with_deepl.glossaries == {}
    (translate,) = with_deepl.translate_requests
    assert "glossary_id" not in translate.body


def test_a_failing_glossary_call_leaves_machine_translation_working(client, make_token, with_deepl):
    with_deepl.fail_with(500, times=2)  # the glossary-language-pairs request, and its retry
    machine_translate(client, make_token("editor"))
    assert "glossary_id" not in with_deepl.translate_requests[0].body


def test_the_connector_lists_and_deletes_glossaries(deepl_standin):  # noqa: F811
    with DeepLTranslator(deepl_standin.api_key, server_url=deepl_standin.url) as translator:
        assert ("de", "en") in translator.glossary_language_pairs()
        glossary_id = translator.create_glossary("t", "de", "en-gb", {"Duldung": "toleration"})
        assert translator.list_glossaries() == [(glossary_id, "t", "de", "en", 1)]
        translator.delete_glossary(glossary_id)
        translator.delete_glossary(glossary_id)  # gone already: not an error
        assert translator.list_glossaries() == []


def test_a_glossary_deleted_at_deepl_by_hand_is_made_again(client, make_token, with_deepl):
    token = make_token("editor")
    machine_translate(client, token)
    (first,) = with_deepl.glossaries
    del with_deepl.glossaries[first]
    machine_translate(client, token, text="<p>Die Duldung gilt drei Monate.</p>")
    (second,) = with_deepl.glossaries
    assert second != first
    assert with_deepl.translate_requests[-1].body["glossary_id"] == second
    assert not [r for r in with_deepl.requests if r.method == "DELETE"]
