"""Bad input that SQLite shrugs off and PostgreSQL refuses (NUL in text, integers beyond 32 bits,
strings longer than their column): a 4xx naming the parameter, never a 500."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade

from memory.models import Role
from memory.services import tokens as token_service
from tests.conftest import bearer, seed_regions
from tm_service import create_app
from tm_service.extensions import db

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_url):
    """A client of an app on a fresh PostgreSQL database (schema by migrations, seed regions)
    and a global admin token."""
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        upgrade()
    seed_regions(app)
    with app.app_context():
        token = token_service.create_token(
            db.session, None, role=Role.ADMIN, region_slug=None
        ).plaintext
    yield app.test_client(), bearer(token)
    with app.app_context():
        db.engine.dispose()


def assert_problem(response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/problem+json"
    if field is not None:
        assert field in response.json["errors"], response.json
    return response.json


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/regions/%00", "region"),
        ("/api/v1/languages/%00", "code"),
        ("/api/v1/jobs/%00", "job_id"),
        ("/api/v1/regions/alpha/pages/%00", "external_id"),
        ("/api/v1/regions/alpha/pages/a%00b/translations/de", "external_id"),
        ("/api/v1/regions/alpha/overlap/%00", "region_b"),
    ],
)
@pytest.mark.parametrize("with_token", [False, True], ids=["anonymous", "token"])
def test_nul_in_a_path_parameter_is_404_naming_it(pg, url, field, with_token):
    client, token = pg
    assert_problem(client.get(url, headers=token if with_token else {}), 404, field)


def test_nul_in_the_path_of_a_push_is_404(pg):
    client, token = pg
    response = client.put(
        "/api/v1/regions/alpha/pages/a%00b/translations/de", json={"title": "x"}, headers=token
    )
    assert_problem(response, 404, "external_id")


@pytest.mark.parametrize("suggestion_id", [2**31, 34359738369, 10**30])
def test_suggestion_id_beyond_32_bits_is_404(pg, suggestion_id):
    client, token = pg
    assert_problem(client.get(f"/api/v1/suggestions/{suggestion_id}", headers=token), 404)
    response = client.post(
        f"/api/v1/suggestions/{suggestion_id}/review", json={"decision": "reject"}, headers=token
    )
    assert_problem(response, 404)


def test_page_id_longer_than_its_column_is_422_and_stores_nothing(pg):
    client, token = pg
    url = "/api/v1/regions/alpha/pages/" + "p" * 101 + "/translations/de"
    assert_problem(client.put(url, json={"title": "x"}, headers=token), 422, "external_id")
    assert client.get("/api/v1/regions/alpha/pages", headers=token).json["total"] == 0
    # A long id is merely unknown where it is read.
    assert_problem(client.get(url.rsplit("/translations", 1)[0]), 404)
    ok = "/api/v1/regions/alpha/pages/" + "p" * 100 + "/translations/de"
    assert client.put(ok, json={"title": "x"}, headers=token).status_code == 201


def test_source_version_beyond_32_bits_is_422(pg):
    client, token = pg
    response = client.put(
        "/api/v1/regions/alpha/pages/1/translations/en",
        json={"title": "x", "source_version": 2**35},
        headers=token,
    )
    assert_problem(response, 422, "source_version")


def test_language_code_longer_than_its_column_is_422(pg):
    client, token = pg
    response = client.put(
        "/api/v1/languages/de" + "-abcdefgh" * 3, json={"name": "X"}, headers=token
    )
    assert_problem(response, 422, "code")
