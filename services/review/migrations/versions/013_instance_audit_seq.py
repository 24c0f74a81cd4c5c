"""The instance counts its audit entries (audit_seq), so appending one needs no SELECT max(seq).

Revision ID: 013_instance_audit_seq
Revises: 012_outbox_notify
Create Date: 2026-12-04 16:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "013_instance_audit_seq"
down_revision = "012_outbox_notify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("audit_seq", sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE instances SET audit_seq = COALESCE("
        "(SELECT MAX(audit_log.seq) FROM audit_log WHERE audit_log.instance_id = instances.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("audit_seq")
