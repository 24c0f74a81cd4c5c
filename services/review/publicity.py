"""Publicity periods (公示) and the objections raised during them (异议, 举报).

The unit publicises the persons it intends to recommend, the committee the
results of its review; each period lasts at least the activity's number of
working days (five by default) on the working-day calendar. The task after a
publicity (recommend upward, report to the title office) can approve only
after the period is over and every objection is resolved, and not at all
once an objection was upheld.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from services.review import clock
from services.review.models import Objection, Publicity
from shared.db import utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identity.principal import Principal
from shared.uow import UnitOfWork
from shared.workdays import UnknownYear, add_workdays, is_workday

KINDS = ("unit", "result")


def period(starts_on: dt.date, working_days: int) -> dt.date:
    """The last day of a publicity starting on ``starts_on`` (a holiday start counts from the next
    working day): five working days from Wednesday 2026-09-30 end on Monday 2026-10-12."""
    return add_workdays(starts_on, working_days)


def start(uow: UnitOfWork, principal: Principal, declaration_id: str, kind: str, starts_on: dt.date | None,
          evidence: str | None) -> Publicity:
    """Start a publicity: completes the diagram's ``<kind>_publicity`` task of the caller's organisation."""
    from services.review import panels, service

    if kind not in KINDS:
        raise DomainError.on("kind", "known_kind", f"kind must be one of {', '.join(KINDS)}")
    task = panels.open_task(uow, principal, declaration_id, f"{kind}_publicity")
    started: list[Publicity] = []

    def before(found: Any, data: dict[str, Any]) -> dict[str, Any]:
        days = int((data.get("settings") or {}).get("publicity_working_days") or 5)
        started.append(_record(uow, principal, declaration_id, kind, max(5, days), starts_on, evidence))
        return {f"{kind}_publicity_ends_on": started[0].ends_on.isoformat()}

    service.complete(uow, principal, task.id, "start", None, action=f"publicity:{kind}", before=before)
    return started[0]


def _record(uow: UnitOfWork, principal: Principal, declaration_id: str, kind: str, working_days: int,
            starts_on: dt.date | None, evidence: str | None) -> Publicity:
    today = clock.today(uow)
    starts_on = starts_on or today
    if starts_on < today:
        raise DomainError.on("starts_on", "not_past", "a publicity cannot start in the past (公示开始日期不能早于今天)")
    try:
        if not any(is_workday(starts_on + dt.timedelta(days=i)) for i in range(15)):
            raise DomainError.on("starts_on", "calendar", "no working day follows the start date (工作日历)")
    except UnknownYear as exc:
        raise Conflict.on("starts_on", "calendar", str(exc)) from exc
    try:
        ends_on = period(starts_on, working_days)
    except UnknownYear as exc:
        raise Conflict.on("starts_on", "calendar", f"{exc}; the publicity's end cannot be computed yet") from exc
    found = Publicity(declaration_id=declaration_id, kind=kind, organisation=principal.organisation or "",
                      starts_on=starts_on, ends_on=ends_on, working_days=working_days,
                      evidence=evidence, status="running", started_by=principal.subject)
    uow.session.add(found)
    uow.session.flush()
    return found


def running(uow: UnitOfWork, declaration_id: str, kind: str | None = None) -> Publicity | None:
    query = select(Publicity).where(Publicity.declaration_id == declaration_id, Publicity.status == "running")
    if kind:
        query = query.where(Publicity.kind == kind)
    return uow.session.scalar(query.order_by(Publicity.id.desc()).limit(1))


def close_for(uow: UnitOfWork, declaration_id: str, kind: str, decision: str) -> None:
    """The guard of the task after a publicity: approving needs the period over and objections settled."""
    current = running(uow, declaration_id, kind)
    if current is None:
        raise Conflict.on("task_id", "publicity_started", "the publicity has not been started (尚未公示)")
    objections = list(uow.session.scalars(select(Objection).where(Objection.publicity_id == current.id)))
    if decision == "approve":
        if clock.today(uow) <= current.ends_on:
            raise Conflict.on("decision", "publicity_over",
                              f"the publicity runs until {current.ends_on.isoformat()} (公示期未满)")
        if any(o.status == "open" for o in objections):
            raise Conflict.on("decision", "objections_resolved",
                              "objections raised during the publicity are not all resolved (异议尚未处理完毕)")
        if any(o.upheld for o in objections):
            raise DomainError.on("decision", "objection_upheld",
                                 "an objection was upheld: the declaration cannot go on (异议成立，不能上报)")
    current.status = "closed"


def _mine(uow: UnitOfWork, principal: Principal, publicity_id: int, lock: bool = False) -> Publicity:
    found = uow.session.get(Publicity, publicity_id, with_for_update=lock or None)
    if found is None:
        raise NotFound.on("publicity_id", "exists", f"publicity {publicity_id} does not exist")
    if found.organisation != principal.organisation:
        raise Forbidden.on("publicity_id", "own_publicity", "the publicity is run by another organisation")
    return found


def record_objection(uow: UnitOfWork, principal: Principal, publicity_id: int, content: str) -> Objection:
    found = _mine(uow, principal, publicity_id, lock=True)
    if found.status != "running":
        raise Conflict.on("publicity_id", "running", "the publicity is closed (公示已结束)")
    objection = Objection(publicity_id=found.id, declaration_id=found.declaration_id, content=content,
                          recorded_by=principal.subject)
    uow.session.add(objection)
    uow.session.flush()
    return objection


def report_filed(uow: UnitOfWork, data: dict[str, Any]) -> None:
    """A report filed with the notify service is an objection to the publicity running for it."""
    if uow.session.scalar(select(Objection.id).where(Objection.report_reference == data["reference"])):
        return
    current = running(uow, data["declaration_id"])
    if current is None:
        uow.publish("review.objection.resolved.v1", {
            "declaration_id": data["declaration_id"], "report_reference": data["reference"], "upheld": False,
            "resolution": "no publicity is running for this declaration (该申报不在公示期内)",
            "organisation": None, "at": utcnow().isoformat()}, correlation_id=data["declaration_id"])
        return
    uow.session.add(Objection(publicity_id=current.id, declaration_id=current.declaration_id,
                              content=data["content"], report_reference=data["reference"],
                              recorded_by=data.get("reporter")))


def resolve(uow: UnitOfWork, principal: Principal, objection_id: int, upheld: bool, resolution: str) -> Objection:
    objection = uow.session.get(Objection, objection_id, with_for_update=True)
    if objection is None:
        raise NotFound.on("objection_id", "exists", f"objection {objection_id} does not exist")
    publicity = _mine(uow, principal, objection.publicity_id)
    if objection.status != "open":
        raise Conflict.on("objection_id", "open", "the objection is already resolved (异议已处理)")
    objection.status, objection.upheld, objection.resolution = "resolved", upheld, resolution
    objection.resolved_by, objection.resolved_at = principal.subject, utcnow()
    uow.publish("review.objection.resolved.v1", {
        "declaration_id": objection.declaration_id, "report_reference": objection.report_reference,
        "upheld": upheld, "resolution": resolution, "organisation": publicity.organisation,
        "at": objection.resolved_at.isoformat()}, correlation_id=objection.declaration_id)
    return objection


def of_declaration(uow: UnitOfWork, declaration_id: str) -> list[tuple[Publicity, list[Objection]]]:
    publicities = list(uow.session.scalars(select(Publicity).where(Publicity.declaration_id == declaration_id)
                                           .order_by(Publicity.id)))
    return [(p, list(uow.session.scalars(select(Objection).where(Objection.publicity_id == p.id)
                                         .order_by(Objection.id)))) for p in publicities]
