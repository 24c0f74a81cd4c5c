"""held messages: messages for a suspended instance (or one with an open incident), delivered on resume

Revision ID: 0003_held_messages
Revises: 0002_runtime
Create Date: 2026-11-27 20:11:28.192440
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

revision = "0003_held_messages"
down_revision = "0002_runtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "held_messages",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column(
            "data", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("arrived_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["instances.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("instance_id", "message_id", name="uq_held_instance_message"),
    )
    with op.batch_alter_table("held_messages", schema=None) as batch_op:
        batch_op.create_index("ix_held_instance_arrival", ["instance_id", "arrived_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("held_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_held_instance_arrival")

    op.drop_table("held_messages")
