"""the deletion log names the form and the language pair of each deleted unit; the memory
gets a random id (tm_revision.memory_id) that index snapshots name

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 14:00:00

A fuzzy index of distinct source forms (memory.services.translation_memory) learns from a
deletion which (source language, source form hash, target language) lost a unit, and counts
that form's remaining units again. Rows logged before this revision have none (NULL): every
index is built after it. An index snapshot records `memory_id`; a process maps only snapshots
of its own database's memory. Written by hand; tests/integration/test_migrations.py checks that it
matches the models on SQLite and PostgreSQL.
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("translation_unit_deletion", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_language_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("target_language_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("source_hash", sa.String(length=64), nullable=True))
    with op.batch_alter_table("tm_revision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("memory_id", sa.String(length=32), nullable=True))
    counter = sa.table("tm_revision", sa.column("memory_id", sa.String))
    op.get_bind().execute(counter.update().values(memory_id=uuid.uuid4().hex))


def downgrade():
    with op.batch_alter_table("tm_revision", schema=None) as batch_op:
        batch_op.drop_column("memory_id")
    with op.batch_alter_table("translation_unit_deletion", schema=None) as batch_op:
        batch_op.drop_column("source_hash")
        batch_op.drop_column("target_language_id")
        batch_op.drop_column("source_language_id")
