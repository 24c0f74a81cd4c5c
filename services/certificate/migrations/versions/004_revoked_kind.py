"""certificates.revoked_kind: fraud (the holder goes on the integrity record) or other

Revision ID: 0010_cert_revoked_kind
Revises: 0009_cert_inbox_committed_at
Create Date: 2026-12-01 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_cert_revoked_kind"
down_revision = "0009_cert_inbox_committed_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_kind", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_column("revoked_kind")
