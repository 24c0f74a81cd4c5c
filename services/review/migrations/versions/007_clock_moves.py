"""clock_moves: every move of the system's test clock, audited; the review's own offset row goes
(the offset now lives in the test clock file every service reads, shared/clock.py)

Revision ID: 0004_clock_moves
Revises: 0002_flows
Create Date: 2026-12-03 10:00:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0004_clock_moves"
down_revision = "0002_flows"  # where test_clock was made; a branch of its own, joined in 011_merge_heads
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clock_moves",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("moved_by", sa.String(length=64), nullable=False),
        sa.Column("moved_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("from_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("to_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.drop_table("test_clock")


def downgrade() -> None:
    op.create_table(
        "test_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("offset_seconds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.drop_table("clock_moves")
