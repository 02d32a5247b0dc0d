"""gazetteer: each region's local details (places, postal codes with towns, addresses, offices,
phones, e-mails, web domains) and its last automatic build

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 09:00:00

Written by hand (memory/gazetteer_models.py); tests/integration/test_migrations.py checks that
it matches the models on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def _enum(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=False, length=20)


def upgrade():
    op.create_table(
        "gazetteer_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            _enum(
                "gazetteer_kind",
                "place",
                "postal_code_town",
                "address",
                "office",
                "phone",
                "email",
                "url",
            ),
            nullable=False,
        ),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("key", sa.String(length=300), nullable=False),
        sa.Column("names", sa.JSON(), nullable=False),
        sa.Column("origin", _enum("gazetteer_origin", "auto", "manual"), nullable=False),
        sa.Column("removed", sa.Boolean(), nullable=False),
        sa.Column("frequency", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_gazetteer_entry_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_gazetteer_entry")),
        sa.UniqueConstraint(
            "region_id", "kind", "key", name=op.f("uq_gazetteer_entry_region_id")
        ),
    )
    op.create_index(op.f("ix_gazetteer_entry_region_id"), "gazetteer_entry", ["region_id"])
    op.create_table(
        "gazetteer_build",
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("other_regions", sa.Integer(), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_gazetteer_build_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("region_id", name=op.f("pk_gazetteer_build")),
    )


def downgrade():
    op.drop_table("gazetteer_build")
    op.drop_index(op.f("ix_gazetteer_entry_region_id"), table_name="gazetteer_entry")
    op.drop_table("gazetteer_entry")
