"""Replicas of what the profile publishes: committees (authorisation), attachment owners, employment.

Revision ID: 0005_decl_replicas
Revises: 0004_decl_unit_code
Create Date: 2026-11-27 20:06:16.884958
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

revision = "0005_decl_replicas"
down_revision = "0004_decl_unit_code"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "attachment_owners",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attachment_owners", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachment_owners_owner"), ["owner"], unique=False)

    op.create_table(
        "committees",
        sa.Column("code", sa.String(length=18), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("owner", sa.String(length=18), nullable=True),
        sa.Column(
            "scope", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
        ),
        sa.Column("updated_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "employments",
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("unit_code", sa.String(length=18), nullable=True),
        sa.Column("unit_name", sa.String(length=200), nullable=True),
        sa.Column("at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject"),
    )


def downgrade() -> None:

    op.drop_table("employments")
    op.drop_table("committees")
    with op.batch_alter_table("attachment_owners", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_owners_owner"))

    op.drop_table("attachment_owners")
