"""Regions and languages: public reads, admin writes, region-scoped admins."""

from __future__ import annotations

import re

from tests.conftest import bearer

NEW_REGION = {"slug": "gamma", "name": "Gamma", "kind": "county", "languages": [{"code": "de"}]}


def test_regions_are_public(client):
    slugs = [region["slug"] for region in client.get("/api/v1/regions").json]
    assert slugs == ["alpha", "beta"]
    alpha = client.get("/api/v1/regions/alpha").json
    assert [(n["code"], n["parent"]) for n in alpha["languages"]] == [
        ("de", None),
        ("en", "de"),
        ("ar", "en"),
    ]
    assert alpha["license"]["name"] == "CC BY 4.0"


def test_global_admin_creates_a_region_with_neighbours(client, make_token):
    admin = bearer(make_token("admin", region=None))
    response = client.post(
        "/api/v1/regions", json={**NEW_REGION, "neighbours": ["alpha"]}, headers=admin
    )
    assert response.status_code == 201, response.json
    assert response.json["neighbours"] == ["alpha"]
    assert client.get("/api/v1/regions/alpha").json["neighbours"] == ["gamma"]


def test_creating_a_region_twice_is_409(client, make_token):
    admin = bearer(make_token("admin", region=None))
    client.post("/api/v1/regions", json=NEW_REGION, headers=admin)
    assert client.post("/api/v1/regions", json=NEW_REGION, headers=admin).status_code == 409


def test_region_admin_cannot_create_regions_or_edit_other_regions(client, make_token):
    region_admin = bearer(make_token("admin", region="alpha"))
    assert client.post("/api/v1/regions", json=NEW_REGION, headers=region_admin).status_code == 403
    assert (
        client.patch("/api/v1/regions/beta", json={"name": "X"}, headers=region_admin).status_code
        == 403
    )
    assert client.get("/api/v1/regions/beta").json["name"] == "Beta City"
    ok = client.patch("/api/v1/regions/alpha", json={"name": "Alpha Land"}, headers=region_admin)
    assert ok.status_code == 200
    assert ok.json["name"] == "Alpha Land"


def test_cms_token_cannot_change_region_settings(client, make_token):
    cms = bearer(make_token("cms", region="alpha"))
    assert client.patch("/api/v1/regions/alpha", json={"name": "X"}, headers=cms).status_code == 403


def test_invalid_region_fields_are_named(client, make_token):
    admin = bearer(make_token("admin", region=None))
    response = client.post(
        "/api/v1/regions", json={"slug": "Bad Slug!", "name": "x", "latitude": 123}, headers=admin
    )
    assert response.status_code == 422
    assert {"slug", "latitude"} <= set(response.json["errors"])
    response = client.post(
        "/api/v1/regions", json={**NEW_REGION, "neighbours": ["nowhere"]}, headers=admin
    )
    assert response.status_code == 422
    assert "neighbours" in response.json["errors"]


def test_languages_are_listed_and_admins_add_new_ones(client, make_token):
    codes = [language["code"] for language in client.get("/api/v1/languages").json]
    assert codes == ["ar", "de", "en", "fa"]
    assert client.get("/api/v1/languages/ar").json["direction"] == "rtl"
    admin = bearer(make_token("admin", region=None))
    created = client.put(
        "/api/v1/languages/uk", json={"name": "Українська", "bcp47_tag": "uk-UA"}, headers=admin
    )
    assert created.status_code == 201
    assert (
        client.put(
            "/api/v1/languages/uk", json={"english_name": "Ukrainian"}, headers=admin
        ).status_code
        == 200
    )
    cms = bearer(make_token("cms"))
    assert (
        client.put("/api/v1/languages/tr", json={"name": "Türkçe"}, headers=cms).status_code == 403
    )


def test_health_reports_database_and_job_mode(client):
    body = client.get("/api/v1/health").json
    assert body == {**body, "status": "ok", "database": "ok", "jobs": "in-process"}


def test_openapi_document_lists_every_route_and_docs_page_works_offline(client, app):
    spec = client.get("/api/openapi.json").json
    documented = set(spec["paths"])
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            assert path in documented, path
    docs = client.get("/api/docs")
    assert docs.status_code == 200
    assert b"/api/docs/assets/swagger-ui-bundle.js" in docs.data
    asset = client.get("/api/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200
    asset.close()
