"""Service levels (办理时限): how many working days each stage may take, and overdue flags.

Defaults come from Tianjin's annual plans (product.md §6); an activity sets its
own in its settings (``service_levels``: {stage: working days}). A task's due
time is the end of the N-th working day after the day it opened (Beijing time)
on the working-day calendar; once past it, the scheduler flags the task to its
organisation and to the level above, which see it in ``/tasks/overdue``, and
announces it once (``review.task.overdue.v1``) so notify tells their staff.
"""
from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import select

from services.review.models import Organisation, Task
from shared import workdays
from shared.db import utcnow
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
BEIJING = dt.timezone(dt.timedelta(hours=8))

# Working days per stage (product.md §6): acceptance within 5 of receipt, the meeting
# within 20 after acceptance, result publicity within 5 after the meeting, the report
# within 5 after publicity, certificates within 10 after filing.
DEFAULT_LEVELS: dict[str, int] = {
    "committee_acceptance": 5,
    "expert_review": 20,
    "expert_vote": 20,
    "panel_meeting": 20,
    "defence": 20,
    "result_publicity": 5,
    "start_result_publicity": 5,
    "report_results": 5,
    "report_to_title_office": 5,
    "title_office_filing": 10,
}


def level_of(stage: str, data: dict[str, Any]) -> int | None:
    settings = data.get("settings") or {}
    own = data.get("service_levels") or settings.get("service_levels") or {}
    days = own.get(stage, DEFAULT_LEVELS.get(stage))
    return int(days) if days else None


def due_at(stage: str, data: dict[str, Any], opened: dt.datetime | None = None) -> dt.datetime | None:
    days = level_of(stage, data)
    if days is None:
        return None
    day = (opened or utcnow()).astimezone(BEIJING).date()
    try:
        last = workdays.add_workdays(day + dt.timedelta(days=1), days)
    except workdays.UnknownYear:
        # No calendar for that year yet: no due time rather than a guessed one.
        log.warning("no working-day calendar for the service level", extra={"stage": stage, "day": str(day)})
        return None
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), BEIJING).astimezone(dt.timezone.utc)


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


def flag_overdue(uow: UnitOfWork, now: dt.datetime | None = None) -> int:
    """Flag the open tasks past their level (once each); returns how many were flagged."""
    now = now or utcnow()
    late = list(uow.session.scalars(select(Task).where(
        Task.status.in_(("ready", "claimed")), Task.due_at <= now, Task.overdue_at.is_(None))
        .with_for_update(skip_locked=True)))
    for task in late:
        task.overdue_at, task.escalated_to = now, level_above(uow, task)
        # In the same transaction as the flag, so each task is announced once (notify tells the staff).
        uow.publish("review.task.overdue.v1", {
            "declaration_id": task.declaration_id, "task_id": task.id, "stage": task.stage or task.bpmn_id,
            "stage_name": task.name, "organisation": task.organisation, "escalated_to": task.escalated_to,
            "due_at": task.due_at.isoformat(), "at": now.isoformat()}, correlation_id=task.declaration_id)
    return len(late)
