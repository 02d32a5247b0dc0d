"""The TMX import writes units through COPY on PostgreSQL: the same rows as the INSERT path.

A small TMX file with every property the importer reads is imported once into SQLite (batched
INSERTs) and once into a real PostgreSQL (COPY); the stored units must be equal field by field,
read back through the ORM, and a second import stores nothing on either.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from memory.models import Origin
from memory.services.tmx_io import import_tmx
from memory.tm_models import TranslationUnit
from tm_service import create_app
from tm_service.extensions import db

pytestmark = [pytest.mark.postgres]

TMX = """<?xml version="1.0" encoding="UTF-8"?>
<tmx version="1.4"><header srclang="de" datatype="plaintext" segtype="sentence" adminlang="en"
 creationtool="test" creationtoolversion="1" o-tmf="test"/><body>
<tu creationdate="20240105T101500Z" changedate="20250301T080000Z">
 <prop type="x-origin">machine</prop><prop type="x-reviewed">true</prop>
 <prop type="x-license">CC BY 4.0</prop><prop type="x-attribution">Landkreis Augsburg</prop>
 <prop type="x-url">https://integreat.app/lkaugsburg/de/</prop>
 <tuv xml:lang="de"><seg>Rufen Sie uns an: 0821 3102-0</seg></tuv>
 <tuv xml:lang="en"><seg>Call us: 0821 3102-0</seg></tuv></tu>
<tu><prop type="x-outdated">yes</prop>
 <tuv xml:lang="de"><seg>Die Sprechzeiten sind montags von 8 bis 12 Uhr.</seg></tuv>
 <tuv xml:lang="en"><seg>Office hours are Mondays from 8 to 12.</seg></tuv>
 <tuv xml:lang="ar"><seg>ساعات العمل أيام الاثنين من 8 إلى 12.</seg></tuv></tu>
</body></tmx>
"""

FIELDS = (
    "unit_key", "source_text", "target_text", "source_form", "target_form", "source_hash",
    "target_hash", "origin", "reviewed", "outdated", "license", "attribution", "url",
    "import_batch", "translated_at", "region_id", "page_id", "position", "revision",
)  # fmt: skip


def imported_units(url: str, path: Path) -> tuple[list[dict[str, object]], int]:
    app = create_app({"DATABASE_URL": url, "EMBEDDING_MODEL": "fake", "TESTING": True})
    with app.app_context():
        db.create_all()
        first = import_tmx(
            db.session, None, str(path), batch_name="t", license="CC0", attribution="fallback"
        )
        again = import_tmx(
            db.session, None, str(path), batch_name="t", license="CC0", attribution="fallback"
        )
        units = db.session.scalars(select(TranslationUnit).order_by(TranslationUnit.unit_key))
        rows = [{name: getattr(unit, name) for name in FIELDS} for unit in units]
        db.session.remove()
        db.engine.dispose()
    assert first.created == 3 and again.created == 0 and again.unchanged == 3
    return rows, first.created


def test_copy_on_postgresql_stores_what_the_insert_path_stores(tmp_path: Path, postgres_url):
    path = tmp_path / "small.tmx"
    path.write_text(TMX, encoding="utf-8")

    on_sqlite, _ = imported_units(f"sqlite:///{tmp_path}/t.sqlite3", path)
    on_postgres, _ = imported_units(postgres_url, path)

    assert on_postgres == on_sqlite
    machine = next(row for row in on_postgres if row["target_text"] == "Call us: 0821 3102-0")
    assert machine["origin"] is Origin.MACHINE
    assert machine["reviewed"] is True
    assert machine["translated_at"] == datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
    assert machine["license"] == "CC BY 4.0" and machine["attribution"] == "Landkreis Augsburg"
    outdated = [row for row in on_postgres if row["outdated"]]
    assert len(outdated) == 2 and {row["license"] for row in outdated} == {"CC0"}


def test_a_pair_repeated_in_another_chunk_is_stored_once_on_both(
    tmp_path: Path, postgres_url, monkeypatch
):
    """One unit per chunk, and the first pair again at the end of the file: PostgreSQL's staged
    COPY and the INSERT path both store it once and count the repeat as unchanged."""
    from memory.services import tmx_io

    monkeypatch.setattr(tmx_io, "CHUNK_UNITS", 1)
    first_tu = TMX[TMX.index("<tu ") : TMX.index("</tu>") + len("</tu>")]
    path = tmp_path / "repeated.tmx"
    path.write_text(TMX.replace("</body>", first_tu + "\n</body>"), encoding="utf-8")
    for url in (f"sqlite:///{tmp_path}/r.sqlite3", postgres_url):
        app = create_app({"DATABASE_URL": url, "EMBEDDING_MODEL": "fake", "TESTING": True})
        with app.app_context():
            db.create_all()
            report = import_tmx(
                db.session, None, str(path), batch_name="t", license="CC0", attribution="x"
            )
            stored = db.session.scalar(select(func.count()).select_from(TranslationUnit))
            db.session.remove()
            db.engine.dispose()
        assert (report.created, report.unchanged, stored) == (3, 1, 3), url


def test_a_file_broken_after_many_chunks_stores_nothing_on_postgresql(
    tmp_path: Path, postgres_url, monkeypatch
):
    """The staged COPY is open when the reader meets the broken end of the file: the import is
    refused naming the line, no unit stays behind, and the same session imports a good file."""
    from memory.errors import ImportRejected
    from memory.services import tmx_io

    monkeypatch.setattr(tmx_io, "CHUNK_UNITS", 1)
    broken = tmp_path / "broken.tmx"
    broken.write_text(TMX.replace("</body></tmx>", "<tu><tuv xml:lang='de'><seg>x</tuv>"))
    good = tmp_path / "good.tmx"
    good.write_text(TMX, encoding="utf-8")
    app = create_app({"DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake", "TESTING": True})
    with app.app_context():
        db.create_all()
        with pytest.raises(ImportRejected, match="line"):
            import_tmx(
                db.session, None, str(broken), batch_name="b", license="CC0", attribution="x"
            )
        assert db.session.scalar(select(func.count()).select_from(TranslationUnit)) == 0
        report = import_tmx(
            db.session, None, str(good), batch_name="g", license="CC0", attribution="x"
        )
        assert report.created == 3
        db.session.remove()
        db.engine.dispose()


def test_an_import_in_steps_with_key_workers_is_idempotent_and_atomic_on_postgresql(
    tmp_path: Path, postgres_url, monkeypatch
):
    """Every unit its own chunk and step (the unit table grows during the import), keys from
    worker processes: the repeated pair is stored once, the same file again adds nothing, and a
    file broken after some steps were inserted leaves nothing behind."""
    from memory.errors import ImportRejected
    from memory.services import tmx_io

    monkeypatch.setattr(tmx_io, "CHUNK_UNITS", 1)
    monkeypatch.setattr(tmx_io, "STAGED_UNITS", 1)
    monkeypatch.setattr(tmx_io, "KEY_WORKERS_AFTER", 0)
    monkeypatch.setattr(tmx_io, "key_workers", lambda: 2)
    first_tu = TMX[TMX.index("<tu ") : TMX.index("</tu>") + len("</tu>")]
    repeated = tmp_path / "repeated.tmx"
    repeated.write_text(TMX.replace("</body>", first_tu + "\n</body>"), encoding="utf-8")
    broken = tmp_path / "broken.tmx"
    broken.write_text(TMX.replace("</body></tmx>", "<tu><tuv xml:lang='de'><seg>x</tuv>"))
    app = create_app({"DATABASE_URL": postgres_url, "EMBEDDING_MODEL": "fake", "TESTING": True})
    with app.app_context():
        db.create_all()

        def imported(path: Path):
            return import_tmx(
                db.session, None, str(path), batch_name="s", license="CC0", attribution="x"
            )

        def stored() -> int:
            return db.session.scalar(select(func.count()).select_from(TranslationUnit))

        with pytest.raises(ImportRejected, match="line"):
            imported(broken)
        assert stored() == 0
        first, again = imported(repeated), imported(repeated)
        assert (first.created, first.unchanged, first.units) == (3, 1, 4)
        assert (again.created, again.unchanged, stored()) == (0, 4, 3)
        db.session.remove()
        db.engine.dispose()
