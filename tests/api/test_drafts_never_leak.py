"""A draft's unique marker appears in no public response: lists, pages, lookup, similar, exports."""

from __future__ import annotations

import pytest

from memory.services.translation_memory import refresh_units
from tests.conftest import bearer
from tm_service.extensions import db

MARKER = "Zebrafinkentwurf"  # appears only in drafts


@pytest.fixture
def published_with_drafts(app, client, make_token):
    app.config["EMBEDDING_MODEL"] = "fake"
    token = bearer(make_token("cms", region="alpha"))
    beta = bearer(make_token("cms", region="beta"))
    base = "/api/v1/regions/{region}/pages/{page}/translations/{language}"
    public_de = {"title": "Anmeldung", "content": "<p>Melden Sie sich im Bürgerbüro an.</p>"}
    public_en = {"title": "Registration", "content": "<p>Register at the citizens' office.</p>"}
    for region, headers in (("alpha", token), ("beta", beta)):
        client.put(
            base.format(region=region, page="1", language="de"), json=public_de, headers=headers
        )
    client.put(base.format(region="alpha", page="1", language="en"), json=public_en, headers=token)
    drafts = [
        ("de", {"title": f"Anmeldung {MARKER}", "content": f"<p>Melden Sie sich {MARKER} an.</p>"}),
        ("en", {"title": f"Registration {MARKER}", "content": f"<p>Register {MARKER}.</p>"}),
    ]
    for language, body in drafts:
        response = client.put(
            base.format(region="alpha", page="1", language=language),
            json={**body, "status": "draft"},
            headers=token,
        )
        assert response.status_code == 201
    # A page that exists only as a draft.
    client.put(
        base.format(region="alpha", page="2", language="de"),
        json={"title": MARKER, "content": f"<p>{MARKER}</p>", "status": "draft"},
        headers=token,
    )
    with app.app_context():
        from memory.models import PageTranslation

        refresh_units(db.session, [t.id for t in db.session.query(PageTranslation).all()])
    return token


PUBLIC_GETS = [
    "/api/v1/regions",
    "/api/v1/regions/alpha/pages",
    "/api/v1/regions/alpha/pages?include_drafts=true",
    "/api/v1/regions/alpha/pages/1",
    "/api/v1/regions/alpha/pages/1/translations/de",
    "/api/v1/regions/alpha/pages/1/translations/en",
    "/api/v1/regions/alpha/pages/2",
    "/api/v1/tm/concordance?q=Melden&language=de",
    "/api/v1/tm/export?source_language=de&target_language=en",
    "/api/v1/tm/export?source_language=de&target_language=en&region=alpha",
    "/api/v1/regions/beta/pages/1/similar?language=de",
    "/api/v1/regions/alpha/overlap/beta",
    "/api/v1/regions/beta/overlap/alpha",
]


@pytest.mark.parametrize("url", PUBLIC_GETS)
def test_draft_marker_is_in_no_public_get(client, published_with_drafts, url):
    response = client.get(url)
    assert response.status_code in (200, 404), (url, response.status_code)
    assert MARKER not in response.get_data(as_text=True), url


def test_concordance_finds_no_draft_text(client, published_with_drafts):
    response = client.get(f"/api/v1/tm/concordance?q={MARKER}&language=de")
    assert response.status_code == 200
    assert response.json["items"] == []  # the query is echoed back; no stored text matches


@pytest.mark.parametrize(
    "text", [f"Melden Sie sich {MARKER} an.", "Melden Sie sich im Bürgerbüro an.", MARKER]
)
def test_draft_marker_is_in_no_lookup(client, published_with_drafts, text):
    response = client.post(
        "/api/v1/tm/lookup",
        json={"text": text, "source_language": "de", "target_language": "en", "min_score": 0},
    )
    assert response.status_code == 200
    # Matches are stored texts: none may carry the draft's marker.
    for match in response.json["matches"]:
        assert MARKER not in match["source_text"]
        assert MARKER not in match["text"]
        assert MARKER not in (match["origin"].get("url") or "")


def test_the_region_itself_sees_its_drafts(client, published_with_drafts):
    own = client.get(
        "/api/v1/regions/alpha/pages/1?include_drafts=true", headers=published_with_drafts
    )
    assert MARKER in own.get_data(as_text=True)


def test_draft_marker_is_in_no_suggestion(client, make_token, published_with_drafts):
    other = bearer(make_token("editor", region="beta"))
    free_text = client.post(
        "/api/v1/regions/beta/suggestions",
        json={
            "text": f"<p>Melden Sie sich {MARKER} an.</p>",
            "source_language": "de",
            "target_language": "en",
            "min_score": 0,
        },
        headers=other,
    )
    assert free_text.status_code == 200, free_text.json
    for segment in free_text.json["segments"]:
        for candidate in segment["candidates"]:
            assert MARKER not in candidate["text"]
            assert MARKER not in (candidate["match_source_text"] or "")
    # The region's own suggestions translate its public version, never the newer draft.
    own = client.post(
        "/api/v1/regions/alpha/suggestions",
        json={"page": "1", "target_language": "en"},
        headers=published_with_drafts,
    )
    assert own.status_code == 200, own.json
    assert MARKER not in own.get_data(as_text=True)
    draft_only = client.post(
        "/api/v1/regions/alpha/suggestions",
        json={"page": "2", "target_language": "en"},
        headers=published_with_drafts,
    )
    assert draft_only.status_code == 404
    assert MARKER not in draft_only.get_data(as_text=True)
