"""terminology: the termbase (concepts with terms per language and status, shared or one
region's own, with source, licence and attribution) and the DeepL glossaries made from it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 16:45:00

Written by hand (memory/terminology_models.py); tests/integration/test_migrations.py checks that
it matches the models on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "term_concept",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("definition", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("source_url", sa.String(length=1000), nullable=True),
        sa.Column("license", sa.String(length=100), nullable=False),
        sa.Column("attribution", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_term_concept_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_term_concept")),
        sa.UniqueConstraint("scope", "key", name=op.f("uq_term_concept_scope")),
    )
    op.create_index(op.f("ix_term_concept_region_id"), "term_concept", ["region_id"])
    op.create_table(
        "term",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("concept_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=300), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "preferred",
                "admitted",
                "deprecated",
                "forbidden",
                name="term_status",
                native_enum=False,
                create_constraint=False,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("part_of_speech", sa.String(length=50), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["concept_id"],
            ["term_concept.id"],
            name=op.f("fk_term_concept_id_term_concept"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_term")),
        sa.UniqueConstraint("concept_id", "language", "text", name=op.f("uq_term_concept_id")),
    )
    op.create_index(op.f("ix_term_concept_id"), "term", ["concept_id"])
    op.create_index(op.f("ix_term_language"), "term", ["language"])
    op.create_table(
        "deepl_glossary",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=100), nullable=False),
        sa.Column("source_language", sa.String(length=20), nullable=False),
        sa.Column("target_language", sa.String(length=20), nullable=False),
        sa.Column("glossary_id", sa.String(length=100), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deepl_glossary")),
        sa.UniqueConstraint(
            "scope",
            "source_language",
            "target_language",
            name=op.f("uq_deepl_glossary_scope"),
        ),
    )


def downgrade():
    op.drop_table("deepl_glossary")
    op.drop_index(op.f("ix_term_language"), table_name="term")
    op.drop_index(op.f("ix_term_concept_id"), table_name="term")
    op.drop_table("term")
    op.drop_index(op.f("ix_term_concept_region_id"), table_name="term_concept")
    op.drop_table("term_concept")
