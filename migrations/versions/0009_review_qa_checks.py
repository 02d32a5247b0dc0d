"""the review audit records the quality checks a decision's text failed and whether the
translator confirmed them

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 14:10:00

An accept or edit whose text fails a check (matchers.qa_checks: numbers, phones, dates, times,
URLs, e-mails, inline tags, untranslated source, whitespace, punctuation) is refused unless the
translator confirms; the audit row keeps the failed checks (JSON, NULL for rows before this
revision) and the confirmation. Written by hand; tests/integration/test_migrations.py checks
that it matches the models on SQLite and PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("suggestion_review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("qa_checks", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column("checks_confirmed", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade():
    with op.batch_alter_table("suggestion_review", schema=None) as batch_op:
        batch_op.drop_column("checks_confirmed")
        batch_op.drop_column("qa_checks")
