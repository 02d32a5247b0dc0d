"""review workflow: a decision can be undone (the audit keeps it, marked undone)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:45:00

The review queue's undo (memory.services.review_queue.undo_decision) puts a decided segment
back into the queue; the decision's audit row stays, with when and by whom it was undone
(NULL for every row before this revision and for decisions that stand). Written by hand;
tests/integration/test_migrations.py checks that it matches the models on SQLite and
PostgreSQL.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("suggestion_review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("undone_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("undone_by", sa.String(length=200), nullable=True))


def downgrade():
    with op.batch_alter_table("suggestion_review", schema=None) as batch_op:
        batch_op.drop_column("undone_by")
        batch_op.drop_column("undone_at")
