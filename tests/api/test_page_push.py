"""The CMS push: idempotent, versioned, conflict-checked, region-scoped."""

from __future__ import annotations

import pytest

from tests.conftest import bearer

URL = "/api/v1/regions/alpha/pages/100/translations/{language}"
PAGE = {"title": "Anmeldung", "content": "<p>Melden Sie Ihren Wohnsitz an.</p>"}


def push(client, token, language="de", body=None, headers=None):
    return client.put(
        URL.format(language=language),
        json=body or PAGE,
        headers={**bearer(token), **(headers or {})},
    )


def test_pushing_the_same_content_twice_stores_one_version(client, make_token):
    token = make_token("cms")
    first = push(client, token)
    second = push(client, token)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json["version"] == 1
    assert first.headers["ETag"] == second.headers["ETag"]
    page = client.get("/api/v1/regions/alpha/pages/100").json
    assert [v["version"] for v in page["versions"]] == [1]


def test_new_content_becomes_the_next_version_and_history_is_kept(client, make_token):
    token = make_token("cms")
    push(client, token)
    changed = push(client, token, body={**PAGE, "content": "<p>Bitte melden Sie sich an.</p>"})
    assert changed.status_code == 201
    assert changed.json["version"] == 2
    page = client.get("/api/v1/regions/alpha/pages/100").json
    assert [v["version"] for v in page["versions"]] == [1, 2]
    assert page["translations"][0]["content"] == "<p>Bitte melden Sie sich an.</p>"


def test_whitespace_only_resave_is_not_a_new_version(client, make_token):
    token = make_token("cms")
    push(client, token)
    resaved = push(
        client, token, body={**PAGE, "content": "<p>Melden Sie  Ihren Wohnsitz an.</p>\n"}
    )
    assert resaved.status_code == 200
    assert resaved.json["version"] == 1


def test_stale_write_with_old_etag_is_refused_with_412(client, make_token):
    token = make_token("cms")
    etag_v1 = push(client, token).headers["ETag"]
    ok = push(client, token, body={**PAGE, "title": "Anmeldung 2"}, headers={"If-Match": etag_v1})
    assert ok.status_code == 201
    stale = push(
        client, token, body={**PAGE, "title": "Anmeldung 3"}, headers={"If-Match": etag_v1}
    )
    assert stale.status_code == 412
    assert stale.headers["Content-Type"] == "application/problem+json"
    current = client.get(URL.format(language="de")).json
    assert current["title"] == "Anmeldung 2"
    assert current["version"] == 2


def test_matching_etag_from_a_read_allows_the_write(client, make_token):
    token = make_token("cms")
    push(client, token)
    etag = client.get(URL.format(language="de")).headers["ETag"]
    assert (
        push(client, token, body={**PAGE, "title": "Neu"}, headers={"If-Match": etag}).status_code
        == 201
    )


@pytest.mark.parametrize("role", ["cms", "editor", "admin"])
def test_token_of_region_beta_cannot_write_region_alpha(client, make_token, role):
    token = make_token(role, region="beta")
    response = push(client, token)
    assert response.status_code == 403
    assert client.get("/api/v1/regions/alpha/pages/100").status_code == 404


def test_translator_token_cannot_push_pages(client, make_token):
    assert push(client, make_token("translator")).status_code == 403


def test_anonymous_write_needs_a_token(client):
    response = client.put(URL.format(language="de"), json=PAGE)
    assert response.status_code == 401
    assert response.json["status"] == 401


def test_revoked_and_expired_tokens_are_refused(app, client, make_token, runner):
    token = make_token("cms")
    prefix = token.split("_")[1]
    assert runner.invoke(args=["tm", "token", "revoke", prefix]).exit_code == 0
    assert push(client, token).status_code == 401

    from datetime import timedelta

    from memory.models import ApiToken, utcnow
    from tm_service.extensions import db

    expiring = make_token("cms", expires_in_days=1)
    with app.app_context():
        row = db.session.query(ApiToken).filter_by(prefix=expiring.split("_")[1]).one()
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    assert push(client, expiring).status_code == 401


def test_token_secret_is_stored_hashed(app, make_token):
    from memory.models import ApiToken
    from tm_service.extensions import db

    token = make_token("cms")
    with app.app_context():
        stored = db.session.query(ApiToken).one()
        assert token.split("_", 2)[2] not in (stored.secret_hash, stored.prefix)
        assert len(stored.secret_hash) == 64


def test_a_secret_holding_underscores_still_authenticates(client, make_token, monkeypatch):
    # URL-safe base64 uses "_": one secret in 64 starts with it. The service splits the
    # token at its first two underscores only.
    from memory.services import tokens

    monkeypatch.setattr(tokens.secrets, "token_urlsafe", lambda _n: "_a_b__c_")
    token = make_token("cms")
    assert token.endswith("__a_b__c_")
    assert push(client, token).status_code == 201
    assert push(client, token[:-1]).status_code == 401


def test_draft_is_never_public(client, make_token):
    token = make_token("cms")
    push(client, token, body={**PAGE, "title": "Öffentlich"})
    push(
        client,
        token,
        body={"title": "Entwurf DRAFTMARKER", "content": "<p>geheim</p>", "status": "draft"},
    )
    push(
        client, token, language="en", body={"title": "Only a draft DRAFTMARKER", "status": "draft"}
    )

    for url in (
        "/api/v1/regions/alpha/pages",
        "/api/v1/regions/alpha/pages/100",
        "/api/v1/regions/alpha/pages/100?include_drafts=true",
        URL.format(language="de"),
    ):
        response = client.get(url)
        assert response.status_code == 200
        assert "DRAFTMARKER" not in response.get_data(as_text=True), url
    assert client.get(URL.format(language="en")).status_code == 404

    own = client.get("/api/v1/regions/alpha/pages/100?include_drafts=true", headers=bearer(token))
    assert "DRAFTMARKER" in own.get_data(as_text=True)
    other = client.get(
        "/api/v1/regions/alpha/pages/100?include_drafts=true",
        headers=bearer(make_token("cms", "beta")),
    )
    assert "DRAFTMARKER" not in other.get_data(as_text=True)


def test_page_with_only_drafts_is_not_found_publicly(client, make_token):
    push(client, make_token("cms"), body={"title": "Nur Entwurf", "status": "draft"})
    assert client.get("/api/v1/regions/alpha/pages/100").status_code == 404
    assert client.get("/api/v1/regions/alpha/pages").json["total"] == 0


def test_every_public_response_carries_licence_and_attribution(client, make_token):
    push(client, make_token("cms"))
    for url in (
        "/api/v1/regions/alpha/pages",
        "/api/v1/regions/alpha/pages/100",
        URL.format(language="de"),
    ):
        licence = client.get(url).json["license"]
        assert licence["name"] == "CC BY 4.0"
        assert licence["attribution"]
        assert licence["url"].startswith("https://creativecommons.org/")


def test_translation_becomes_outdated_when_its_source_text_changes(client, make_token):
    token = make_token("cms")
    push(client, token)
    push(
        client, token, language="en", body={"title": "Registration", "content": "<p>Register.</p>"}
    )
    assert client.get(URL.format(language="en")).json["outdated"] is False

    # A move (new parent) and a re-save with the same text do not make it outdated.
    client.put(
        "/api/v1/regions/alpha/pages/1/translations/de",
        json={"title": "Eltern"},
        headers=bearer(token),
    )
    push(client, token, body={**PAGE, "parent": "1", "content": PAGE["content"] + " "})
    assert client.get(URL.format(language="en")).json["outdated"] is False

    push(client, token, body={**PAGE, "content": "<p>Neue Regeln für die Anmeldung.</p>"})
    english = client.get(URL.format(language="en")).json
    assert english["outdated"] is True
    assert english["source_language"] == "de"

    # Translating again from the new source clears it.
    push(
        client, token, language="en", body={"title": "Registration", "content": "<p>New rules.</p>"}
    )
    assert client.get(URL.format(language="en")).json["outdated"] is False


def test_arabic_is_outdated_against_english_by_the_language_tree(client, make_token):
    token = make_token("cms")
    push(client, token)
    push(client, token, language="en", body={"title": "Registration"})
    push(client, token, language="ar", body={"title": "التسجيل"})
    assert client.get(URL.format(language="ar")).json["source_language"] == "en"
    push(client, token, body={**PAGE, "title": "Anmeldung (neu)"})
    assert client.get(URL.format(language="ar")).json["outdated"] is False
    push(client, token, language="en", body={"title": "Registration (new)"})
    assert client.get(URL.format(language="ar")).json["outdated"] is True


def test_translation_made_from_an_old_source_version_is_outdated(client, make_token):
    token = make_token("cms")
    push(client, token)
    push(client, token, body={**PAGE, "title": "Anmeldung v2"})
    made_from_v1 = push(
        client, token, language="en", body={"title": "Registration", "source_version": 1}
    )
    assert made_from_v1.json["outdated"] is True
    assert made_from_v1.json["source_version"] == 1


def test_resave_with_character_references_is_the_same_version_and_outdates_nothing(
    client, make_token
):
    token = make_token("cms")
    german = {"title": "Gebühren", "content": "<p>Die Gebühr für 1\u00a0Jahr beträgt 12 €.</p>"}
    assert push(client, token, body=german).status_code == 201
    push(client, token, language="en", body={"title": "Fees", "content": "<p>The fee.</p>"})
    etag = client.get(URL.format(language="de")).headers["ETag"]

    # The same text as another editor or an export writes it: numeric and named references
    # for ü, ä and U+00A0, and a space after <p> that no reader sees.
    resaved = push(
        client,
        token,
        body={
            "title": "Geb&#252;hren",
            "content": "<p> Die Geb&#252;hr f&uuml;r 1&#160;Jahr betr&#228;gt 12 &euro;.</p>",
        },
    )
    assert resaved.status_code == 200
    assert resaved.json["version"] == 1
    assert resaved.headers["ETag"] == etag
    page = client.get("/api/v1/regions/alpha/pages/100").json
    assert [v["version"] for v in page["versions"] if v["language"] == "de"] == [1]
    assert client.get(URL.format(language="en")).json["outdated"] is False
