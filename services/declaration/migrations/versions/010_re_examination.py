"""declarations: re-examination (复查) of a failed vote: open until, request, decision

Revision ID: 0013_decl_re_examination
Revises: 0012_decl_specialty_relation
Create Date: 2026-12-03 13:30:00
"""

import sqlalchemy as sa
from alembic import op

import shared.db

revision = "0013_decl_re_examination"
down_revision = "0012_decl_specialty_relation"
branch_labels = None
depends_on = None

COLUMNS = (
    "re_examination_open_until",
    "re_examination_requested_at",
    "re_examination_reason",
    "re_examination_decision",
    "re_examination_decision_reason",
    "re_examination_decided_at",
)


def upgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("re_examination_open_until", shared.db.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("re_examination_requested_at", shared.db.UtcDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("re_examination_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("re_examination_decision", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("re_examination_decision_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("re_examination_decided_at", shared.db.UtcDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("declarations", schema=None) as batch_op:
        for column in reversed(COLUMNS):
            batch_op.drop_column(column)
