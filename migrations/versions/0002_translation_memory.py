"""translation memory: translation units, deletion log, change counter

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 10:00:00.000000

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "tm_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tm_revision")),
    )
    op.create_table(
        "translation_unit_deletion",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_translation_unit_deletion")),
    )
    with op.batch_alter_table("translation_unit_deletion", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_translation_unit_deletion_revision"), ["revision"], unique=False
        )

    op.create_table(
        "translation_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_key", sa.String(length=64), nullable=False),
        sa.Column("source_language_id", sa.Integer(), nullable=False),
        sa.Column("target_language_id", sa.Integer(), nullable=False),
        sa.Column("source_text", sa.Text(), nullable=False),
        sa.Column("target_text", sa.Text(), nullable=False),
        sa.Column("source_form", sa.Text(), nullable=False),
        sa.Column("target_form", sa.Text(), nullable=False),
        sa.Column("source_hash", sa.String(length=64), nullable=False),
        sa.Column("target_hash", sa.String(length=64), nullable=False),
        sa.Column("context_hash", sa.String(length=64), nullable=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("page_id", sa.Integer(), nullable=True),
        sa.Column("source_translation_id", sa.Integer(), nullable=True),
        sa.Column("target_translation_id", sa.Integer(), nullable=True),
        sa.Column("source_version", sa.Integer(), nullable=True),
        sa.Column("target_version", sa.Integer(), nullable=True),
        sa.Column(
            "origin",
            sa.Enum("human", "machine", "reused", name="origin", native_enum=False, length=20),
            nullable=False,
        ),
        sa.Column("reviewed", sa.Boolean(), nullable=False),
        sa.Column("outdated", sa.Boolean(), nullable=False),
        sa.Column("license", sa.String(length=100), nullable=False),
        sa.Column("attribution", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("import_batch", sa.String(length=200), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("translated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["page_id"],
            ["page.id"],
            name=op.f("fk_translation_unit_page_id_page"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_translation_unit_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_language_id"],
            ["language.id"],
            name=op.f("fk_translation_unit_source_language_id_language"),
        ),
        sa.ForeignKeyConstraint(
            ["source_translation_id"],
            ["page_translation.id"],
            name=op.f("fk_translation_unit_source_translation_id_page_translation"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["target_language_id"],
            ["language.id"],
            name=op.f("fk_translation_unit_target_language_id_language"),
        ),
        sa.ForeignKeyConstraint(
            ["target_translation_id"],
            ["page_translation.id"],
            name=op.f("fk_translation_unit_target_translation_id_page_translation"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_translation_unit")),
        sa.UniqueConstraint("unit_key", name=op.f("uq_translation_unit_unit_key")),
    )
    with op.batch_alter_table("translation_unit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_translation_unit_import_batch"), ["import_batch"], unique=False
        )
        batch_op.create_index(
            "ix_translation_unit_lookup",
            ["source_language_id", "target_language_id", "source_hash"],
            unique=False,
        )
        batch_op.create_index(batch_op.f("ix_translation_unit_page_id"), ["page_id"], unique=False)
        batch_op.create_index(
            "ix_translation_unit_pivot", ["source_language_id", "target_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_translation_unit_region_id"), ["region_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_translation_unit_revision"), ["revision"], unique=False
        )


def downgrade():
    with op.batch_alter_table("translation_unit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_translation_unit_revision"))
        batch_op.drop_index(batch_op.f("ix_translation_unit_region_id"))
        batch_op.drop_index("ix_translation_unit_pivot")
        batch_op.drop_index(batch_op.f("ix_translation_unit_page_id"))
        batch_op.drop_index("ix_translation_unit_lookup")
        batch_op.drop_index(batch_op.f("ix_translation_unit_import_batch"))

    op.drop_table("translation_unit")
    with op.batch_alter_table("translation_unit_deletion", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_translation_unit_deletion_revision"))

    op.drop_table("translation_unit_deletion")
    op.drop_table("tm_revision")
