"""translation units keyed by their real text; deferred revisions of long imports

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 09:00:00

Written by hand (memory/tm_models.py). `unit_key` was the SHA-256 of the matching forms' hashes,
so units that differ only in numbers, phones or URLs ("Raum 202", "Raum 303") collapsed into
one; it is now the SHA-256 of the texts (memory.services.translation_memory.unit_key, copied
here so that this migration keeps computing what it computed when it was written). Units are
rekeyed in place (ids stay, so suggestions keep pointing at them); should two rows get the same
key, the older one is kept. Every process rebuilds its index afterwards (the epoch is bumped).
`tm_deferred_revision` lets a long TMX import publish its rows without holding the change
counter locked. tests/integration/test_migrations.py checks it against the models on SQLite
and PostgreSQL.
"""

import hashlib
import re

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

REVIEW_BATCH = "review"
BATCH_ROWS = 5000
_SPACES = re.compile(r"\s+")

units = sa.table(
    "translation_unit",
    sa.column("id", sa.Integer),
    sa.column("unit_key", sa.String),
    sa.column("source_text", sa.Text),
    sa.column("target_text", sa.Text),
    sa.column("source_hash", sa.String),
    sa.column("target_hash", sa.String),
    sa.column("source_language_id", sa.Integer),
    sa.column("target_language_id", sa.Integer),
    sa.column("region_id", sa.Integer),
    sa.column("page_id", sa.Integer),
    sa.column("import_batch", sa.String),
)
counter = sa.table("tm_revision", sa.column("id", sa.Integer), sa.column("epoch", sa.Integer))


def _sha256(*parts):
    return hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).hexdigest()


def _place(row):
    return (
        row.source_language_id,
        row.target_language_id,
        row.region_id if row.region_id is not None else "-",
        row.page_id if row.page_id is not None else "-",
    )


def _text_key(row):
    return _sha256(
        "text",
        _SPACES.sub(" ", row.source_text).strip(),
        _SPACES.sub(" ", row.target_text).strip(),
        *_place(row),
    )


def _form_key(row):
    return _sha256(row.source_hash, row.target_hash, *_place(row))


def _rekey(key_of):
    """Give every unit the key `key_of` computes; drop the younger of two with one key."""
    bind = op.get_bind()
    taken = set()
    duplicates = []
    changed = 0
    last_id = 0
    update = (
        units.update()
        .where(units.c.id == sa.bindparam("row_id"))
        .values(unit_key=sa.bindparam("key"))
    )
    while True:
        rows = bind.execute(
            sa.select(units).where(units.c.id > last_id).order_by(units.c.id).limit(BATCH_ROWS)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        updates = []
        for row in rows:
            key = key_of(row)
            if row.import_batch == REVIEW_BATCH:
                key = _sha256(REVIEW_BATCH, key)
            digest = bytes.fromhex(key)  # half the memory of the hex string at a million units
            if digest in taken:
                duplicates.append(row.id)
                continue
            taken.add(digest)
            if key != row.unit_key:
                updates.append({"row_id": row.id, "key": key})
        # Duplicates first: one of them may still hold the key a kept row is about to take.
        if duplicates:
            bind.execute(units.delete().where(units.c.id.in_(duplicates)))
        changed += len(duplicates)
        duplicates.clear()
        if updates:
            bind.execute(update, updates)
            changed += len(updates)
    if changed:
        bind.execute(counter.update().values(epoch=counter.c.epoch + 1))


def upgrade():
    op.create_table(
        "tm_deferred_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("published", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_deferred_revision")),
    )
    with op.batch_alter_table("tm_deferred_revision", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_tm_deferred_revision_published"), ["published"], unique=False
        )
    _rekey(_text_key)


def downgrade():
    _rekey(_form_key)
    with op.batch_alter_table("tm_deferred_revision", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tm_deferred_revision_published"))
    op.drop_table("tm_deferred_revision")
