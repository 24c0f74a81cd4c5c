"""outbox_notify: on PostgreSQL, a statement trigger on the outbox that notifies the relay when a
transaction that wrote outbox rows commits, so it publishes them at once instead of at its next poll
(shared/messaging/wake.py). Nothing on SQLite, whose relays have a doorbell instead.

Revision ID: 008_outbox_notify
Revises: 007_merge_heads
Create Date: 2026-12-04 16:00:00
"""

from alembic import op

from shared.migrations import create_outbox_notify, drop_outbox_notify

revision = "008_outbox_notify"
down_revision = "007_merge_heads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_outbox_notify(op)


def downgrade() -> None:
    drop_outbox_notify(op)
