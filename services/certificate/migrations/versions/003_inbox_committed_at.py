"""inbox.committed_at: when a handler's transaction committed (event lag, bench/README.md)

Revision ID: 0009_cert_inbox_committed_at
Revises: 0002_signed_pdf_revocation
Create Date: 2026-11-27 20:20:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0009_cert_inbox_committed_at"
down_revision = "0002_signed_pdf_revocation"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("committed_at", shared.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("inbox", schema=None) as batch_op:
        batch_op.drop_column("committed_at")
