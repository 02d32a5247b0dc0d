"""review-UI sessions end on the server: api_token.session_epoch, moved on by sign-out

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 12:00:00

Written by hand (memory/models.py, ApiToken); tests/integration/test_migrations.py checks that
it matches the models on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("api_token") as batch:
        batch.add_column(
            sa.Column("session_epoch", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade():
    with op.batch_alter_table("api_token") as batch:
        batch.drop_column("session_epoch")
