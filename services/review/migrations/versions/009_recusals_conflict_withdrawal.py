"""recusals: an expert's recusal from one declaration (not every later draw for that applicant);
expert_conflicts gain their withdrawal (who, when, why: kept, not deleted)

Revision ID: 0005_recusals
Revises: 0002_flows
Create Date: 2026-12-03 10:30:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0005_recusals"
down_revision = "0002_flows"  # where expert_conflicts was made; a branch of its own, joined in 011_merge_heads
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recusals",
        sa.Column("expert", sa.String(length=64), nullable=False),
        sa.Column("declaration_id", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("recused_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("expert", "declaration_id"),
    )
    with op.batch_alter_table("expert_conflicts") as batch_op:
        batch_op.add_column(sa.Column("withdrawn_at", shared.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("withdrawn_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("withdraw_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("expert_conflicts") as batch_op:
        batch_op.drop_column("withdraw_reason")
        batch_op.drop_column("withdrawn_by")
        batch_op.drop_column("withdrawn_at")
    op.drop_table("recusals")
