"""The review UI through Flask's test client: what the browser tests cannot replay by hand."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from memory.authorization import Actor
from memory.models import Role
from memory.services import tokens as token_service
from memory.services.regions import update_region
from tests.conftest import bearer, copy_of_seeded_app
from tm_service.extensions import db

ADMIN = Actor(role=Role.ADMIN, region_slug=None)
BETA_DE = "<p>Die Beratung ist kostenlos. Bringen Sie Ihren Pass mit.</p>"
BETA_EN = "<p>The counselling is free of charge. Bring your passport.</p>"
BETA_FA = "<p>مشاوره رایگان است. گذرنامه خود را همراه داشته باشید.</p>"
ALPHA_DE = "<p>Die Beratung ist kostenlos. Bringen Sie Ihren Pass mit. Parken am Rathaus.</p>"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    with copy_of_seeded_app(
        tmp_path,
        seeded_database,
        SIMILARITY_REFRESH_INTERVAL=0,
        SECRET_KEY="client-test-secret-key-0123456789abcdef",
    ) as app:
        yield app


def issue(app: Flask, role: str, region: str | None = "alpha") -> str:
    with app.app_context():
        return token_service.create_token(
            db.session, None, role=Role(role), region_slug=region
        ).plaintext


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def sign_in(client: FlaskClient, token: str) -> None:
    form = client.get("/ui/").get_data(as_text=True)
    response = client.post("/ui/", data={"token": token, "csrf_token": csrf_of(form)})
    assert response.status_code == 302, response.get_data(as_text=True)


@pytest.fixture
def similar_pages(app: Flask) -> None:
    """Beta translates Farsi from English and has page b1 in de, en, fa; alpha (de, en, ar)
    has the near-copy a1 in German only."""
    with app.app_context():
        update_region(
            db.session,
            ADMIN,
            "beta",
            {
                "languages": [
                    {"code": "de"},
                    {"code": "en", "parent": "de"},
                    {"code": "fa", "parent": "en"},
                ]
            },
        )
    client = app.test_client()
    beta, alpha = issue(app, "cms", "beta"), issue(app, "cms", "alpha")
    pushes = [
        (beta, "beta", "b1", "de", "Beratung", BETA_DE),
        (beta, "beta", "b1", "en", "Counselling", BETA_EN),
        (beta, "beta", "b1", "fa", "مشاوره", BETA_FA),
        (alpha, "alpha", "a1", "de", "Beratung", ALPHA_DE),
    ]
    for token, region, external_id, language, title, body in pushes:
        response = client.put(
            f"/api/v1/regions/{region}/pages/{external_id}/translations/{language}",
            json={"title": title, "content": body},
            headers=bearer(token),
        )
        assert response.status_code == 201, response.json


def similar_row(html: str) -> str:
    row = re.search(r"<tr>(?:(?!</tr>).)*Beta City(?:(?!</tr>).)*</tr>", html, re.S)
    assert row, "beta's page is not listed as similar"
    return row.group(0)


# --------------------------------------------------------------------------- languages to add


def test_page_view_tells_an_editor_which_languages_an_admin_must_add_first(app, similar_pages):
    client = app.test_client()
    sign_in(client, issue(app, "editor"))

    row = similar_row(client.get("/ui/pages/a1").get_data(as_text=True))

    assert "Start from this page…</button>" in row
    assert 'name="add_languages"' not in row
    assert "not a language of Alpha County yet" in row
    assert "an admin of the region can add" in row


def test_an_admin_starts_a_page_and_adds_the_language_the_region_lacks(app, similar_pages):
    client = app.test_client()
    sign_in(client, issue(app, "admin"))
    row = similar_row(client.get("/ui/pages/a1").get_data(as_text=True))
    assert 'name="add_languages" value="1"' in row
    assert "and add fa" in row
    confirm = client.get(
        "/ui/pages/a1/reuse",
        query_string={"from_region": "beta", "from_page": "b1", "add_languages": "1"},
    ).get_data(as_text=True)
    assert "Copy 3 languages as drafts" in confirm and "added to the region" in confirm
    before = client.get("/api/v1/regions/alpha").json["languages"]
    assert "fa" not in {node["code"] for node in before}  # nothing changed before the copy

    response = client.post(
        "/ui/pages/a1/reuse",
        data={
            "from_region": "beta",
            "from_page": "b1",
            "add_languages": "1",
            "csrf_token": csrf_of(confirm),
        },
    )

    assert response.status_code == 302
    languages = client.get("/api/v1/regions/alpha").json["languages"]
    assert {node["code"]: node["parent"] for node in languages}["fa"] == "en"
    page = client.get(
        "/api/v1/regions/alpha/pages/beratung?include_drafts=true",
        headers=bearer(issue(app, "editor")),
    ).json
    assert sorted(t["language"] for t in page["translations"]) == ["de", "en", "fa"]
    shown = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Added fa to the region&#39;s languages" in shown


# --------------------------------------------------------------------------- sign-out


def test_a_session_cookie_replayed_after_sign_out_is_signed_out(app):
    client = app.test_client()
    sign_in(client, issue(app, "translator"))
    assert client.get("/ui/review").status_code == 200
    cookie = client.get_cookie("session")
    assert cookie is not None
    stolen = cookie.value

    home = client.get("/ui/").get_data(as_text=True)
    assert client.post("/ui/sign-out", data={"csrf_token": csrf_of(home)}).status_code == 302

    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/ui/review")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/ui/?next=")


def test_signing_in_again_after_sign_out_works_and_other_tokens_stay_signed_in(app):
    token = issue(app, "translator")
    other = app.test_client()
    sign_in(other, issue(app, "editor"))
    client = app.test_client()
    sign_in(client, token)
    home = client.get("/ui/").get_data(as_text=True)
    client.post("/ui/sign-out", data={"csrf_token": csrf_of(home)})

    sign_in(client, token)

    assert client.get("/ui/review").status_code == 200
    assert other.get("/ui/review").status_code == 200
