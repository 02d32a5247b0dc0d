"""Migration 0005 rekeys stored units by their real text in place, and back on downgrade.

Units stored before it carry keys over their matching forms; after it, a re-import of the same
TMX file must find them unchanged (the key the service computes now), and units that differ
only in numbers can be stored side by side. SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from memory.services.translation_memory import REVIEW_BATCH, unit_key
from tm_service import create_app
from tm_service.extensions import db

FORM_HASH = hashlib.sha256(b"raum {NUM}").hexdigest()
TARGET_FORM_HASH = hashlib.sha256(b"room {NUM}").hexdigest()


def sha256(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()


# The key as revision 0004 stored it: over the forms' hashes, languages, region, page.
OLD_KEY = sha256(FORM_HASH, TARGET_FORM_HASH, 1, 2, "-", "-")


def insert_unit(connection, unit_id: int, source: str, target: str, key: str, batch: str):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    connection.execute(
        text(
            "INSERT INTO translation_unit (id, unit_key, source_language_id, target_language_id,"
            " source_text, target_text, source_form, target_form, source_hash, target_hash,"
            " position, origin, reviewed, outdated, rejections, license, attribution, url,"
            " import_batch, revision, created_at, updated_at) VALUES (:id, :key, 1, 2, :source,"
            " :target, 'raum {NUM}', 'room {NUM}', :sh, :th, 0, 'human', false, false, 0,"
            " 'CC BY 4.0', 'Stadt Augsburg', '', :batch, 3, :now, :now)"
        ),
        {
            "id": unit_id,
            "key": key,
            "source": source,
            "target": target,
            "sh": FORM_HASH,
            "th": TARGET_FORM_HASH,
            "batch": batch,
            "now": now,
        },
    )


def keys(connection) -> dict[int, str]:
    rows = connection.execute(text("SELECT id, unit_key FROM translation_unit ORDER BY id"))
    return {row.id: row.unit_key for row in rows}


def epoch(connection) -> int:
    return connection.execute(text("SELECT epoch FROM tm_revision WHERE id = 1")).scalar_one()


def check_rekeying(database_url: str) -> None:
    app = create_app({"TESTING": True, "DATABASE_URL": database_url})
    with app.app_context():
        upgrade(revision="0004")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO language (id, code, bcp47_tag, name, english_name, direction)"
                    " VALUES (1, 'de', 'de', 'Deutsch', 'German', 'ltr'),"
                    " (2, 'en', 'en', 'English', 'English', 'ltr')"
                )
            )
            connection.execute(
                text("INSERT INTO tm_revision (id, revision, epoch) VALUES (1, 3, 0)")
            )
            insert_unit(connection, 1, "Raum  202", "Room 202", OLD_KEY, "vendor.tmx")
            insert_unit(
                connection, 2, "Raum 202", "Room 202", sha256(REVIEW_BATCH, OLD_KEY), REVIEW_BATCH
            )

        upgrade(revision="0005")
        with db.engine.begin() as connection:
            # What the service computes for the same texts: a re-import finds them unchanged.
            tmx_key = unit_key("Raum 202", "Room 202", 1, 2, None, None)
            assert keys(connection) == {1: tmx_key, 2: sha256(REVIEW_BATCH, tmx_key)}
            assert epoch(connection) == 1  # every process rebuilds its index
            # "Raum 303" shares the form of "Raum 202" and is a unit of its own now.
            insert_unit(
                connection,
                3,
                "Raum 303",
                "Room 303",
                unit_key("Raum 303", "Room 303", 1, 2, None, None),
                "vendor.tmx",
            )

        downgrade(revision="0004")
        with db.engine.begin() as connection:
            # Back to form keys: the younger of two units with one form key goes.
            assert keys(connection) == {1: OLD_KEY, 2: sha256(REVIEW_BATCH, OLD_KEY)}
        downgrade(revision="base")
        db.engine.dispose()


def test_migration_0005_rekeys_units_by_their_text_on_sqlite(tmp_path):
    check_rekeying(f"sqlite:///{tmp_path / 'tm.sqlite3'}")


@pytest.mark.postgres
def test_migration_0005_rekeys_units_by_their_text_on_postgresql(postgres_url):
    check_rekeying(postgres_url)
