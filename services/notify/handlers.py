"""Message handlers of the notify service: events become inbox messages (and channel deliveries)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from services.notify import defences, re_examination, reports, service
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork

BEIJING = dt.timezone(dt.timedelta(hours=8))


def on_stage_changed(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.record_stage(uow, data)
    service.deliver(uow, data["applicant"], "stage_change", data)


def on_decision_recorded(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    # Approvals show up as stage changes; a return needs its own notice with the reason.
    if data["decision"] == "return":
        service.deliver(uow, data["applicant"], "return_notice", data)


def on_review_completed(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.record_completed(uow, data)
    service.deliver(uow, data["applicant"], "result", data)


def on_certificate_issued(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.deliver(uow, data["holder"], "certificate_issued", data)


def on_certificate_revoked(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.deliver(uow, data["holder"], "certificate_revoked", data)


def on_objection_resolved(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    reports.answer(uow, data)


def on_defence_scheduled(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    defences.schedule(uow, data)


def on_task_overdue(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    # The staff of the organisation that holds the task and of the level above (the same one for experts).
    due = dt.datetime.fromisoformat(data["due_at"]).astimezone(BEIJING)
    values = {**data, "due_text": f"{due.year}年{due.month}月{due.day}日{due.hour:02d}:{due.minute:02d}"}
    for organisation in dict.fromkeys(o for o in (data.get("organisation"), data.get("escalated_to")) if o):
        kind = "task_overdue" if organisation == data.get("organisation") else "task_overdue_escalated"
        service.deliver_to_organisation(uow, organisation, kind, values)


def on_re_examination_opened(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    re_examination.opened(uow, data)


def on_re_examination_decided(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    re_examination.decided(uow, data)


HANDLERS = {
    "review.stage.changed.v1": on_stage_changed,
    "review.decision.recorded.v1": on_decision_recorded,
    "review.completed.v1": on_review_completed,
    "certificate.issued.v1": on_certificate_issued,
    "certificate.revoked.v1": on_certificate_revoked,
    "review.objection.resolved.v1": on_objection_resolved,
    "review.defence.scheduled.v1": on_defence_scheduled,
    "review.task.overdue.v1": on_task_overdue,
    "review.re_examination.opened.v1": on_re_examination_opened,
    "review.re_examination.decided.v1": on_re_examination_decided,
}
