"""Merge heads: join the branches that were written in parallel, so the service has one head
and `alembic upgrade head` has one target (docs/migrations.md). No schema change.

Revision ID: 007_merge_heads
Revises: 0004_references_specialist_hours, 0010_prof_appointment_proof_ids
Create Date: 2026-12-03 17:00:00
"""

revision = "007_merge_heads"
down_revision = ("0004_references_specialist_hours", "0010_prof_appointment_proof_ids")
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
