"""The units a lookup reads, on PostgreSQL: the same tests as on SQLite (tests/api), against a
real server (the statement built once, its expanding IN inside the ranked subquery, the enum
and timestamp types of plain rows)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask_migrate import upgrade

from tests.api.test_found_units import (
    test_a_form_with_more_units_than_the_cap_gives_its_oldest,
    test_a_page_unit_names_its_region_and_page_and_matches_as_the_orm_unit,
)
from tests.conftest import seed_regions
from tm_service import create_app
from tm_service.extensions import db

pytestmark = pytest.mark.postgres

__all__ = [
    "test_a_form_with_more_units_than_the_cap_gives_its_oldest",
    "test_a_page_unit_names_its_region_and_page_and_matches_as_the_orm_unit",
]


@pytest.fixture
def app(postgres_url) -> Iterator[Flask]:
    """The seeded regions on an empty PostgreSQL database (what the SQLite tests' app holds)."""
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        upgrade()
    seed_regions(app)
    yield app
    with app.app_context():
        db.engine.dispose()
