"""Message handlers of the notify service: events become inbox messages (and channel deliveries)."""

from __future__ import annotations

import datetime as dt

from services.notify import defences, re_examination, reports, service
from shared.contracts import certificate, review
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork

BEIJING = dt.timezone(dt.timedelta(hours=8))


def on_stage_changed(uow: UnitOfWork, envelope: Envelope, changed: review.StageChanged) -> None:
    service.record_stage(uow, changed)
    service.deliver(uow, changed.applicant, "stage_change", changed.values())


def on_decision_recorded(uow: UnitOfWork, envelope: Envelope, recorded: review.DecisionRecorded) -> None:
    # Approvals show up as stage changes; a return needs its own notice with the reason. The queue is bound to
    # returns only (shared/messaging/subscriptions/notify.py); an older producer's row, routed by its bare type,
    # still brings the others here.
    if recorded.decision == "return":
        service.deliver(uow, recorded.applicant, "return_notice", recorded.values())


def on_review_completed(uow: UnitOfWork, envelope: Envelope, completed: review.Completed) -> None:
    service.record_completed(uow, completed)
    service.deliver(uow, completed.applicant, "result", completed.values())


def on_certificate_issued(uow: UnitOfWork, envelope: Envelope, issued: certificate.Issued) -> None:
    service.deliver(uow, issued.holder, "certificate_issued", issued.values())


def on_certificate_revoked(uow: UnitOfWork, envelope: Envelope, revoked: certificate.Revoked) -> None:
    service.deliver(uow, revoked.holder, "certificate_revoked", revoked.values())


def on_objection_resolved(uow: UnitOfWork, envelope: Envelope, resolved: review.ObjectionResolved) -> None:
    reports.answer(uow, resolved)


def on_defence_scheduled(uow: UnitOfWork, envelope: Envelope, scheduled: review.DefenceScheduled) -> None:
    defences.schedule(uow, scheduled)


def on_task_overdue(uow: UnitOfWork, envelope: Envelope, overdue: review.TaskOverdue) -> None:
    # The staff of the organisation that holds the task and of the level above (the same one for experts).
    due = dt.datetime.fromisoformat(overdue.due_at).astimezone(BEIJING)
    values = {**overdue.values(), "due_text": f"{due.year}年{due.month}月{due.day}日{due.hour:02d}:{due.minute:02d}"}
    for organisation in dict.fromkeys(o for o in (overdue.organisation, overdue.escalated_to) if o):
        kind = "task_overdue" if organisation == overdue.organisation else "task_overdue_escalated"
        service.deliver_to_organisation(uow, organisation, kind, values)


def on_re_examination_opened(uow: UnitOfWork, envelope: Envelope, opening: review.ReExaminationOpened) -> None:
    re_examination.opened(uow, opening)


def on_re_examination_decided(uow: UnitOfWork, envelope: Envelope, decision: review.ReExaminationDecided) -> None:
    re_examination.decided(uow, decision)


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
