"""Suggestions, pre-translated drafts, DeepL as the last resort, and translators' reviews."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from memory.authorization import Actor
from memory.models import Region, Role, utcnow
from memory.review_models import SuggestionReview
from memory.services.regions import update_region
from memory.services.suggestions import suggest_translations
from memory.services.translation_memory import TranslationMemoryIndex
from memory.tm_models import TranslationUnit
from tests.conftest import bearer
from tests.deepl_standin import deepl_standin  # noqa: F401 — fixture
from tm_service.extensions import db

ADMIN = Actor(role=Role.ADMIN, region_slug=None)

BETA_DE = (
    "<p>Die Beratung ist kostenlos. Termin unter: <b>0821 3102-0</b>.</p>"
    "<p>Bringen Sie Ihren Pass mit.</p>"
)
BETA_EN = (
    "<p>The counselling is free of charge. Appointments at: <b>0821 3102-0</b>.</p>"
    "<p>Bring your passport.</p>"
)
# Alpha wrote nearly the same page: its own phone number, one sentence of its own.
ALPHA_DE = (
    "<p>Die Beratung ist kostenlos. Termin unter: <b>07151 501-0</b>.</p>"
    "<p>Bringen Sie Ihren Pass mit.</p>"
    "<p>Parkplätze gibt es hinter dem Rathaus am Marktplatz.</p>"
)


@pytest.fixture
def shared_pages(app, client, make_token):
    """Beta translated its page into English; alpha has the German near-copy."""
    with app.app_context():
        update_region(
            db.session,
            ADMIN,
            "beta",
            {"languages": [{"code": "de"}, {"code": "en", "parent": "de"}]},
        )
        db.session.commit()
    beta = make_token("cms", "beta")
    for language, body in (("de", BETA_DE), ("en", BETA_EN)):
        response = client.put(
            f"/api/v1/regions/beta/pages/b1/translations/{language}",
            json={"title": "Beratung" if language == "de" else "Counselling", "content": body},
            headers=bearer(beta),
        )
        assert response.status_code == 201, response.json
    response = client.put(
        "/api/v1/regions/alpha/pages/a1/translations/de",
        json={"title": "Beratung", "content": ALPHA_DE},
        headers=bearer(make_token("cms", "alpha")),
    )
    assert response.status_code == 201, response.json


def suggest(client, token, **body):
    body.setdefault("target_language", "en")
    return client.post("/api/v1/regions/alpha/suggestions", json=body, headers=bearer(token))


def segment(result, text_start):
    return next(s for s in result["segments"] if s["source_text"].startswith(text_start))


# --- suggestions ----------------------------------------------------------------


def test_page_suggestions_reuse_other_regions_translation_with_local_numbers(
    client, make_token, shared_pages
):
    response = suggest(client, make_token("editor"), page="a1")
    assert response.status_code == 200, response.json
    result = response.json
    assert result["source_language"] == "de"
    phone = segment(result, "Termin unter")["candidates"]
    assert phone[0]["kind"] in ("context", "exact", "fuzzy")
    assert "07151 501-0" in phone[0]["text"]  # alpha's number, not beta's
    assert "0821 3102-0" not in phone[0]["text"]
    assert phone[0]["origin"]["region"] == "beta"
    assert phone[0]["origin"]["license"] == "CC BY 4.0"
    assert "other_region" in [p["code"] for p in phone[0]["penalties"]]
    passport = segment(result, "Bringen Sie")["candidates"][0]
    assert passport["text"] == "Bring your passport."
    # Beta's published human translation is approved: only "other region" and "other context"
    # are taken off the ranking score.
    assert passport["score"] == 100 - 1 - 1
    # Alpha's own sentence has no match; without DeepL it stays untranslated in the draft.
    assert segment(result, "Parkplätze")["candidates"] == []
    assert result["machine_translation"]["status"] == "not_configured"


def test_identical_source_from_a_published_human_translation_is_a_100_match(
    client, make_token, shared_pages
):
    passport = segment(suggest(client, make_token("editor"), page="a1").json, "Bringen Sie")
    best = passport["candidates"][0]
    # Beta published it: approved content; its other region and context are trust and ranking,
    # never a lower match.
    assert best["match"] == 100 and best["kind"] == "exact"
    assert best["trust"]["status"] == "approved"
    assert best["trust"]["other_region"] is True
    assert [p["code"] for p in best["trust"]["penalties"]] == ["other_region"]
    assert best["trust"]["score"] == 99
    assert best["score"] == 98  # −1 other region, −1 other context


def test_the_pages_own_translation_is_its_current_text_and_borrowed_ones_name_their_page(
    client, make_token, shared_pages
):
    beta = make_token("cms", "beta")
    for language, title, body in (
        ("de", "Sprechzeiten", "<p>Das Amt ist montags geschlossen.</p>"),
        ("en", "Opening hours", "<p>The office is closed on Mondays.</p>"),
    ):
        response = client.put(
            f"/api/v1/regions/beta/pages/b2/translations/{language}",
            json={"title": title, "content": body, "url": f"https://beta.example/{language}/b2"},
            headers=bearer(beta),
        )
        assert response.status_code == 201, response.json
    alpha = make_token("cms", "alpha")
    for language, title, body in (
        ("de", "Beratung", ALPHA_DE + "<p>Das Amt ist montags geschlossen.</p>"),
        (
            "en",
            "Counselling",
            "<p>Counselling costs nothing. Book at: <b>07151 501-0</b>.</p>"
            "<p>Please bring your passport.</p>"
            "<p>You can park behind the town hall on the market square.</p>"
            "<p>Our office is shut on Mondays.</p>",
        ),
    ):
        response = client.put(
            f"/api/v1/regions/alpha/pages/a1/translations/{language}",
            json={"title": title, "content": body},
            headers=bearer(alpha),
        )
        assert response.status_code in (200, 201), response.json
    result = suggest(client, make_token("editor"), page="a1").json
    closed = segment(result, "Das Amt")
    # Alpha's own English of this sentence is shown as the current translation, not offered.
    assert closed["current_translation"]["text"] == "Our office is shut on Mondays."
    assert closed["current_translation"]["origin"]["relation"] == "own"
    texts = [c["text"] for c in closed["candidates"]]
    assert "Our office is shut on Mondays." not in texts
    borrowed = closed["candidates"][0]
    assert borrowed["text"] == "The office is closed on Mondays."
    assert borrowed["match"] == 100
    assert borrowed["origin"]["relation"] == "other_region"
    assert borrowed["origin"]["region"] == "beta"
    assert borrowed["origin"]["region_name"]
    assert borrowed["origin"]["page"] == "b2"
    assert borrowed["origin"]["page_title"] == "Opening hours"
    assert borrowed["origin"]["url"] == "https://beta.example/en/b2"
    # Nor does the draft pick the page's own text back.
    assert "Our office is shut" not in result["draft"]["content"]
    assert "The office is closed on Mondays." in result["draft"]["content"]


def test_draft_rebuilds_the_page_html_and_credits_the_region_it_reuses(
    client, make_token, shared_pages
):
    result = suggest(client, make_token("editor"), page="a1").json
    draft = result["draft"]
    assert draft["title"] == "Counselling"
    assert "<b>07151 501-0</b>" in draft["content"]
    assert "<p>Bring your passport.</p>" in draft["content"]
    assert "Parkplätze gibt es hinter dem Rathaus" in draft["content"]  # kept for the translator
    credits = {c.get("region"): c for c in draft["attribution"]}
    assert credits["beta"]["license"] == "CC BY 4.0"
    assert credits["beta"]["segments"] == 4  # title and three sentences
    coverage = draft["coverage"]
    assert coverage["words"] == sum(
        coverage[k]
        for k in ("translation_memory", "near_duplicate", "machine_translation", "untranslated")
    )
    assert coverage["untranslated"] == 8  # "Parkplätze gibt es hinter dem Rathaus am Marktplatz."


def test_free_text_suggestions_are_not_queued_unless_asked(client, make_token, shared_pages):
    token = make_token("editor")
    response = suggest(client, token, text="Bringen Sie Ihren Pass mit.", source_language="de")
    assert response.status_code == 200, response.json
    only = response.json["segments"][0]
    assert only["candidates"][0]["text"] == "Bring your passport."
    assert only["suggestion_id"] is None
    queue = client.get("/api/v1/regions/alpha/suggestions", headers=bearer(token)).json
    assert queue["total"] == 0


def test_asking_twice_refreshes_the_queue_instead_of_duplicating_it(
    client, make_token, shared_pages
):
    token = make_token("editor")
    first = suggest(client, token, page="a1").json
    second = suggest(client, token, page="a1").json
    ids = [s["suggestion_id"] for s in first["segments"]]
    assert ids == [s["suggestion_id"] for s in second["segments"]]
    queue = client.get(
        "/api/v1/regions/alpha/suggestions?target_language=en", headers=bearer(token)
    ).json
    assert queue["total"] == len(ids) == 5  # title + four sentences


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"page": "a1", "text": "Hallo"}, "page"),
        ({}, "page"),
        ({"text": "Hallo"}, "source_language"),
        ({"page": "a1", "target_language": "de"}, "target_language"),
        ({"page": "a1", "limit": 0}, "limit"),
    ],
)
def test_bad_requests_name_the_field(client, make_token, shared_pages, body, field):
    response = suggest(client, make_token("editor"), **body)
    assert response.status_code == 422, response.json
    assert response.headers["Content-Type"] == "application/problem+json"
    assert field in response.json["errors"]


def test_unknown_page_is_404_and_no_token_is_401(client, make_token, shared_pages):
    unknown = suggest(client, make_token("editor"), page="nope")
    assert unknown.status_code == 404
    assert "page" in unknown.json["errors"]
    anonymous = client.post(
        "/api/v1/regions/alpha/suggestions", json={"page": "a1", "target_language": "en"}
    )
    assert anonymous.status_code == 401
    other = suggest(client, make_token("editor", "beta"), page="a1")
    assert other.status_code == 403


# --- machine translation ------------------------------------------------------------


@pytest.fixture
def with_deepl(app, deepl_standin):  # noqa: F811
    app.config["DEEPL_API_KEY"] = deepl_standin.api_key
    app.config["DEEPL_SERVER_URL"] = deepl_standin.url
    app.config["DEEPL_TIMEOUT"] = 2
    return deepl_standin


def words_used(app, slug="alpha"):
    with app.app_context():
        return db.session.scalar(select(Region.mt_words_used).where(Region.slug == slug))


def test_deepl_translates_only_segments_without_a_memory_match_and_charges_the_budget(
    app, client, make_token, shared_pages, with_deepl, caplog
):
    caplog.set_level(logging.DEBUG)
    response = suggest(client, make_token("editor"), page="a1")
    assert response.status_code == 200, response.json
    result = response.json
    mt = result["machine_translation"]
    assert mt["status"] == "used"
    assert mt["words_charged"] == 8
    assert words_used(app) == 8
    parking = segment(result, "Parkplätze")["candidates"]
    assert [c["source"] for c in parking] == ["machine_translation"]
    assert parking[0]["score"] is None
    assert parking[0]["text"].startswith("[EN-GB] ")
    # No match to speak of; its trust says a machine made it; its quality checks ran too.
    assert parking[0]["match"] is None
    assert parking[0]["trust"]["status"] == "machine" and parking[0]["trust"]["score"] == 90
    assert parking[0]["checks"] == []
    assert "[EN-GB] Parkplätze" in result["draft"]["content"]
    assert any(c.get("kind") == "machine_translation" for c in result["draft"]["attribution"])
    # One request, one text: the memory answered everything else.
    translate_calls = [r for r in with_deepl.requests if r.path == "/v2/translate"]
    assert len(translate_calls) == 1
    assert with_deepl.api_key not in response.get_data(as_text=True)
    assert with_deepl.api_key not in caplog.text


def test_asking_again_reuses_the_earlier_machine_translation_without_paying_twice(
    app, client, make_token, shared_pages, with_deepl
):
    token = make_token("editor")
    suggest(client, token, page="a1")
    again = suggest(client, token, page="a1").json
    assert again["machine_translation"]["words_charged"] == 0
    assert again["machine_translation"]["words_reused"] == 8
    assert words_used(app) == 8
    assert len([r for r in with_deepl.requests if r.path == "/v2/translate"]) == 1


@pytest.mark.parametrize(
    ("status", "expected"), [(456, "quota_exceeded"), (429, "unavailable"), (503, "unavailable")]
)
def test_deepl_failure_gives_memory_suggestions_without_mt_and_charges_nothing(
    app, client, make_token, shared_pages, with_deepl, status, expected
):
    with_deepl.fail_with(status)
    response = suggest(client, make_token("editor"), page="a1")
    assert response.status_code == 200, response.json
    result = response.json
    assert result["machine_translation"]["status"] == expected
    assert segment(result, "Bringen Sie")["candidates"][0]["text"] == "Bring your passport."
    assert segment(result, "Parkplätze")["candidates"] == []
    assert words_used(app) == 0


def test_a_region_over_its_word_budget_gets_no_machine_translation(
    app, client, make_token, shared_pages, with_deepl
):
    with app.app_context():
        update_region(db.session, ADMIN, "alpha", {"mt_word_budget": 5})
        db.session.commit()
    result = suggest(client, make_token("editor"), page="a1").json
    assert result["machine_translation"]["status"] == "budget_exceeded"
    assert not [r for r in with_deepl.requests if r.path == "/v2/translate"]
    assert words_used(app) == 0


def test_machine_translation_can_be_switched_off_per_request(
    client, make_token, shared_pages, with_deepl
):
    result = suggest(client, make_token("editor"), page="a1", machine_translation=False).json
    assert result["machine_translation"]["status"] == "off"
    assert not with_deepl.requests


# --- review -------------------------------------------------------------------------


def review(client, token, suggestion_id, **body):
    return client.post(
        f"/api/v1/suggestions/{suggestion_id}/review", json=body, headers=bearer(token)
    )


def test_accepted_suggestion_becomes_a_reviewed_unit_that_ranks_first(
    app, client, make_token, shared_pages
):
    result = suggest(client, make_token("editor"), page="a1").json
    passport = segment(result, "Bringen Sie")
    translator = make_token("translator")
    response = review(client, translator, passport["suggestion_id"], decision="accept")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "accepted"
    assert response.json["final_text"] == "Bring your passport."
    [record] = response.json["reviews"]
    assert record["decision"] == "accept"
    assert record["actor_role"] == "translator"
    assert record["after_text"] == "Bring your passport."

    again = client.post(
        "/api/v1/tm/lookup",
        json={
            "text": "Bringen Sie Ihren Pass mit.",
            "source_language": "de",
            "target_language": "en",
            "region": "alpha",
        },
    ).json["matches"]
    assert again[0]["score"] == 100
    assert again[0]["origin"]["reviewed"] is True
    assert again[0]["origin"]["region"] == "alpha"
    # Beta's text travels with beta's attribution.
    assert again[0]["origin"]["origin"] == "reused"


NUREMBERG_DE = "<p>Rufen Sie uns an: 0911 231-0.</p><p>Bringen Sie Ihren Pass mit.</p>"


def nuremberg_queue(client, make_token) -> dict:
    """Alpha's page with the city's phone number, its suggestions queued."""
    response = client.put(
        "/api/v1/regions/alpha/pages/n1/translations/de",
        json={"title": "Kontakt", "content": NUREMBERG_DE},
        headers=bearer(make_token("cms", "alpha")),
    )
    assert response.status_code == 201, response.json
    return suggest(client, make_token("editor"), page="n1").json


def test_an_edit_that_drops_the_phone_number_is_refused_until_the_translator_confirms(
    app, client, make_token, shared_pages
):
    call = segment(nuremberg_queue(client, make_token), "Rufen Sie")
    translator = make_token("translator")
    refused = review(client, translator, call["suggestion_id"], decision="edit", text="Call us.")
    assert refused.status_code == 422, refused.json
    assert refused.json["type"].endswith("/qa-checks-failed")
    assert [(c["check"], c["code"], c["value"]) for c in refused.json["checks"]] == [
        ("phone", "phone_missing", "0911 231-0")
    ]
    assert "confirm_checks" in refused.json["errors"]
    # Nothing was stored: still pending, no audit row, no unit.
    stored = client.get(f"/api/v1/suggestions/{call['suggestion_id']}", headers=bearer(translator))
    assert stored.json["status"] == "pending" and stored.json["reviews"] == []
    with app.app_context():
        assert (
            db.session.scalar(
                select(TranslationUnit).where(TranslationUnit.target_text == "Call us.")
            )
            is None
        )

    confirmed = review(
        client,
        translator,
        call["suggestion_id"],
        decision="edit",
        text="Call us.",
        confirm_checks=True,
    )
    assert confirmed.status_code == 200, confirmed.json
    [record] = confirmed.json["reviews"]
    assert record["checks_confirmed"] is True
    assert [c["code"] for c in record["qa_checks"]] == ["phone_missing"]


def test_an_edit_that_keeps_the_phone_number_passes_without_confirmation(
    app, client, make_token, shared_pages
):
    call = segment(nuremberg_queue(client, make_token), "Rufen Sie")
    response = review(
        client,
        make_token("translator"),
        call["suggestion_id"],
        decision="edit",
        text="Call us on 0911 231-0.",
    )
    assert response.status_code == 200, response.json
    [record] = response.json["reviews"]
    assert record["qa_checks"] == [] and record["checks_confirmed"] is False


def test_candidates_carry_their_checks_and_a_failing_accept_needs_confirmation(
    app, client, make_token, shared_pages
):
    # Beta's own sentence, translated without its number: accepting it would drop alpha's.
    beta = make_token("cms", "beta")
    for language, body in (
        ("de", "<p>Die Ausländerbehörde erreichen Sie unter 0911 231-0.</p>"),
        ("en", "<p>You can reach the immigration office by phone.</p>"),
    ):
        response = client.put(
            f"/api/v1/regions/beta/pages/b9/translations/{language}",
            json={"title": "Behörde" if language == "de" else "Office", "content": body},
            headers=bearer(beta),
        )
        assert response.status_code == 201, response.json
    response = client.put(
        "/api/v1/regions/alpha/pages/n2/translations/de",
        json={
            "title": "Behörde",
            "content": "<p>Die Ausländerbehörde erreichen Sie unter 0911 231-0.</p>",
        },
        headers=bearer(make_token("cms", "alpha")),
    )
    assert response.status_code == 201, response.json
    office = segment(suggest(client, make_token("editor"), page="n2").json, "Die Ausländer")
    best = office["candidates"][0]
    assert best["text"] == "You can reach the immigration office by phone."
    assert [c["code"] for c in best["checks"]] == ["phone_missing"]
    translator = make_token("translator")
    refused = review(client, translator, office["suggestion_id"], decision="accept")
    assert refused.status_code == 422
    accepted = review(
        client, translator, office["suggestion_id"], decision="accept", confirm_checks=True
    )
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["reviews"][0]["checks_confirmed"] is True


def test_edit_is_audited_with_before_and_after(app, client, make_token, shared_pages):
    result = suggest(client, make_token("editor"), page="a1").json
    phone = segment(result, "Termin unter")
    response = review(
        client,
        make_token("translator"),
        phone["suggestion_id"],
        decision="edit",
        candidate=0,
        text="Book an appointment: 07151 501-0.",
    )
    assert response.status_code == 200, response.json
    [record] = response.json["reviews"]
    assert record["decision"] == "edit"
    assert "07151 501-0" in record["before_text"]
    assert record["after_text"] == "Book an appointment: 07151 501-0."
    with app.app_context():
        unit = db.session.scalars(
            select(TranslationUnit).where(TranslationUnit.import_batch == "review")
        ).one()
        assert unit.reviewed and unit.origin.value == "human"
        assert unit.target_text == "Book an appointment: 07151 501-0."


def test_rejected_unit_is_demoted_in_later_lookups(app, client, make_token, shared_pages):
    result = suggest(client, make_token("editor"), page="a1").json
    passport = segment(result, "Bringen Sie")
    response = review(
        client, make_token("translator"), passport["suggestion_id"], decision="reject"
    )
    assert response.status_code == 200, response.json
    assert response.json["status"] == "rejected"
    match = client.post(
        "/api/v1/tm/lookup",
        json={
            "text": "Bringen Sie Ihren Pass mit.",
            "source_language": "de",
            "target_language": "en",
            "region": "alpha",
        },
    ).json["matches"][0]
    assert {"code": "rejected", "amount": 4.0} in [
        {"code": p["code"], "amount": p["amount"]} for p in match["penalties"]
    ]
    assert match["score"] == 100 - 1 - 4  # other region, rejected once


def test_a_suggestion_is_decided_once(client, make_token, shared_pages):
    result = suggest(client, make_token("editor"), page="a1").json
    suggestion_id = segment(result, "Bringen Sie")["suggestion_id"]
    translator = make_token("translator")
    assert review(client, translator, suggestion_id, decision="accept").status_code == 200
    second = review(client, translator, suggestion_id, decision="reject")
    assert second.status_code == 409
    assert second.headers["Content-Type"] == "application/problem+json"


def test_only_the_regions_translators_editors_and_admins_review(
    app, client, make_token, shared_pages
):
    result = suggest(client, make_token("editor"), page="a1").json
    suggestion_id = segment(result, "Bringen Sie")["suggestion_id"]
    assert review(client, make_token("cms"), suggestion_id, decision="accept").status_code == 403
    # Another region's suggestion is answered like a missing one (ids cannot be probed).
    assert (
        review(
            client, make_token("translator", "beta"), suggestion_id, decision="accept"
        ).status_code
        == 404
    )
    anonymous = client.post(
        f"/api/v1/suggestions/{suggestion_id}/review", json={"decision": "accept"}
    )
    assert anonymous.status_code == 401
    with app.app_context():
        assert db.session.scalars(select(SuggestionReview)).all() == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"decision": "maybe"}, "decision"),
        ({"decision": "edit"}, "text"),
        ({"decision": "accept", "candidate": 7}, "candidate"),
    ],
)
def test_bad_reviews_name_the_field_and_change_nothing(
    client, make_token, shared_pages, body, field
):
    result = suggest(client, make_token("editor"), page="a1").json
    suggestion_id = segment(result, "Bringen Sie")["suggestion_id"]
    response = review(client, make_token("translator"), suggestion_id, **body)
    assert response.status_code == 422, response.json
    assert field in response.json["errors"]
    stored = client.get(
        f"/api/v1/suggestions/{suggestion_id}", headers=bearer(make_token("translator"))
    ).json
    assert stored["status"] == "pending"
    assert stored["reviews"] == []


def test_unknown_suggestion_is_404(client, make_token):
    assert review(client, make_token("translator"), 999, decision="accept").status_code == 404


def test_last_years_machine_translation_does_not_count_against_this_years_budget(
    app, client, make_token, shared_pages, with_deepl
):
    with app.app_context():
        region = db.session.scalar(select(Region).where(Region.slug == "alpha"))
        region.mt_word_budget, region.mt_words_used = 50_000, 49_999
        region.mt_usage_year = utcnow().year - 1
        db.session.commit()
    result = suggest(client, make_token("editor"), page="a1").json
    assert result["machine_translation"]["status"] == "used"
    assert result["machine_translation"]["used"] == 8
    shown = client.get("/api/v1/regions/alpha").json
    assert shown["mt_words_used"] == 8
    with app.app_context():
        region = db.session.scalar(select(Region).where(Region.slug == "alpha"))
        assert (region.mt_usage_year, region.mt_words_used) == (utcnow().year, 8)


def test_a_flawed_exact_match_does_not_hide_a_better_fuzzy_one(app, client, make_token):
    with app.app_context():
        update_region(
            db.session,
            ADMIN,
            "beta",
            {"languages": [{"code": "de"}, {"code": "en", "parent": "de"}]},
        )
        db.session.commit()
    beta = bearer(make_token("cms", "beta"))
    pages = {
        # Machine-translated, never reviewed: the exact match scores 100 − 10 − 1 − 1.
        "mt": (
            "<p>Die Ausländerbehörde hat montags geöffnet.</p>",
            "<p>The foreigners authority has opened Mondays.</p>",
            "machine",
        ),
        # A person translated nearly the same sentence.
        "human": (
            "<p>Die Ausländerbehörde hat dienstags geöffnet.</p>",
            "<p>The immigration office is open on Tuesdays.</p>",
            "human",
        ),
    }
    for page, (german, english, origin) in pages.items():
        for language, content in (("de", german), ("en", english)):
            response = client.put(
                f"/api/v1/regions/beta/pages/{page}/translations/{language}",
                json={"title": "Amt", "content": content, "origin": origin},
                headers=beta,
            )
            assert response.status_code == 201, response.json
    client.put(
        "/api/v1/regions/alpha/pages/a9/translations/de",
        json={"title": "Amt", "content": "<p>Die Ausländerbehörde hat montags geöffnet.</p>"},
        headers=bearer(make_token("cms", "alpha")),
    )
    # The memory alone (no near-duplicate pages): the fuzzy index must still be asked.
    with app.app_context():
        result = suggest_translations(
            db.session,
            TranslationMemoryIndex(),
            Actor(role=Role.EDITOR, region_slug="alpha"),
            "alpha",
            page="a9",
            target_language="en",
            queue=False,
        )
        [sentence] = [s for s in result.segments if s.part == "content"]
        candidates = sentence.candidates
    assert [c.kind for c in candidates[:2]] == ["fuzzy", "exact"]
    assert candidates[0].text == "The immigration office is open on Tuesdays."  # to edit
    assert candidates[1].score < candidates[0].score


def test_pending_counts_per_language_follow_the_queue(app, client, make_token, shared_pages):
    from memory.services.suggestions import pending_counts

    result = suggest(client, make_token("editor"), page="a1").json
    actor = Actor(role=Role.TRANSLATOR, region_slug="alpha")
    with app.app_context():
        assert pending_counts(db.session, actor, "alpha") == {"en": 5}
    first = result["segments"][0]["suggestion_id"]
    assert review(client, make_token("translator"), first, decision="reject").status_code == 200
    with app.app_context():
        assert pending_counts(db.session, actor, "alpha") == {"en": 4}
