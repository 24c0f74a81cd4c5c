"""definition decisions: the decision tables (DMN) a deployed diagram's business-rule tasks call

Revision ID: 0004_definition_decisions
Revises: 0003_definition_calls
Create Date: 2026-11-28 10:00:00.000000
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_definition_decisions"
down_revision = "0003_definition_calls"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "decisions",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("definitions", schema=None) as batch_op:
        batch_op.drop_column("decisions")
