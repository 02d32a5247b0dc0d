"""Hostile request bodies and URLs: refused quickly and cleanly (problem+json 4xx), never a 500.

Each test says what it proves: an oversized body is refused before it is read, deep nesting
does not blow the parser's stack, odd bytes and characters are answered with a 4xx naming the
problem, and what is accepted is stored and read back unchanged.
"""

from __future__ import annotations

import io
import time
import tracemalloc

import pytest

from tests.conftest import bearer
from tests.integration.conftest import postgres_server, postgres_url  # noqa: F401 — fixtures

URL = "/api/v1/regions/alpha/pages/7/translations/de"
MB = 1024 * 1024


class CountingBody(io.RawIOBase):
    """A request body of `size` bytes made on demand; counts how much the server read."""

    def __init__(self, size: int, prefix: bytes = b'{"title": "x", "content": "'):
        self.size = size
        self.prefix = prefix
        self.position = 0
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        # The test client measures the body (seek to the end, tell) and rewinds it.
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = base + offset
        return self.position

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self.size - self.position))
        start = self.position
        head = self.prefix[start : start + count] if start < len(self.prefix) else b""
        buffer[:count] = head.ljust(count, b"a")
        self.position += count
        self.read_bytes += count
        return count


def assert_problem(response, *statuses: int) -> dict:
    assert response.status_code in statuses, (response.status_code, response.get_data()[:500])
    assert response.headers["Content-Type"] == "application/problem+json"
    return response.json


@pytest.fixture(autouse=True)
def fake_encoder(app):
    # Pushes run the content pipeline in-line under TESTING; the real model is not the subject.
    app.config["EMBEDDING_MODEL"] = "fake"


@pytest.fixture
def auth(make_token):
    return bearer(make_token("cms"))


def test_50_mb_body_is_refused_with_413_before_it_is_read(client, auth):
    body = CountingBody(50 * MB)
    tracemalloc.start()
    started = time.perf_counter()
    try:
        response = client.put(
            URL,
            input_stream=body,
            content_type="application/json",
            headers={**auth, "Content-Length": str(body.size)},
        )
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_problem(response, 413)
    assert elapsed < 1.0
    assert body.read_bytes == 0  # refused on the declared length, nothing read
    assert peak < 5 * MB


def test_body_without_length_is_cut_off_at_the_limit(client, auth, app):
    """Chunked upload (no Content-Length): the server reads at most MAX_CONTENT_LENGTH + a bit."""
    body = CountingBody(50 * MB)
    started = time.perf_counter()
    response = client.put(
        URL,
        input_stream=body,
        content_type="application/json",
        headers=auth,
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_problem(response, 413)
    assert time.perf_counter() - started < 1.0
    assert body.read_bytes <= app.config["MAX_CONTENT_LENGTH"] + 64 * 1024


def test_deeply_nested_json_is_a_4xx_not_a_recursion_error(client, auth):
    depth = 100_000
    started = time.perf_counter()
    response = client.put(
        URL, data="[" * depth + "]" * depth, content_type="application/json", headers=auth
    )
    assert_problem(response, 400, 422)
    assert time.perf_counter() - started < 2.0


def test_deeply_nested_object_in_a_field_is_a_4xx(client, auth):
    depth = 100_000
    data = '{"title": "x", "content": ' + '{"a": ' * depth + "1" + "}" * depth + "}"
    response = client.put(URL, data=data, content_type="application/json", headers=auth)
    assert_problem(response, 400, 422)


def test_deeply_nested_html_content_is_stored_fast_and_read_back(client, auth):
    depth = 10_000
    content = "<div>" * depth + "Anmeldung beim Bürgeramt." + "</div>" * depth
    started = time.perf_counter()
    response = client.put(URL, json={"title": "Tief", "content": content}, headers=auth)
    elapsed = time.perf_counter() - started
    assert response.status_code in (201, 413, 422), response.get_data()[:500]
    assert elapsed < 5.0
    if response.status_code == 201:
        assert client.get(URL).json["content"] == content


def test_huge_query_string_is_answered_cleanly(client):
    query = "&".join(f"p{i}={'x' * 100}" for i in range(10_000))  # about 1 MB
    started = time.perf_counter()
    response = client.get(f"/api/v1/regions/alpha/pages?{query}")
    assert time.perf_counter() - started < 2.0
    # Unknown query parameters are ignored (webargs excludes them): a clean 200 or a 4xx, never a
    # 500. Behind gunicorn the request line is capped at 4094 bytes anyway (400 before Flask).
    assert response.status_code in (200, 400, 414, 422)


def test_huge_value_of_a_known_parameter_is_a_422(client):
    response = client.get("/api/v1/regions/alpha/pages?limit=" + "9" * 100_000)
    assert_problem(response, 422)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"title": "\xff\xfe"}',
        b'{"title": "\xc3\x28"}',
        b'{"title": "\xed\xa0\x80"}',  # an encoded surrogate: not UTF-8
        b"\xef\xbb\xbf\xff",
    ],
    ids=["ff-fe", "bad-continuation", "surrogate", "bom-then-garbage"],
)
def test_invalid_utf8_in_body_is_400(client, auth, raw):
    response = client.put(URL, data=raw, content_type="application/json", headers=auth)
    assert_problem(response, 400)


def test_json_with_lone_surrogate_escape_is_refused_or_stored_cleanly(client, auth):
    # Valid JSON, but "\ud800" is no Unicode scalar value: it cannot be encoded as UTF-8.
    raw = b'{"title": "x", "content": "\\ud800"}'
    response = client.put(URL, data=raw, content_type="application/json", headers=auth)
    assert response.status_code in (201, 400, 422), response.get_data()[:500]


def push_with_nul(client, auth):
    return client.put(
        URL, json={"title": "Anmel\x00dung", "content": "<p>a\x00b</p>"}, headers=auth
    )


def test_nul_characters_are_refused_with_422_on_sqlite(client, auth):
    body = assert_problem(push_with_nul(client, auth), 422)
    assert {"title", "content"} <= set(body["errors"])


@pytest.mark.postgres
def test_nul_characters_are_refused_with_422_on_postgresql(postgres_url, make_token_on):  # noqa: F811
    app, token = make_token_on(postgres_url)
    body = assert_problem(push_with_nul(app.test_client(), bearer(token)), 422)
    assert {"title", "content"} <= set(body["errors"])


@pytest.fixture
def make_token_on():
    """An app on the given database (schema by migrations, seed regions) and a cms token."""
    from flask_migrate import upgrade

    from memory.models import Role
    from memory.services import tokens as token_service
    from tests.conftest import seed_regions
    from tm_service import create_app
    from tm_service.extensions import db

    apps = []

    def build(database_url: str):
        app = create_app({"TESTING": True, "DATABASE_URL": database_url, "EMBEDDING_MODEL": "fake"})
        with app.app_context():
            upgrade()
        seed_regions(app)
        with app.app_context():
            token = token_service.create_token(
                db.session, None, role=Role.CMS, region_slug="alpha"
            ).plaintext
        apps.append(app)
        return app, token

    yield build
    for app in apps:
        with app.app_context():
            db.engine.dispose()
