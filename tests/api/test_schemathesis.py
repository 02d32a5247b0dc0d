"""Property-based API tests: every operation of /api/openapi.json, valid and invalid input.

Schemathesis reads the OpenAPI document flask-smorest generates, makes requests from it (positive
data that follows the schemas, negative data that breaks them) and checks every answer: never a
5xx, a status code the document lists, a body matching the documented schema. All calls carry a
global admin token, so the write routes are exercised too. The seed is fixed (derandomized), so a
failure reproduces.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from memory.authorization import Actor
from memory.models import Role
from memory.services import pages as page_service
from memory.services import tokens as token_service
from tests.conftest import bearer, make_app, seed_regions
from tm_service import create_app
from tm_service.extensions import db

MAX_EXAMPLES = 40
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
PAGES = {
    "100": {"title": "Anmeldung", "content": "<p>Melden Sie Ihren Wohnsitz an.</p>"},
    "101": {"title": "Sprachkurse", "content": "<h2>Integrationskurs</h2><p>Beim BAMF.</p>"},
    "102": {"title": "Wohnen", "content": "<ul><li>Wohngeld</li><li>WBS</li></ul>"},
}


def _load_small_region(app: Flask) -> str:
    """Two regions with a few pages in German, English and Arabic; returns a global admin token."""
    seed_regions(app)
    admin = Actor(role=Role.ADMIN, region_slug=None)
    with app.app_context():
        for external_id, body in PAGES.items():
            for language in ("de", "en", "ar"):
                page_service.push_translation(
                    db.session,
                    admin,
                    "alpha",
                    external_id,
                    language,
                    {**body, "title": f"{body['title']} ({language})"},
                )
        page_service.push_translation(
            db.session, admin, "alpha", "103", "de", {"title": "Entwurf", "status": "draft"}
        )
        return token_service.create_token(
            db.session, None, role=Role.ADMIN, region_slug=None, name="schemathesis"
        ).plaintext


@pytest.fixture(scope="module")
def api_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    path: Path = tmp_path_factory.mktemp("schemathesis") / "tm.sqlite3"
    app = make_app(f"sqlite:///{path}", EMBEDDING_MODEL="fake")
    token = _load_small_region(app)
    yield app, token
    with app.app_context():
        db.engine.dispose()


def _openapi_schema():
    # The document depends on the blueprints only, not on the data: read it from an app on an
    # in-memory database at collection time; the requests go to the loaded app (`app=` below).
    # (schemathesis.pytest.from_fixture would be the natural choice, but 4.32 fails on pytest 9:
    # "'Function' object has no attribute '_nodeid'".)
    bare = create_app({"TESTING": True, "DATABASE_URL": "sqlite://", "EMBEDDING_MODEL": "fake"})
    loaded = schemathesis.openapi.from_wsgi("/api/openapi.json", bare)
    loaded.config.generation.update(
        modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
        max_examples=MAX_EXAMPLES,
        deterministic=True,
        database="none",
    )
    # The coverage phase builds its examples while the test is collected (137 s for 49
    # operations with both modes); its negative cases add little to the explicit phases' ones.
    loaded.config.phases.coverage.generation.update(modes=[GenerationMode.POSITIVE])
    return loaded


schema = _openapi_schema()

# Random path parameters almost never name a stored region or page, so the write routes would only
# ever answer 404. Half of the generated values are swapped for ones that exist.
KNOWN_PATH_VALUES = {
    "region": ["alpha", "beta"],
    "region_a": ["alpha", "beta"],
    "region_b": ["alpha", "beta"],
    "external_id": [*PAGES, "103"],
    "language": ["de", "en", "ar"],
    "code": ["de", "en", "ar", "fa", "uk"],
}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    known = {
        name: st.sampled_from(KNOWN_PATH_VALUES[name])
        if name in KNOWN_PATH_VALUES
        else st.just(value)
        for name, value in path_parameters.items()
    }
    return st.one_of(st.just(path_parameters), st.fixed_dictionaries(known))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_every_generated_request_as_documented(case, api_app):
    app, token = api_app
    case.call_and_validate(app=app, headers=bearer(token), checks=CHECKS)
