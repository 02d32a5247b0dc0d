"""The review queue's workflow services: a rejected text stays away, undo takes a decision back."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from memory.authorization import Actor
from memory.errors import Conflict
from memory.models import Role
from memory.review_models import Suggestion, SuggestionStatus
from memory.services import review_queue
from memory.services.regions import update_region
from memory.tm_models import TranslationUnit
from tests.conftest import bearer
from tm_service.extensions import db

ADMIN = Actor(role=Role.ADMIN, region_slug=None)
PASSPORT_DE = "<p>Bringen Sie Ihren Pass mit.</p>"
PASSPORT_EN = "<p>Bring your passport.</p>"


@pytest.fixture
def two_sources(app, client, make_token):
    """Beta and gamma both translated "Bringen Sie Ihren Pass mit." as "Bring your passport.";
    alpha has the German sentence on page a1."""
    with app.app_context():
        for slug in ("beta",):
            update_region(
                db.session,
                ADMIN,
                slug,
                {"languages": [{"code": "de"}, {"code": "en", "parent": "de"}]},
            )
    pushes = [
        ("beta", "b1", "de", "Pass", PASSPORT_DE),
        ("beta", "b1", "en", "Passport", PASSPORT_EN),
        ("beta", "b2", "de", "Unterlagen", "<p>Was Sie brauchen.</p>" + PASSPORT_DE),
        ("beta", "b2", "en", "Documents", "<p>What you need.</p>" + PASSPORT_EN),
        ("alpha", "a1", "de", "Ausweis", PASSPORT_DE),
    ]
    for region, page, language, title, body in pushes:
        response = client.put(
            f"/api/v1/regions/{region}/pages/{page}/translations/{language}",
            json={"title": title, "content": body},
            headers=bearer(make_token("cms", region)),
        )
        assert response.status_code == 201, response.json


def suggest(client, token):
    response = client.post(
        "/api/v1/regions/alpha/suggestions",
        json={"page": "a1", "target_language": "en", "machine_translation": False},
        headers=bearer(token),
    )
    assert response.status_code == 200, response.json
    return response.json


def passport_segment(body):
    return next(s for s in body["segments"] if "Pass" in s["source_text"] and s["part"] != "title")


def test_a_rejected_text_is_not_offered_again_for_that_segment_from_another_source(
    app, client, make_token, two_sources
):
    translator = make_token("translator")
    first = passport_segment(suggest(client, translator))
    texts = [c["text"] for c in first["candidates"]]
    assert texts.count("Bring your passport.") >= 1
    assert "Bring your passport." in first_draft(suggest(client, translator))

    rejected = client.post(
        f"/api/v1/suggestions/{first['suggestion_id']}/review",
        json={"decision": "reject", "candidate": 0},
        headers=bearer(translator),
    )
    assert rejected.status_code == 200, rejected.json

    again = suggest(client, translator)
    segment = passport_segment(again)
    assert "Bring your passport." not in [c["text"] for c in segment["candidates"]]
    assert "Bring your passport." not in first_draft(again)

    with app.app_context():
        demoted = db.session.scalars(
            select(TranslationUnit.id).where(TranslationUnit.rejections > 0)
        ).all()
        assert len(demoted) == 1
        review_queue.undo_decision(db.session, ADMIN, first["suggestion_id"])
        assert db.session.get(TranslationUnit, demoted[0]).rejections == 0  # taken back
    restored = passport_segment(suggest(client, translator))
    assert "Bring your passport." in [c["text"] for c in restored["candidates"]]


def first_draft(body) -> str:
    return body["draft"]["content"]


def test_undo_needs_a_decision_and_a_reviewer_of_the_region(app, client, make_token, two_sources):
    translator = make_token("translator")
    segment = passport_segment(suggest(client, translator))

    with app.app_context():
        with pytest.raises(Conflict):
            review_queue.undo_decision(db.session, ADMIN, segment["suggestion_id"])
    accepted = client.post(
        f"/api/v1/suggestions/{segment['suggestion_id']}/review",
        json={"decision": "accept"},
        headers=bearer(translator),
    )
    assert accepted.status_code == 200, accepted.json
    with app.app_context():
        other = Actor(role=Role.TRANSLATOR, region_slug="beta")
        with pytest.raises(Exception) as refused:
            review_queue.undo_decision(db.session, other, segment["suggestion_id"])
        assert refused.value.status == 404  # another region's suggestion is unknown to it
        undone = review_queue.undo_decision(db.session, ADMIN, segment["suggestion_id"])
        assert undone.status is SuggestionStatus.PENDING
        stored = db.session.scalars(
            select(Suggestion).where(Suggestion.id == segment["suggestion_id"])
        ).one()
        assert [r.undone_at is not None for r in stored.reviews] == [True]


def test_the_api_lists_the_batch_then_accepts_it_and_undoes_one_decision(
    app, client, make_token, two_sources
):
    translator = make_token("translator")
    suggest(client, translator)
    url = "/api/v1/regions/alpha/suggestions/batch-accept"

    listed = client.post(url, json={"target_language": "en"}, headers=bearer(translator))

    assert listed.status_code == 200, listed.json
    assert listed.json["decided"] is False
    ids = [item["id"] for item in listed.json["items"]]
    assert listed.json["count"] == len(ids) >= 1
    sources = [item["source_text"] for item in listed.json["items"]]
    assert "Bringen Sie Ihren Pass mit." in sources
    with app.app_context():
        pending = db.session.scalars(select(Suggestion.status).where(Suggestion.id.in_(ids))).all()
        assert set(pending) == {SuggestionStatus.PENDING}  # a listing decides nothing

    accepted = client.post(
        url, json={"target_language": "en", "suggestion_ids": ids}, headers=bearer(translator)
    )

    assert accepted.status_code == 200, accepted.json
    assert (accepted.json["decided"], accepted.json["count"]) == (True, len(ids))
    assert {item["status"] for item in accepted.json["items"]} == {"accepted"}
    again = client.post(
        url, json={"target_language": "en", "suggestion_ids": ids}, headers=bearer(translator)
    )
    assert again.json["count"] == 0  # decided ones no longer qualify

    undone = client.post(f"/api/v1/suggestions/{ids[0]}/undo", headers=bearer(translator))

    assert undone.status_code == 200, undone.json
    assert undone.json["status"] == "pending"
    assert (
        client.post(f"/api/v1/suggestions/{ids[0]}/undo", headers=bearer(translator)).status_code
        == 409
    )
