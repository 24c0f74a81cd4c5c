"""tasks.action: the diagram's action property of a task (the endpoint that completes it), so
panels, publicity and the tally find tasks by what they are, not by element id; tasks already
projected take theirs from their stage (the stages that carried an action, and the experts' votes)

Revision ID: 0010_task_action
Revises: 0002_runtime
Create Date: 2026-12-03 13:50:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_task_action"
down_revision = "0002_runtime"  # where tasks.stage was made; a branch of its own, joined in 011_merge_heads
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("action", sa.String(length=30), nullable=True))
    tasks = sa.table(
        "tasks", sa.column("action", sa.String), sa.column("stage", sa.String), sa.column("role", sa.String)
    )
    for stage, action in (
        ("unit_publicity", "publicity:unit"),
        ("result_publicity", "publicity:result"),
        ("schedule_defence", "defence"),
        ("record_attendance", "attendance"),
    ):
        op.execute(tasks.update().where(tasks.c.stage == stage).values(action=action))
    op.execute(tasks.update().where(tasks.c.role == "expert").values(action="vote"))


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_column("action")
