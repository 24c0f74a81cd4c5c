"""organisation message reads: each staff member reads an organisation's notice for themselves

Revision ID: 0005_org_message_reads
Revises: 0004_overdue
Create Date: 2026-11-27 20:19:27.078903
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0005_org_message_reads"
down_revision = "0004_overdue"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organisation_message_reads",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("reader", sa.String(length=64), nullable=False),
        sa.Column("read_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["messages.id"],
        ),
        sa.PrimaryKeyConstraint("message_id", "reader"),
    )


def downgrade() -> None:
    op.drop_table("organisation_message_reads")
