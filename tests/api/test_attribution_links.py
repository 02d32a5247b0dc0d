"""Every reusable text names its licence and links to its own page, not to a home page."""

from __future__ import annotations

import json

import pytest
from flask import Flask

from connectors.cms_fixture import read_cms_fixture
from memory.services.imports import import_cms_fixture
from memory.services.translation_memory import refresh_units
from tests.conftest import CORPUS, DEMO, bearer
from tm_service.extensions import db

FIXTURE = DEMO / "integreat_cms_test_data.json.gz"
EXPECTED_API_V3 = CORPUS / "integreat-cms" / "api-v3"
NURNBERG_ABOUT_DE = "https://integreat.app/nurnberg/de/willkommen/uber-integreat/"
NURNBERG_ABOUT_EN = "https://integreat.app/nurnberg/en/welcome/about-integreat/"


@pytest.fixture
def nurnberg(app: Flask) -> Flask:
    """The CMS fixture's Nürnberg imported, its translation units built."""
    with app.app_context():
        [report] = import_cms_fixture(db.session, read_cms_fixture(FIXTURE), regions=["nurnberg"])
        refresh_units(db.session, report.changed_translation_ids)
    return app


@pytest.mark.parametrize("language", ["de", "ar"])
def test_fixture_paths_are_the_ones_the_cms_itself_publishes(language):
    # The CMS's own expected API v3 output for Augsburg: parent slugs, in the page's language.
    expected = json.loads(
        (EXPECTED_API_V3 / f"augsburg_{language}_pages.json").read_text(encoding="utf-8")
    )
    region = read_cms_fixture(FIXTURE).regions["augsburg"]
    paths = {
        translation.id: translation.path
        for page in region.pages
        for translation in page.translations
    }
    assert expected
    for page in expected:
        assert paths[page["id"]] == page["path"], page["id"]


def test_a_page_reused_from_the_cms_fixture_links_to_its_integreat_page(
    nurnberg, client, make_token
):
    response = client.post(
        "/api/v1/regions/alpha/pages/reuse",
        json={"from_region": "nurnberg", "from_page": "12", "languages": ["de", "en"]},
        headers=bearer(make_token("editor")),
    )

    assert response.status_code == 201, response.json
    attribution = response.json["attribution"]
    assert attribution["url"] == NURNBERG_ABOUT_DE
    assert attribution["license"] == "CC BY 4.0"
    urls = {item["language"]: item["origin_url"] for item in response.json["translations"]}
    assert urls == {"de": NURNBERG_ABOUT_DE, "en": NURNBERG_ABOUT_EN}
    for item in response.json["translations"]:
        assert item["license"]["name"] == "CC BY 4.0"
        assert "Nürnberg" in item["license"]["attribution"]

    upstream = client.get(
        f"/api/v1/regions/alpha/pages/{response.json['external_id']}/upstream",
        headers=bearer(make_token("translator")),
    )
    assert upstream.json["attribution"]["url"] == NURNBERG_ABOUT_DE


def test_memory_units_from_the_cms_fixture_carry_their_licence_and_page_link(nurnberg, client):
    response = client.get(
        "/api/v1/tm/concordance",
        query_string={"q": "Integreat", "language": "de", "target_language": "en"},
    )

    assert response.status_code == 200, response.json
    hits = [hit for hit in response.json["items"] if hit["page"] == "12"]
    assert hits
    for hit in hits:
        assert hit["license"] == "CC BY 4.0"
        assert hit["url"] == NURNBERG_ABOUT_EN


def test_a_page_pushed_with_a_path_only_links_to_the_regions_base_url_and_path(client, make_token):
    admin = make_token("admin", region="beta")
    client.patch(
        "/api/v1/regions/beta", json={"base_url": "https://beta.example/"}, headers=bearer(admin)
    )
    client.put(
        "/api/v1/regions/beta/pages/50/translations/de",
        json={
            "title": "Anmeldung",
            "content": "<p>Melden Sie sich an.</p>",
            "path": "/beta/de/anmeldung/",
        },
        headers=bearer(make_token("cms", region="beta")),
    )

    response = client.post(
        "/api/v1/regions/alpha/pages/reuse",
        json={"from_region": "beta", "from_page": "50"},
        headers=bearer(make_token("editor")),
    )

    assert response.status_code == 201, response.json
    assert response.json["attribution"]["url"] == "https://beta.example/beta/de/anmeldung/"


def test_a_page_without_any_address_links_to_its_public_read_here(client, make_token):
    client.put(
        "/api/v1/regions/beta/pages/50/translations/de",
        json={"title": "Anmeldung", "content": "<p>Melden Sie sich an.</p>"},
        headers=bearer(make_token("cms", region="beta")),
    )

    response = client.post(
        "/api/v1/regions/alpha/pages/reuse",
        json={"from_region": "beta", "from_page": "50"},
        headers=bearer(make_token("editor")),
    )

    assert response.status_code == 201, response.json
    assert response.json["attribution"]["url"] == "http://localhost/api/v1/regions/beta/pages/50"
    [copy] = response.json["translations"]
    link = copy["origin_url"]
    assert link == "http://localhost/api/v1/regions/beta/pages/50/translations/de"
    public = client.get(link.removeprefix("http://localhost"))
    assert public.status_code == 200
    assert public.json["license"]["name"] == "CC BY 4.0"
