"""declarations.unit_claimed_at becomes unit_started_at: a decision or a later stage ends withdrawal too

Revision ID: 0010_decl_unit_started_at
Revises: 0009_decl_inbox_committed_at
Create Date: 2026-12-01 10:00:00
"""

from alembic import op

revision = "0010_decl_unit_started_at"
down_revision = "0009_decl_inbox_committed_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.alter_column("unit_claimed_at", new_column_name="unit_started_at")


def downgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.alter_column("unit_started_at", new_column_name="unit_claimed_at")
