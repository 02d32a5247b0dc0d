"""CMS round trip: content kinds (page.kind: page, event, location, imprint; page.details:
their local details), meta descriptions (page_translation.meta_description) and the live sync's
state per region, language and kind (cms_sync_state)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:45:00

Written by hand (memory/cms_models.py); tests/integration/test_migrations.py checks that it
matches the models on SQLite and PostgreSQL. Additive: three new columns (every existing page is
of kind "page", every translation without a meta description) and one new table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("page") as batch:
        batch.add_column(
            sa.Column(
                "kind",
                sa.Enum(
                    "page",
                    "event",
                    "location",
                    "imprint",
                    name="content_kind",
                    native_enum=False,
                    create_constraint=False,
                    length=20,
                ),
                server_default="page",
                nullable=False,
            )
        )
        batch.add_column(sa.Column("details", sa.JSON(), nullable=True))
    with op.batch_alter_table("page_translation") as batch:
        batch.add_column(
            sa.Column("meta_description", sa.Text(), server_default="", nullable=False)
        )
    op.create_table(
        "cms_sync_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("language_code", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("etag", sa.String(length=300), nullable=True),
        sa.Column("last_modified", sa.String(length=100), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["region_id"],
            ["region.id"],
            name=op.f("fk_cms_sync_state_region_id_region"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cms_sync_state")),
        sa.UniqueConstraint(
            "region_id", "language_code", "kind", name=op.f("uq_cms_sync_state_region_id")
        ),
    )


def downgrade():
    op.drop_table("cms_sync_state")
    with op.batch_alter_table("page_translation") as batch:
        batch.drop_column("meta_description")
    with op.batch_alter_table("page") as batch:
        batch.drop_column("details")
        batch.drop_column("kind")
