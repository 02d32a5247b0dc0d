"""CMS round trip: content kinds, meta descriptions, XLIFF, sync (placeholder: filled in by the change that needs it)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:45:00
"""

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
