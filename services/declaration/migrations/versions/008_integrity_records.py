"""integrity_records: certificates revoked for fraud bar their holders from declaring (诚信档案)

Revision ID: 0011_decl_integrity_records
Revises: 0010_decl_unit_started_at
Create Date: 2026-12-01 10:10:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0011_decl_integrity_records"
down_revision = "0010_decl_unit_started_at"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "integrity_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=False),
        sa.Column("holder_name", sa.String(length=100), nullable=False),
        sa.Column("certificate_id", sa.String(length=36), nullable=False),
        sa.Column("certificate_number", sa.String(length=40), nullable=False),
        sa.Column("declaration_id", sa.String(length=36), nullable=False),
        sa.Column("qualification_name", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("starts_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.Column("lifted_at", shared.db.UtcDateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=64), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("certificate_id"),
    )
    with op.batch_alter_table("integrity_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_integrity_records_subject"), ["subject"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("integrity_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_integrity_records_subject"))
    op.drop_table("integrity_records")
