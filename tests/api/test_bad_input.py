"""Bad input of every kind → a clear application/problem+json 4xx naming the field, never a 500."""

from __future__ import annotations

import pytest

from tests.conftest import bearer

URL = "/api/v1/regions/alpha/pages/7/translations/de"


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    body = response.json
    assert body["status"] == status
    assert body["title"] and body["detail"] and body["type"]
    if field is not None:
        assert field in body.get("errors", {}), body
    return body


@pytest.fixture
def auth(make_token):
    return bearer(make_token("cms"))


def test_broken_json_is_400(client, auth):
    response = client.put(URL, data='{"title": "x"', content_type="application/json", headers=auth)
    assert_problem(response, 400, "body")


def test_body_that_is_not_json_is_415(client, auth):
    response = client.put(
        URL, data="title=x", content_type="application/x-www-form-urlencoded", headers=auth
    )
    assert_problem(response, 415)


def test_unknown_language_is_404_naming_the_language(client, auth):
    response = client.put(
        "/api/v1/regions/alpha/pages/7/translations/xx", json={"title": "x"}, headers=auth
    )
    assert_problem(response, 404, "language")


def test_unknown_region_is_404_naming_the_region(client, make_token):
    response = client.get("/api/v1/regions/nowhere/pages")
    assert_problem(response, 404, "region")


def test_oversized_body_is_413(client, auth, app):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    response = client.put(URL, json={"title": "x", "content": "a" * 5000}, headers=auth)
    assert_problem(response, 413)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"content": "<p>no title</p>"}, "title"),
        ({"title": 42}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x", "content": ["not", "text"]}, "content"),
        ({"title": "x", "status": "published"}, "status"),
        ({"title": "x", "origin": "robot"}, "origin"),
        ({"title": "x", "source_version": "3"}, "source_version"),
        ({"title": "x", "source_version": 0}, "source_version"),
        ({"title": "x", "last_updated": "yesterday"}, "last_updated"),
        ({"title": "x", "unexpected": 1}, "unexpected"),
        ({"title": "x", "parent": "does-not-exist"}, "parent"),
        ({"title": "x", "source_version": 9}, "source_version"),
    ],
)
def test_wrong_fields_are_422_naming_the_field(client, auth, body, field):
    if field == "source_version" and body.get("source_version") == 9:
        url = "/api/v1/regions/alpha/pages/7/translations/en"
        client.put(URL, json={"title": "Quelle"}, headers=auth)
    else:
        url = URL
    assert_problem(client.put(url, json=body, headers=auth), 422, field)


def test_json_array_instead_of_object_is_422(client, auth):
    assert_problem(client.put(URL, json=["title"], headers=auth), 422)


def test_bad_query_parameter_is_422(client):
    assert_problem(client.get("/api/v1/regions/alpha/pages?limit=0"), 422, "query.limit")
    assert_problem(client.get("/api/v1/regions/alpha/pages?limit=abc"), 422, "query.limit")


def test_malformed_authorization_header_is_401(client):
    response = client.put(URL, json={"title": "x"}, headers={"Authorization": "Token abc"})
    assert_problem(response, 401)
    response = client.put(
        URL, json={"title": "x"}, headers={"Authorization": "Bearer tm_nope_nope"}
    )
    assert_problem(response, 401)


def test_unknown_route_is_problem_json(client):
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_wrong_method_is_405(client):
    assert_problem(client.delete("/api/v1/regions"), 405)


def test_failed_write_leaves_nothing_behind(client, auth):
    client.put(URL, json={"title": "x", "parent": "missing"}, headers=auth)
    assert (
        client.get("/api/v1/regions/alpha/pages/7?include_drafts=true", headers=auth).status_code
        == 404
    )
