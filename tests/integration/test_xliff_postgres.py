"""XLIFF import on PostgreSQL: a file that PostgreSQL refuses midway (a title longer than its
column, after the first page was written) stores nothing; a good file imports once."""

from __future__ import annotations

import pytest
from flask_migrate import upgrade
from sqlalchemy import func, select
from translate.storage import xliff

from memory.authorization import Actor
from memory.errors import ImportRejected
from memory.models import PageTranslation, Role
from memory.services import xliff_io
from memory.services.pages import push_translation
from memory.services.suggestions import suggest_translations
from memory.services.translation_memory import TranslationMemoryIndex, refresh_units
from memory.tm_models import TranslationUnit
from tests.conftest import seed_regions
from tm_service import create_app
from tm_service.extensions import db

pytestmark = pytest.mark.postgres

ADMIN = Actor(role=Role.ADMIN, region_slug=None)
PAGES = {
    "100": ("Anmeldung", "<p>Melden Sie Ihren Wohnsitz an.</p><p>Bringen Sie Ihren Pass mit.</p>"),
    "101": ("Sprachkurse", "<p>Der Integrationskurs ist <b>kostenlos</b>.</p>"),
}


@pytest.fixture
def pg_app(postgres_url):
    app = create_app({"TESTING": True, "DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake"})
    with app.app_context():
        upgrade()
    seed_regions(app)
    with app.app_context():
        for external_id, (title, content) in PAGES.items():
            result = push_translation(
                db.session, ADMIN, "alpha", external_id, "de", {"title": title, "content": content}
            )
            refresh_units(db.session, [result.view.translation.id])
    yield app
    with app.app_context():
        db.engine.dispose()


def exported(app) -> bytes:
    with app.app_context():
        index = TranslationMemoryIndex()

        def suggest(page, target):
            return suggest_translations(
                db.session, index, ADMIN, "alpha", page=page, target_language=target,
                machine_translation=False, queue=False,
            )  # fmt: skip

        data, report = xliff_io.export_xliff(db.session, ADMIN, "alpha", "en", suggest=suggest)
        assert report.pages == 2
        return data


def translated(data: bytes, title: str = "Languages") -> bytes:
    store = xliff.xlifffile.parsestring(data)
    for unit in store.units:
        identifier = unit.xmlelement.get("id")
        unit.target = title if identifier == "101.v1.title-0" else f"EN {unit.source}"
        unit.set_state_n(unit.statemap["translated"])
    return bytes(store)


def counts(app) -> tuple[int, int]:
    with app.app_context():
        return (
            db.session.scalar(select(func.count(PageTranslation.id))) or 0,
            db.session.scalar(select(func.count(TranslationUnit.id))) or 0,
        )


def test_a_file_postgresql_refuses_midway_stores_nothing_and_a_good_one_imports_once(pg_app):
    data = exported(pg_app)
    before = counts(pg_app)

    with pg_app.app_context(), pytest.raises(ImportRejected, match="nothing was stored"):
        xliff_io.import_xliff(db.session, None, "alpha", translated(data, title="T" * 1500))

    assert counts(pg_app) == before
    with pg_app.app_context():
        first = xliff_io.import_xliff(db.session, None, "alpha", translated(data))
        second = xliff_io.import_xliff(db.session, None, "alpha", translated(data))
    assert first.created == 2
    assert first.reviewed_units == first.units == 5  # two titles, three sentences
    assert (second.created, second.reviewed_units, second.unchanged) == (0, 0, 2)
    assert counts(pg_app) == (before[0] + 2, before[1] + 5)
