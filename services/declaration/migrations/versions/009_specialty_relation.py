"""activities.specialty_relation: an unrelated current specialty warns the unit or refuses the submission

Revision ID: 0012_decl_specialty_relation
Revises: 0011_decl_integrity_records
Create Date: 2026-12-03 13:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_decl_specialty_relation"
down_revision = "0011_decl_integrity_records"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("specialty_relation", sa.String(length=10), server_default="warn", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_column("specialty_relation")
