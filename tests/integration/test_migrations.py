"""Migrations: upgrade from empty, downgrade to base, upgrade again, no drift from models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from memory.models import Base
from tm_service import create_app
from tm_service.extensions import db


def _round_trip(database_url: str) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    with app.app_context():
        upgrade()
        assert "page_translation" in inspect(db.engine).get_table_names()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"compare_type": True, "render_as_batch": True}
            )
            drift = compare_metadata(context, Base.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
        db.engine.dispose()


def test_migrations_round_trip_on_sqlite(tmp_path):
    _round_trip(f"sqlite:///{tmp_path / 'tm.sqlite3'}")


@pytest.mark.postgres
def test_migrations_round_trip_on_postgresql(postgres_url):
    _round_trip(postgres_url)
