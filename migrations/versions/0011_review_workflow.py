"""review workflow: region-wide jobs, decisions (placeholder: filled in by the change that needs it)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 16:45:00
"""

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
