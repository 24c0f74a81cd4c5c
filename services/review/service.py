"""The review service layer: starting reviews, task queues, completing tasks,
messages from other services, and the directory replica."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, or_, select

from services.review.engine import definitions, runtime
from services.review.engine.messages import INBOUND_BY_TYPE
from services.review.models import Expert, Instance, Organisation, Task
from shared.db import utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identity.principal import Principal
from shared.uow import UnitOfWork


# -- the directory replica ------------------------------------------------------

def organisation_registered(uow: UnitOfWork, data: dict[str, Any]) -> None:
    org = uow.session.get(Organisation, data["code"])
    if org is None:
        org = Organisation(code=data["code"])
        uow.session.add(org)
    org.name, org.kind, org.parent_code = data["name"], data["kind"], data["parent"]


def department_chain(uow: UnitOfWork, unit_code: str) -> list[str]:
    """The competent departments above a unit, level by level, read from the directory."""
    unit = uow.session.get(Organisation, unit_code)
    if unit is None:
        # The directory event may still be on its way: failing lets the consumer retry.
        raise LookupError(f"unit {unit_code} is not (yet) in the review service's directory")
    chain: list[str] = []
    parent = unit.parent_code
    while parent is not None:
        if parent in chain:
            raise ValueError(f"the directory has a cycle above unit {unit_code}")
        org = uow.session.get(Organisation, parent)
        if org is None:
            raise LookupError(f"department {parent} is not (yet) in the review service's directory")
        chain.append(org.code)
        parent = org.parent_code
    if not chain:
        raise ValueError(f"unit {unit_code} has no competent department in the directory")
    return chain


def title_office_code(uow: UnitOfWork) -> str:
    code = uow.session.scalar(select(Organisation.code).where(Organisation.kind == "title_office"))
    if code is None:
        raise LookupError("the title office is not (yet) in the review service's directory")
    return code


# -- starting and advancing reviews ------------------------------------------------

def start_review(uow: UnitOfWork, data: dict[str, Any]) -> Instance | None:
    """Start the mode's process for a submitted declaration (once)."""
    existing = uow.session.scalar(select(Instance).where(Instance.declaration_id == data["declaration_id"]))
    if existing is not None:
        return None
    process_id = definitions.PROCESS_OF_MODE.get(data["mode"])
    if process_id is None:
        raise ValueError(f"no process is defined for mode {data['mode']!r}")
    definition = definitions.latest(uow, process_id)
    start_data = {key: data[key] for key in (
        "declaration_id", "applicant", "applicant_name", "id_number", "unit_code", "activity_id",
        "committee_code", "committee_name", "mode", "series", "level", "specialty", "qualification_name",
        "category", "panel_size")}
    start_data["department_chain"] = department_chain(uow, data["unit_code"])
    start_data["title_office_code"] = title_office_code(uow)
    return runtime.start(uow, definition, data["declaration_id"], data["applicant"], start_data)


def message_arrived(uow: UnitOfWork, message_type: str, declaration_id: str, payload: dict[str, Any]) -> None:
    """Route another service's message to the instance waiting for it."""
    with runtime.locked(uow, declaration_id=declaration_id) as (instance, workflow):
        if instance.status == "completed":
            return  # a late duplicate: the process has moved on
        if not runtime.deliver(uow, instance, workflow, INBOUND_BY_TYPE[message_type], payload):
            raise LookupError(f"instance {instance.id} does not wait for {message_type} (yet)")


# -- task queues -------------------------------------------------------------------

def _visible_to(principal: Principal) -> Any:
    if principal.role == "expert":
        return Task.assignee == principal.subject
    return (Task.role == principal.role) & (Task.organisation == principal.organisation)


def queue(uow: UnitOfWork, principal: Principal, filters: dict[str, Any], page: int,
          per_page: int) -> tuple[list[Task], int]:
    statuses = filters.get("status") or ["ready", "claimed"]
    query = select(Task).where(_visible_to(principal), Task.status.in_(statuses))
    if filters.get("stage"):
        query = query.where(Task.bpmn_id == filters["stage"])
    if filters.get("declaration_id"):
        query = query.where(Task.declaration_id == filters["declaration_id"])
    total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = uow.session.scalars(query.order_by(Task.created_at, Task.id).offset((page - 1) * per_page)
                                .limit(per_page))
    return list(items), total


def task(uow: UnitOfWork, principal: Principal, task_id: str, lock: bool = False) -> Task:
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


def claim(uow: UnitOfWork, principal: Principal, task_id: str) -> Task:
    found = task(uow, principal, task_id, lock=True)
    if found.status == "claimed" and found.claimed_by != principal.subject:
        raise Conflict.on("task_id", "unclaimed", f"the task is claimed by {found.claimed_by} (已被他人认领)")
    if found.status not in ("ready", "claimed"):
        raise Conflict.on("task_id", "open", f"the task is {found.status}")
    found.status, found.claimed_by = "claimed", principal.subject
    return found


def unclaim(uow: UnitOfWork, principal: Principal, task_id: str) -> Task:
    found = task(uow, principal, task_id, lock=True)
    if found.status != "claimed" or found.claimed_by != principal.subject:
        raise Conflict.on("task_id", "claimed_by_you", "only the person who claimed the task can release it")
    found.status, found.claimed_by = "ready", None
    return found


def complete(uow: UnitOfWork, principal: Principal, task_id: str, decision: str, reason: str | None) -> Task:
    """Complete a task with a decision; the process moves on in the same transaction."""
    found = task(uow, principal, task_id, lock=True)
    if found.status == "claimed" and found.claimed_by != principal.subject:
        raise Conflict.on("task_id", "unclaimed", f"the task is claimed by {found.claimed_by} (已被他人认领)")
    if found.status not in ("ready", "claimed"):
        raise Conflict.on("task_id", "already_done", f"the task is already {found.status} (任务已处理)")
    allowed = found.decisions.split(",")
    if decision not in allowed:
        raise DomainError.on("decision", "allowed_decision",
                             f"decision must be one of {', '.join(allowed)} at this stage (审核意见)")
    now = utcnow()
    data: dict[str, Any] = {"decision": decision, "reason": reason, "decided_by": principal.subject,
                            "decided_at": now.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()}
    if found.role == "expert":
        # Keyed by expert: multi-instance outputs arrive in completion order (pitfall 9).
        data["vote"] = {"expert": principal.subject, "choice": decision}
    with runtime.locked(uow, instance_id=found.instance_id) as (instance, workflow):
        found.status, found.completed_at, found.completed_by = "completed", now, principal.subject
        # A vote is secret: the trail says that the expert voted, never how.
        found.decision = decision
        found.reason = reason
        uow.publish("review.decision.recorded.v1", {
            "declaration_id": found.declaration_id, "applicant": instance.applicant, "stage": found.bpmn_id,
            "stage_name": found.name, "decision": "voted" if found.role == "expert" else decision,
            "reason": None if found.role == "expert" else reason, "actor": principal.subject,
            "organisation": found.organisation, "at": now.isoformat(),
        }, correlation_id=found.declaration_id)
        runtime.run_task(uow, instance, workflow, task_id, data)
    return found


def instance_of(uow: UnitOfWork, principal: Principal, declaration_id: str) -> Instance:
    found = uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))
    if found is None:
        raise NotFound.on("declaration_id", "exists", f"no review process for declaration {declaration_id}")
    # Whose queue a task was in (an expert's own tasks only, as in _visible_to).
    involved = uow.session.scalar(select(Task.id).where(
        Task.declaration_id == declaration_id,
        or_(Task.assignee == principal.subject, _visible_to(principal))).limit(1))
    if principal.role not in ("title_office", "designer") and involved is None:
        raise Forbidden.on("declaration_id", "involved", "only organisations the declaration passed through see it")
    return found


def add_expert(uow: UnitOfWork, committee_code: str, subject: str, name: str) -> None:
    if uow.session.get(Expert, (committee_code, subject)) is None:
        uow.session.add(Expert(committee_code=committee_code, subject=subject, name=name))
