"""Task queues: whose queue a task is in, the filtered queue, assignment to a colleague, and overdue
tasks for an organisation and the level above. The columns they filter by are projected from the
process by the engine (engine/runtime.py)."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, NamedTuple

from sqlalchemy import bindparam, or_, select

from services.review import claims
from services.review.models import StaffMember, Task
from shared import clock
from shared.contracts.profile import StaffRegistered
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identity.principal import Principal
from shared.paging import Listing, paged
from shared.uow import UnitOfWork

OPEN = ("ready", "claimed")


def _visible(expert: bool, values: dict[str, Any]) -> Any:
    """Whose queue a task is in: an expert's holds the tasks assigned to them, anyone else's those of their role at
    their organisation. ``values`` are the principal's (``_visible_values``) or bound parameters (``_BOUND``)."""
    if expert:
        return Task.assignee == values["subject"]
    return (Task.role == values["role"]) & (Task.organisation == values["organisation"])


def _visible_values(principal: Principal) -> dict[str, Any]:
    if principal.role == "expert":
        return {"subject": principal.subject}
    return {"role": principal.role, "organisation": principal.organisation}


_BOUND: dict[str, Any] = {name: bindparam(name) for name in ("subject", "role", "organisation")}


def visible_to(principal: Principal) -> Any:
    return _visible(principal.role == "expert", _visible_values(principal))


def queue(
    uow: UnitOfWork, principal: Principal, filters: dict[str, Any], page: int, per_page: int
) -> tuple[list[Task], int]:
    params = _visible_values(principal)
    params["statuses"] = filters.get("status") or list(OPEN)
    equal = tuple(key for key in _EQUAL if filters.get(key))
    params.update((key, filters[key]) for key in equal)
    if filters.get("applicant"):
        params["applicant"] = filters["applicant"]
        params["applicant_part"] = f"%{_escaped(filters['applicant'])}%"
    if filters.get("due_before"):
        params["due_end"] = dt.datetime.combine(filters["due_before"] + dt.timedelta(days=1), dt.time(), clock.BEIJING)
    shape = _Shape(
        principal.role == "expert",
        equal,
        bool(filters.get("applicant")),
        bool(filters.get("due_before")),
        filters.get("overdue"),
        filters.get("sort") == "due",
    )
    return _queue_listing(shape).page(uow, params, page, per_page)


_EQUAL = ("stage", "declaration_id", "activity_id", "series", "level")  # filters that match a column's value


class _Shape(NamedTuple):
    """Which filters a queue request uses: each shape's statement is built once (``_queue_listing``)."""

    expert: bool
    equal: tuple[str, ...]
    applicant: bool
    due_before: bool
    overdue: bool | None
    by_due: bool


@functools.lru_cache(maxsize=256)
def _queue_listing(shape: _Shape) -> Listing:
    """The queue's statement for one shape of request, its values bound parameters (``queue`` binds them)."""
    query = select(Task).where(_visible(shape.expert, _BOUND), Task.status.in_(bindparam("statuses", expanding=True)))
    for key in shape.equal:
        query = query.where(getattr(Task, key) == bindparam(key))
    if shape.applicant:
        # By subject, or by part of the name (the part's LIKE wildcards escaped: "_" is no wildcard here).
        query = query.where(
            or_(
                Task.applicant == bindparam("applicant"),
                Task.applicant_name.like(bindparam("applicant_part"), escape="/"),
            )
        )
    if shape.due_before:
        query = query.where(Task.due_at < bindparam("due_end"))
    if shape.overdue is not None:
        query = query.where(Task.overdue_at.is_not(None) if shape.overdue else Task.overdue_at.is_(None))
    order = (
        (Task.due_at.is_(None), Task.due_at, Task.created_at, Task.id) if shape.by_due else (Task.created_at, Task.id)
    )
    return Listing(query.order_by(*order))


def _escaped(text: str) -> str:
    """``text`` matched literally by LIKE ... ESCAPE '/' (what ``contains(..., autoescape=True)`` does)."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


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
