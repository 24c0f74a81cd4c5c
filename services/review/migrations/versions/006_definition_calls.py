"""definition calls: the versions of the processes a deployed diagram calls

Revision ID: 0003_definition_calls
Revises: 0002_runtime
Create Date: 2026-11-27 20:20:12.274133
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_definition_calls"
down_revision = "0002_runtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "calls", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=True
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.drop_column("calls")
