"""Shared fixtures: an app on a fresh SQLite file, its client, and tokens made through services."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from memory.models import Role
from memory.services import tokens as token_service
from memory.services.regions import create_region, ensure_language
from tm_service import create_app
from tm_service.extensions import db

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
DEMO = Path(__file__).resolve().parents[1] / "tm_service" / "demo"


def make_app(database_url: str, **config) -> Flask:
    app = create_app(
        {"TESTING": True, "DATABASE_URL": database_url, "EMBEDDING_MODEL": "fake", **config}
    )
    with app.app_context():
        db.create_all()
    return app


def seed_regions(app: Flask) -> None:
    """Languages de/en/ar and two regions, 'alpha' (translates ar from en) and 'beta'."""
    from memory.authorization import Actor

    admin = Actor(role=Role.ADMIN, region_slug=None)
    with app.app_context():
        for code in ("de", "en", "ar", "fa"):
            ensure_language(db.session, code)
        db.session.commit()
        create_region(
            db.session,
            admin,
            {
                "slug": "alpha",
                "name": "Alpha County",
                "kind": "county",
                "languages": [
                    {"code": "de"},
                    {"code": "en", "parent": "de"},
                    {"code": "ar", "parent": "en"},
                ],
            },
        )
        create_region(db.session, admin, {"slug": "beta", "name": "Beta City", "kind": "city"})


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An SQLite file with the schema and seed regions, built once and copied per test."""
    path = tmp_path_factory.mktemp("template") / "tm.sqlite3"
    template = make_app(f"sqlite:///{path}")
    seed_regions(template)
    with template.app_context():
        db.engine.dispose()
    return path


@contextmanager
def copy_of_seeded_app(tmp_path: Path, seeded_database: Path, **config: Any) -> Iterator[Flask]:
    """An app on its own copy of the seeded SQLite file, with `config` on top of the test
    defaults; its engine is disposed afterwards.

    Pushes run their jobs in-line in tests: the fake encoder keeps them fast; the real model
    has its own tests in tests/integration.
    """
    path = tmp_path / "tm.sqlite3"
    shutil.copyfile(seeded_database, path)
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "EMBEDDING_MODEL": "fake", **config}
    )
    try:
        yield app
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(tmp_path: Path, seeded_database: Path) -> Iterator[Flask]:
    with copy_of_seeded_app(tmp_path, seeded_database) as app:
        yield app


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


def app_with_augsburg(
    folder: Path, seeded_database: Path, *, before_import: Callable[[], None] | None = None
) -> Flask:
    """An app on a copy of the seeded database with the Landkreis Augsburg dumps (de, en)
    imported and their translation units built; `before_import` runs in the app context first."""
    from connectors.integreat import read_dumps
    from memory.services.imports import import_integreat_pages
    from memory.services.translation_memory import refresh_units

    path = folder / "tm.sqlite3"
    shutil.copyfile(seeded_database, path)
    app = create_app(
        {"TESTING": True, "DATABASE_URL": f"sqlite:///{path}", "EMBEDDING_MODEL": "fake"}
    )
    with app.app_context():
        if before_import is not None:
            before_import()
        report = import_integreat_pages(db.session, None, "lkaugsburg", list(read_dumps(DEMO)))
        refresh_units(db.session, report.changed_translation_ids)
    return app


TokenFactory = Callable[..., str]


@pytest.fixture
def make_token(app: Flask) -> TokenFactory:
    """Issue a real token through the token service; returns the plaintext."""

    def issue(
        role: str = "cms", region: str | None = "alpha", expires_in_days: int | None = None
    ) -> str:
        with app.app_context():
            return token_service.create_token(
                db.session,
                None,
                role=Role(role),
                region_slug=region,
                expires_in_days=expires_in_days,
            ).plaintext

    return issue


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
