"""Merge heads: join the branches that were written in parallel, so the service has one head
and `alembic upgrade head` has one target (docs/migrations.md). No schema change.

Revision ID: 011_merge_heads
Revises: 0003_held_messages, 0004_clock_moves, 0004_definition_decisions, 0005_recusals, 0009_revi_inbox_committed_at, 0010_task_action
Create Date: 2026-12-03 17:00:00
"""

revision = "011_merge_heads"
down_revision = (
    "0003_held_messages",
    "0004_clock_moves",
    "0004_definition_decisions",
    "0005_recusals",
    "0009_revi_inbox_committed_at",
    "0010_task_action",
)
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
