"""The attachments each declaration refers to (narrowing access grants), and continuing education's
specialist hours (专业科目学时).

Revision ID: 0004_references_specialist_hours
Revises: 0003_grants
Create Date: 2026-11-27 20:03:48.598610
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import shared.db

revision = "0004_references_specialist_hours"
down_revision = "0003_grants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "declaration_references",
        sa.Column("declaration_id", sa.String(length=64), nullable=False),
        sa.Column("applicant", sa.String(length=64), nullable=False),
        sa.Column(
            "attachment_ids",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("updated_at", shared.db.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("declaration_id"),
    )
    with op.batch_alter_table("continuing_education", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "specialist_hours",
                sa.Numeric(precision=6, scale=1, asdecimal=False),
                server_default="0",
                nullable=False,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("continuing_education", schema=None) as batch_op:
        batch_op.drop_column("specialist_hours")

    op.drop_table("declaration_references")
