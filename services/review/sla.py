"""Service levels (办理时限): flagging an overdue task to its organisation and to the level above.

The levels are process data (``service_levels``: {stage: working days}); the
diagrams draw them. Each reviewer's task that has a level carries a
non-interrupting boundary timer due at the end of that many working days after
the day it opened (``working_days_due`` in engine/functions.py), and the task
row's ``due_at`` is that timer's. When it fires the task stays open and the
diagram's service task ``review.flag_overdue`` flags it (``flag_overdue``
below): its organisation and the level above see it in ``/tasks/overdue``, and
it is announced once (``review.task.overdue.v1``) so notify tells their staff.
"""

from __future__ import annotations

from sqlalchemy import select

from services.review.models import Organisation, Task
from shared import clock
from shared.contracts.review import TaskOverdue
from shared.uow import UnitOfWork

OPEN = ("ready", "claimed")


def level_above(uow: UnitOfWork, task: Task) -> str | None:
    """Whom an overdue task is flagged to besides its own organisation."""
    if task.role == "expert":
        return task.organisation  # the committee office of the expert's committee
    if task.role == "title_office":
        return None
    org = uow.session.get(Organisation, task.organisation) if task.organisation else None
    if org is not None and org.parent_code and task.role in ("unit", "department"):
        return org.parent_code
    return uow.session.scalar(select(Organisation.code).where(Organisation.kind == "title_office"))


def flag_overdue(uow: UnitOfWork, declaration_id: str, stage: str) -> list[str]:
    """The diagram's service task behind a task's service-level timer: flag the declaration's open tasks
    of that stage (each of a vote's experts, say) once each; returns the ids flagged."""
    now = clock.now()
    late = list(
        uow.session.scalars(
            select(Task)
            .where(
                Task.declaration_id == declaration_id,
                Task.stage == stage,
                Task.status.in_(OPEN),
                Task.overdue_at.is_(None),
            )
            .order_by(Task.created_at, Task.id)
        )
    )
    for task in late:
        task.overdue_at, task.escalated_to = now, level_above(uow, task)
        # In the same transaction as the flag, so each task is announced once (notify tells the staff).
        uow.publish(
            TaskOverdue(
                declaration_id=task.declaration_id,
                task_id=task.id,
                stage=stage,
                stage_name=task.name,
                organisation=task.organisation,
                escalated_to=task.escalated_to,
                due_at=(task.due_at or now).isoformat(),
                at=now.isoformat(),
            ),
            correlation_id=task.declaration_id,
        )
    return [task.id for task in late]
