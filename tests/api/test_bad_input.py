"""Bad input of every kind → a clear application/problem+json 4xx naming the field, never a 500."""

from __future__ import annotations

import json
import time

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


def test_duplicate_json_keys_are_400_naming_the_key(client, auth):
    # Last-one-wins would store a draft the sender may have meant as public.
    raw = '{"title": "x", "status": "public", "status": "draft"}'
    body = assert_problem(
        client.put(URL, data=raw, content_type="application/json", headers=auth), 400, "body"
    )
    assert "status" in body["detail"]
    assert client.get(URL, headers=auth).status_code == 404  # nothing stored


def test_duplicate_keys_in_a_nested_object_are_400(client, make_token):
    raw = '{"languages": [{"code": "de", "code": "en"}]}'
    response = client.patch(
        "/api/v1/regions/alpha",
        data=raw,
        content_type="application/json",
        headers=bearer(make_token("admin")),
    )
    assert_problem(response, 400, "body")


@pytest.mark.parametrize(
    ("method", "url"),
    [("PATCH", "/api/v1/regions/alpha"), ("PUT", "/api/v1/languages/de"), ("PUT", URL)],
)
@pytest.mark.parametrize("content_type", [None, "application/json"])
def test_put_or_patch_without_a_body_is_400_naming_the_body(
    client, make_token, method, url, content_type
):
    headers = bearer(make_token("admin", region=None))
    response = client.open(url, method=method, headers=headers, content_type=content_type)
    body = assert_problem(response, 400, "body")
    assert "body" in body["detail"].lower()


def test_position_with_5000_digits_is_422_naming_the_position(client, auth):
    raw = '{"title": "x", "position": ' + "9" * 5000 + "}"
    response = client.put(URL, data=raw, content_type="application/json", headers=auth)
    assert_problem(response, 422, "position")


@pytest.mark.parametrize("stamp", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"])
def test_last_updated_that_leaves_the_calendar_in_utc_is_422(client, auth, stamp):
    response = client.put(URL, json={"title": "x", "last_updated": stamp}, headers=auth)
    assert_problem(response, 422, "last_updated")


def test_last_updated_is_stored_in_utc(client, auth):
    response = client.put(
        URL, json={"title": "x", "last_updated": "2024-03-01T01:30:00+02:00"}, headers=auth
    )
    assert response.status_code == 201, response.json
    assert response.json["last_updated"].startswith("2024-02-29T23:30:00")


def test_page_id_longer_than_100_characters_is_422_naming_it(client, auth):
    url = "/api/v1/regions/alpha/pages/" + "p" * 101 + "/translations/de"
    assert_problem(client.put(url, json={"title": "x"}, headers=auth), 422, "external_id")


def test_source_version_beyond_32_bits_is_422(client, auth):
    body = {"title": "x", "source_version": 2**35}
    assert_problem(client.put(URL, json=body, headers=auth), 422, "source_version")


def test_language_code_longer_than_the_column_is_422(client, make_token):
    response = client.put(
        "/api/v1/languages/de" + "-abcdefgh" * 3,
        json={"name": "X"},
        headers=bearer(make_token("admin", region=None)),
    )
    assert_problem(response, 422, "code")


HUGE_UNKNOWN = json.dumps({f"k{i}": i for i in range(200_000)})


def test_anonymous_huge_body_on_a_token_route_is_401_before_it_is_read(client):
    started = time.perf_counter()
    response = client.put(URL, data=HUGE_UNKNOWN, content_type="application/json")
    elapsed = time.perf_counter() - started
    assert_problem(response, 401)
    assert len(response.get_data()) < 2000
    assert elapsed < 2.0  # today: seconds of validating 200 000 fields nobody may send


def test_error_list_is_capped_with_a_count_of_all_errors(client, auth):
    response = client.put(URL, data=HUGE_UNKNOWN, content_type="application/json", headers=auth)
    body = assert_problem(response, 422)
    assert len(body["errors"]) == 50
    assert body["error_count"] >= 200_000
    assert len(response.get_data()) < 20_000
    assert "k0" in body["errors"]


def test_a_few_errors_are_all_listed(client, auth):
    body = assert_problem(
        client.put(URL, json={"title": "", "status": "nope", "x": 1}, headers=auth), 422
    )
    assert set(body["errors"]) == {"title", "status", "x"}
    assert body["error_count"] == 3
