"""Task queues: whose queue a task is in, the filtered queue, assignment to a colleague, and overdue
tasks for an organisation and the level above. The columns they filter by are projected from the
process by the engine (engine/runtime.py)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import or_, select

from services.review import claims
from services.review.models import StaffMember, Task
from shared import clock
from shared.contracts.profile import StaffRegistered
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identity.principal import Principal
from shared.paging import paged
from shared.uow import UnitOfWork

OPEN = ("ready", "claimed")


def visible_to(principal: Principal) -> Any:
    if principal.role == "expert":
        return Task.assignee == principal.subject
    return (Task.role == principal.role) & (Task.organisation == principal.organisation)


def queue(
    uow: UnitOfWork, principal: Principal, filters: dict[str, Any], page: int, per_page: int
) -> tuple[list[Task], int]:
    statuses = filters.get("status") or list(OPEN)
    query = select(Task).where(visible_to(principal), Task.status.in_(statuses))
    if filters.get("stage"):
        query = query.where(Task.stage == filters["stage"])
    for key in ("declaration_id", "activity_id", "series", "level"):
        if filters.get(key):
            query = query.where(getattr(Task, key) == filters[key])
    if filters.get("applicant"):
        who = filters["applicant"]
        query = query.where(or_(Task.applicant == who, Task.applicant_name.contains(who, autoescape=True)))
    if filters.get("due_before"):
        end = dt.datetime.combine(filters["due_before"] + dt.timedelta(days=1), dt.time(), clock.BEIJING)
        query = query.where(Task.due_at < end)
    if filters.get("overdue") is not None:
        query = query.where(Task.overdue_at.is_not(None) if filters["overdue"] else Task.overdue_at.is_(None))
    order = (
        (Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id)
        if filters.get("sort") == "due"
        else (Task.created_at, Task.id)
    )
    return paged(uow, query.order_by(*order), page, per_page)


def overdue(uow: UnitOfWork, principal: Principal, page: int, per_page: int) -> tuple[list[Task], int]:
    """Open tasks past their service level, of my organisation or escalated to it."""
    mine = visible_to(principal)
    if principal.role == "committee":  # the committee office answers for its experts' tasks too
        mine = Task.organisation == principal.organisation
    query = select(Task).where(
        Task.status.in_(OPEN), Task.overdue_at.is_not(None), or_(mine, Task.escalated_to == principal.organisation)
    )
    return paged(uow, query.order_by(Task.due_at, Task.id), page, per_page)


def task(uow: UnitOfWork, principal: Principal, task_id: str, lock: bool = False) -> Task:
    """A task of the caller's queue (an expert's: those assigned to them)."""
    # Changes lock the row: two reviewers claiming at once are serialised, not both granted.
    found = uow.session.get(Task, task_id, with_for_update=lock or None)
    if found is None:
        raise NotFound.on("task_id", "exists", f"task {task_id} does not exist")
    if principal.role == "expert":
        allowed = found.assignee == principal.subject
    else:
        allowed = found.role == principal.role and found.organisation == principal.organisation
    if not allowed:
        raise Forbidden.on("task_id", "own_queue", "the task belongs to another organisation or role")
    return found


def assign(uow: UnitOfWork, principal: Principal, task_id: str, assignee: str) -> Task:
    """Hand a task to a colleague of the same organisation and role (指派)."""
    if principal.role == "expert":
        raise Forbidden.on("task_id", "assignable", "an expert's vote is personal and cannot be assigned")
    found = task(uow, principal, task_id, lock=True)
    if found.status not in OPEN:
        raise Conflict.on("task_id", "open", f"the task is already {found.status} (任务已处理)")
    claims.ensure_not_claimed_by_another(found, principal.subject, assignee)
    # Colleagues come from the profile service's directory only (profile.staff.registered.v1).
    colleague = uow.session.get(StaffMember, assignee)
    if colleague is None:
        raise DomainError.on(
            "assignee",
            "registered",
            f"{assignee} is not a staff account registered in the directory (未在机构目录中登记的人员不能被指派)",
        )
    if colleague.organisation != found.organisation:
        raise DomainError.on(
            "assignee",
            "colleague",
            f"{assignee} works for organisation {colleague.organisation}, not {found.organisation}"
            f" whose task this is: only a colleague of the same organisation can be assigned "
            f"(只能指派给本单位同事)",
        )
    if colleague.role != found.role:
        raise DomainError.on(
            "assignee",
            "colleague",
            f"{assignee} is registered as {colleague.role}, but this is a {found.role} task (只能指派给同岗位同事)",
        )
    found.status, found.claimed_by = "claimed", assignee
    return found


def staff_registered(uow: UnitOfWork, registered: StaffRegistered) -> None:
    """A staff account from the profile service's directory (the replica tasks are assigned from)."""
    staff = uow.session.get(StaffMember, registered.subject) or StaffMember(subject=registered.subject)
    staff.role, staff.organisation, staff.name = registered.role, registered.organisation, registered.name
    uow.session.merge(staff)
