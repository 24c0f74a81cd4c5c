"""Publicity periods (公示) and the objections raised during them (异议, 举报).

The unit publicises the persons it intends to recommend, the committee the
results of its review. The diagram runs the period: the user task "start the
publicity" takes the start date and the evidence (``start``), a service task
computes the last day on the working-day calendar and records the period
(``open_period``, the days the process decided from bpmn/publicity_days.dmn), a timer waits
until that day is over, and a service task looks at the objections
(``objections_of``). While any is open the process waits for the message that
the last one was resolved (``resolve`` delivers it, under the instance lock);
an upheld objection ends the declaration there; otherwise the next task
(recommend upward, report the results) appears with nobody acting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select

from services.review import panels, service
from services.review.models import Objection, Publicity
from shared import clock
from shared.contracts.notify import ReportFiled
from shared.contracts.review import ObjectionResolved
from shared.db import utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identity.principal import Principal
from shared.uow import UnitOfWork
from shared.workdays import UnknownYear, add_workdays, is_workday

KINDS = ("unit", "result")
# The BPMN message the diagram waits for while objections are open (delivered in-process).
RESOLVED = "review.objections.resolved"


def period(starts_on: dt.date, working_days: int) -> dt.date:
    """The last day of a publicity starting on ``starts_on`` (a holiday start counts from the next
    working day): five working days from Wednesday 2026-09-30 end on Monday 2026-10-12."""
    return add_workdays(starts_on, working_days)


def start(
    uow: UnitOfWork,
    principal: Principal,
    declaration_id: str,
    kind: str,
    starts_on: dt.date | None,
    evidence: str | None,
) -> Publicity:
    """Start a publicity: completes the diagram's task of action ``publicity:<kind>`` of the caller's organisation,
    whose next service task records the period (returned here)."""
    if kind not in KINDS:
        raise DomainError.on("kind", "known_kind", f"kind must be one of {', '.join(KINDS)}")
    task = panels.open_task(uow, principal, declaration_id, f"publicity:{kind}")
    starts_on = _start_day(starts_on)
    days: list[int] = []

    def before(found: Any, data: dict[str, Any]) -> dict[str, Any]:
        days.append(working_days(data.get("publicity_working_days")))
        _last_day(starts_on, days[0])  # refused here, before the process moves
        return {"publicity_starts_on": starts_on.isoformat(), "publicity_evidence": evidence}

    service.complete(uow, principal, task.id, "start", None, action=f"publicity:{kind}", before=before)
    recorded = running(uow, declaration_id, kind)
    if recorded is None:
        # An instance on a version drawn before the period was the diagram's records it here (it has no
        # timer: such instances are not held until the period is over; migrate them to hold them).
        open_period(
            uow,
            declaration_id,
            kind,
            principal.organisation or "",
            starts_on.isoformat(),
            days[0],
            evidence,
            principal.subject,
        )
        recorded = running(uow, declaration_id, kind)
    return recorded  # type: ignore[return-value]


def working_days(days: Any) -> int:
    """The period the process decided (``publicity_working_days``, from bpmn/publicity_days.dmn, which
    holds the regulation's five-day floor)."""
    if days is None:
        raise Conflict.on(
            "publicity_working_days",
            "decided",
            "the process has not decided the publicity period: a business-rule task on "
            "bpmn/publicity_days.dmn comes before the publicity (公示期未确定)",
        )
    return int(days)


def _start_day(starts_on: dt.date | None) -> dt.date:
    today = clock.today()
    starts_on = starts_on or today
    if starts_on < today:
        raise DomainError.on("starts_on", "not_past", "a publicity cannot start in the past (公示开始日期不能早于今天)")
    try:
        if not any(is_workday(starts_on + dt.timedelta(days=i)) for i in range(15)):
            raise DomainError.on("starts_on", "calendar", "no working day follows the start date (工作日历)")
    except UnknownYear as exc:
        raise Conflict.on("starts_on", "calendar", str(exc)) from exc
    return starts_on


def _last_day(starts_on: dt.date, days: int) -> dt.date:
    try:
        return period(starts_on, days)
    except UnknownYear as exc:
        raise Conflict.on("starts_on", "calendar", f"{exc}; the publicity's end cannot be computed yet") from exc


def open_period(
    uow: UnitOfWork,
    declaration_id: str,
    kind: str,
    organisation: str,
    starts_on: str,
    working_days_set: Any,
    evidence: str | None = None,
    started_by: str | None = None,
) -> dict[str, Any]:
    """The diagram's service task after "start the publicity": record the period and say when it is over
    (``due_at``: the end of its last day, Beijing time, which the diagram's timer waits for)."""
    days = working_days(working_days_set)
    first = dt.date.fromisoformat(str(starts_on))
    last = _last_day(first, days)
    found = Publicity(
        declaration_id=declaration_id,
        kind=kind,
        organisation=organisation or "",
        starts_on=first,
        ends_on=last,
        working_days=days,
        evidence=evidence,
        status="running",
        started_by=started_by or "",
    )
    uow.session.add(found)
    uow.session.flush()
    return {
        "id": found.id,
        "kind": kind,
        "starts_on": first.isoformat(),
        "ends_on": last.isoformat(),
        "working_days": days,
        "due_at": clock.end_of_day(last).isoformat(),
    }


def objections_of(uow: UnitOfWork, declaration_id: str, publicity_id: int) -> dict[str, int]:
    """The diagram's service task once the period is over: how many objections are open and how many
    were upheld. With none open the publicity closes (later reports are answered at once)."""
    # Locked first: an objection recorded at this moment is counted here, or finds the publicity closed.
    found = uow.session.get(Publicity, int(publicity_id), with_for_update=True)
    if found is None:
        raise LookupError(f"publicity {publicity_id} does not exist")
    counts = dict(
        uow.session.execute(
            select(Objection.status, func.count()).where(Objection.publicity_id == found.id).group_by(Objection.status)
        ).all()
    )
    upheld = (
        uow.session.scalar(
            select(func.count())
            .select_from(Objection)
            .where(Objection.publicity_id == found.id, Objection.upheld.is_(True))
        )
        or 0
    )
    if not counts.get("open"):
        found.status = "closed"
    return {"open": int(counts.get("open", 0)), "upheld": int(upheld)}


def running(uow: UnitOfWork, declaration_id: str, kind: str | None = None, lock: bool = False) -> Publicity | None:
    query = select(Publicity).where(Publicity.declaration_id == declaration_id, Publicity.status == "running")
    if kind:
        query = query.where(Publicity.kind == kind)
    if lock:
        query = query.with_for_update()
    return uow.session.scalar(query.order_by(Publicity.id.desc()).limit(1))


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
    objection = Objection(
        publicity_id=found.id, declaration_id=found.declaration_id, content=content, recorded_by=principal.subject
    )
    uow.session.add(objection)
    uow.session.flush()
    return objection


def report_filed(uow: UnitOfWork, filed: ReportFiled) -> None:
    """A report filed with the notify service is an objection to the publicity running for it."""
    if uow.session.scalar(select(Objection.id).where(Objection.report_reference == filed.reference)):
        return
    current = running(uow, filed.declaration_id, lock=True)
    if current is None:
        _announce_resolved(
            uow,
            filed.declaration_id,
            filed.reference,
            False,
            "no publicity is running for this declaration (该申报不在公示期内)",
            None,
            utcnow(),
        )
        return
    uow.session.add(
        Objection(
            publicity_id=current.id,
            declaration_id=current.declaration_id,
            content=filed.content,
            report_reference=filed.reference,
            recorded_by=filed.reporter,
        )
    )


def resolve(uow: UnitOfWork, principal: Principal, objection_id: int, upheld: bool, resolution: str) -> Objection:
    """Resolve an objection; resolving the last open one tells the process waiting for it (in-process,
    under the instance lock, taken first so that two last resolutions at once still tell it once)."""
    declaration_id = uow.session.scalar(select(Objection.declaration_id).where(Objection.id == objection_id))
    if declaration_id is None:
        raise NotFound.on("objection_id", "exists", f"objection {objection_id} does not exist")
    with service.locked_for_message(uow, declaration_id) as deliver:
        objection = uow.session.get_one(Objection, objection_id, with_for_update=True)
        publicity = _mine(uow, principal, objection.publicity_id)
        if objection.status != "open":
            raise Conflict.on("objection_id", "open", "the objection is already resolved (异议已处理)")
        objection.status, objection.upheld, objection.resolution = "resolved", upheld, resolution
        objection.resolved_by, objection.resolved_at = principal.subject, utcnow()
        uow.session.flush()
        _announce_resolved(
            uow,
            objection.declaration_id,
            objection.report_reference,
            upheld,
            resolution,
            publicity.organisation,
            objection.resolved_at,
        )
        still_open = (
            uow.session.scalar(
                select(func.count())
                .select_from(Objection)
                .where(Objection.publicity_id == publicity.id, Objection.status == "open")
            )
            or 0
        )
        if not still_open:
            # Only a process already waiting takes it; one still in the period looks at the objections
            # itself when its timer fires.
            deliver(
                RESOLVED, {"publicity_id": publicity.id, "kind": publicity.kind}, f"objections-resolved-{objection.id}"
            )
    return objection


def _announce_resolved(
    uow: UnitOfWork,
    declaration_id: str,
    report_reference: str | None,
    upheld: bool,
    resolution: str,
    organisation: str | None,
    at: dt.datetime,
) -> None:
    """review.objection.resolved.v1: notify answers the reporter, when the objection came from a report."""
    uow.publish(
        ObjectionResolved(
            declaration_id=declaration_id,
            report_reference=report_reference,
            upheld=upheld,
            resolution=resolution,
            organisation=organisation,
            at=at.isoformat(),
        ),
        correlation_id=declaration_id,
    )


def of_declaration(uow: UnitOfWork, declaration_id: str) -> list[tuple[Publicity, list[Objection]]]:
    publicities = list(
        uow.session.scalars(select(Publicity).where(Publicity.declaration_id == declaration_id).order_by(Publicity.id))
    )
    return [
        (p, list(uow.session.scalars(select(Objection).where(Objection.publicity_id == p.id).order_by(Objection.id))))
        for p in publicities
    ]
