"""suggestions, reviews and reuse: suggestion queue, review audit, page derivations, unit
rejections, machine-translation usage year

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 14:00:00

Written by hand (memory/review_models.py, memory/tm_models.py); tests/integration/
test_migrations.py checks that it matches the models on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _status(name, *values):
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=False, length=20)


def upgrade():
    with op.batch_alter_table("region") as batch:
        batch.add_column(sa.Column("mt_usage_year", sa.Integer(), nullable=True))
    with op.batch_alter_table("translation_unit") as batch:
        batch.add_column(sa.Column("rejections", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "suggestion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=True),
        sa.Column("source_translation_id", sa.Integer(), nullable=True),
        sa.Column("source_version", sa.Integer(), nullable=True),
        sa.Column("source_language_id", sa.Integer(), nullable=False),
        sa.Column("target_language_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.String(length=20), nullable=False),
        sa.Column("segment_index", sa.Integer(), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("queue_key", sa.String(length=64), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column(
            "status",
            _status("suggestion_status", "pending", "accepted", "edited", "rejected"),
            nullable=False,
        ),
        sa.Column("final_text", sa.Text(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["page_id"], ["page.id"], name=op.f("fk_suggestion_page_id_page"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_suggestion_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_language_id"],
            ["language.id"],
            name=op.f("fk_suggestion_source_language_id_language"),
        ),
        sa.ForeignKeyConstraint(
            ["source_translation_id"],
            ["page_translation.id"],
            name=op.f("fk_suggestion_source_translation_id_page_translation"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_language_id"],
            ["language.id"],
            name=op.f("fk_suggestion_target_language_id_language"),
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["translation_unit.id"],
            name=op.f("fk_suggestion_unit_id_translation_unit"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion")),
    )
    op.create_index(
        "ix_suggestion_queue", "suggestion", ["region_id", "target_language_id", "status"]
    )
    op.create_index("ix_suggestion_queue_key", "suggestion", ["queue_key"])
    op.create_index(op.f("ix_suggestion_page_id"), "suggestion", ["page_id"])
    op.create_table(
        "suggestion_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("suggestion_id", sa.Integer(), nullable=False),
        sa.Column(
            "decision", _status("review_decision", "accept", "edit", "reject"), nullable=False
        ),
        sa.Column("candidate_index", sa.Integer(), nullable=True),
        sa.Column("before_text", sa.Text(), nullable=True),
        sa.Column("after_text", sa.Text(), nullable=True),
        sa.Column("unit_id", sa.Integer(), nullable=True),
        sa.Column("actor_token_id", sa.Integer(), nullable=True),
        sa.Column("actor_name", sa.String(length=200), nullable=False),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_token_id"],
            ["api_token.id"],
            name=op.f("fk_suggestion_review_actor_token_id_api_token"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["suggestion_id"],
            ["suggestion.id"],
            name=op.f("fk_suggestion_review_suggestion_id_suggestion"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suggestion_review")),
    )
    op.create_index(
        op.f("ix_suggestion_review_suggestion_id"), "suggestion_review", ["suggestion_id"]
    )
    op.create_table(
        "page_derivation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("page_id", sa.Integer(), nullable=False),
        sa.Column("language_id", sa.Integer(), nullable=False),
        sa.Column("origin_translation_id", sa.Integer(), nullable=True),
        sa.Column("origin_version", sa.Integer(), nullable=False),
        sa.Column("origin_content_hash", sa.String(length=64), nullable=False),
        sa.Column("origin_title", sa.String(length=1000), nullable=False),
        sa.Column("origin_content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["language_id"], ["language.id"], name=op.f("fk_page_derivation_language_id_language")
        ),
        sa.ForeignKeyConstraint(
            ["origin_translation_id"],
            ["page_translation.id"],
            name=op.f("fk_page_derivation_origin_translation_id_page_translation"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["page.id"],
            name=op.f("fk_page_derivation_page_id_page"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_page_derivation")),
        sa.UniqueConstraint("page_id", "language_id", name=op.f("uq_page_derivation_page_id")),
    )
    op.create_index(op.f("ix_page_derivation_page_id"), "page_derivation", ["page_id"])


def downgrade():
    op.drop_index(op.f("ix_page_derivation_page_id"), table_name="page_derivation")
    op.drop_table("page_derivation")
    op.drop_index(op.f("ix_suggestion_review_suggestion_id"), table_name="suggestion_review")
    op.drop_table("suggestion_review")
    op.drop_index(op.f("ix_suggestion_page_id"), table_name="suggestion")
    op.drop_index("ix_suggestion_queue_key", table_name="suggestion")
    op.drop_index("ix_suggestion_queue", table_name="suggestion")
    op.drop_table("suggestion")
    with op.batch_alter_table("translation_unit") as batch:
        batch.drop_column("rejections")
    with op.batch_alter_table("region") as batch:
        batch.drop_column("mt_usage_year")
