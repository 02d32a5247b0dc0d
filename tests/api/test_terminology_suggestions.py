"""The termbase in suggestions and review: each segment lists its terms with the preferred
target terms, a candidate that does not use them pays a `terminology` penalty, one that uses a
deprecated target term is flagged, and accepting it needs the terminology check confirmed."""

from __future__ import annotations

import pytest

from memory.authorization import Actor
from memory.models import Role
from memory.services import tokens
from memory.services.regions import update_region
from tests.conftest import bearer, copy_of_seeded_app
from tm_service.demo import load_starter_termbase
from tm_service.extensions import db

ADMIN = Actor(role=Role.ADMIN, region_slug=None)
OLD_DE = "<p>Arbeitslosengeld II beantragen Sie beim Jobcenter.</p>"
OLD_EN = "<p>You apply for unemployment benefit II at the Jobcenter.</p>"
NEW_DE = "<p>Das Bürgergeld wird monatlich gezahlt.</p>"
NEW_EN = "<p>The citizen's benefit is paid monthly.</p>"


def publish_pages(app, client, make_token) -> None:
    """Beta's page in German and English (one sentence with the old term in both), alpha's
    German page with the same sentences; the starter termbase loaded."""
    with app.app_context():
        update_region(
            db.session,
            ADMIN,
            "beta",
            {"languages": [{"code": "de"}, {"code": "en", "parent": "de"}]},
        )
        db.session.commit()
        load_starter_termbase(db.session)
    beta = make_token("cms", "beta")
    for language, body in (("de", OLD_DE + NEW_DE), ("en", OLD_EN + NEW_EN)):
        response = client.put(
            f"/api/v1/regions/beta/pages/b1/translations/{language}",
            json={"title": "Leistungen" if language == "de" else "Benefits", "content": body},
            headers=bearer(beta),
        )
        assert response.status_code == 201, response.json
    response = client.put(
        "/api/v1/regions/alpha/pages/a1/translations/de",
        json={"title": "Leistungen", "content": OLD_DE + NEW_DE},
        headers=bearer(make_token("cms", "alpha")),
    )
    assert response.status_code == 201, response.json


@pytest.fixture
def pages_with_terms(app, client, make_token):
    publish_pages(app, client, make_token)


def suggestions(client, token) -> dict:
    response = client.post(
        "/api/v1/regions/alpha/suggestions",
        json={"page": "a1", "target_language": "en", "machine_translation": False},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.json
    return {s["source_text"]: s for s in response.json["segments"]}


def test_segments_list_their_terms_with_the_preferred_target(client, make_token, pages_with_terms):
    segments = suggestions(client, make_token("editor"))
    old = segments["Arbeitslosengeld II beantragen Sie beim Jobcenter."]
    assert [(t["term"], t["status"], t["preferred"]) for t in old["terms"]] == [
        ("Arbeitslosengeld II", "deprecated", ["citizen's benefit"]),
        ("Jobcenter", "preferred", ["Jobcenter"]),
    ]
    new = segments["Das Bürgergeld wird monatlich gezahlt."]
    assert [(t["term"], t["surface"]) for t in new["terms"]] == [("Bürgergeld", "Bürgergeld")]


def test_a_candidate_with_a_deprecated_target_term_is_flagged_and_penalised(
    client, make_token, pages_with_terms
):
    segments = suggestions(client, make_token("editor"))
    old = segments["Arbeitslosengeld II beantragen Sie beim Jobcenter."]["candidates"][0]
    assert old["text"] == "You apply for unemployment benefit II at the Jobcenter."
    assert old["terminology"]["flagged"] is True
    assert old["terminology"]["avoided"] == [
        {
            "term": "unemployment benefit II",
            "status": "deprecated",
            "surface": "unemployment benefit II",
            "preferred": ["citizen's benefit"],
        }
    ]
    (penalty,) = [p for p in old["penalties"] if p["code"] == "terminology"]
    assert penalty["amount"] == 3.0 and "citizen's benefit" in penalty["detail"]
    assert old["score"] == old["match"] - sum(p["amount"] for p in old["penalties"])
    assert "terminology" in [p["code"] for p in old["trust"]["penalties"]]
    assert [c["code"] for c in old["checks"]] == ["term_not_used", "term_deprecated"]
    # The sentence with the preferred term: no penalty, not flagged.
    new = segments["Das Bürgergeld wird monatlich gezahlt."]["candidates"][0]
    assert new["terminology"] == {
        "flagged": False,
        "terms": [{"term": "Bürgergeld", "preferred": ["citizen's benefit"], "used": True}],
        "avoided": [],
    }
    assert "terminology" not in [p["code"] for p in new["penalties"]]
    assert new["checks"] == []


def test_the_penalty_is_configurable(tmp_path, seeded_database):
    with copy_of_seeded_app(tmp_path, seeded_database, PENALTIES={"terminology": 0}) as app:

        def make_token(role="cms", region="alpha"):
            with app.app_context():
                return tokens.create_token(
                    db.session, None, role=Role(role), region_slug=region
                ).plaintext

        client = app.test_client()
        publish_pages(app, client, make_token)
        old = suggestions(client, make_token("editor"))[
            "Arbeitslosengeld II beantragen Sie beim Jobcenter."
        ]["candidates"][0]
        assert old["terminology"]["flagged"] is True
        assert "terminology" not in [p["code"] for p in old["penalties"]]


def test_accepting_a_deprecated_term_needs_the_terminology_check_confirmed(
    client, make_token, pages_with_terms
):
    old = suggestions(client, make_token("editor"))[
        "Arbeitslosengeld II beantragen Sie beim Jobcenter."
    ]
    translator = bearer(make_token("translator"))
    url = f"/api/v1/suggestions/{old['suggestion_id']}/review"
    refused = client.post(url, json={"decision": "accept"}, headers=translator)
    assert refused.status_code == 422
    assert {c["check"] for c in refused.json["checks"]} == {"terminology"}
    fixed = client.post(
        url,
        json={"decision": "edit", "text": "You apply for citizen's benefit at the Jobcenter."},
        headers=translator,
    )
    assert fixed.status_code == 200, fixed.json
