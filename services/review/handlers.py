"""Message handlers of the review service (thin: data in, service call)."""
from __future__ import annotations

from typing import Any

from services.review import publicity, queues, service
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def on_organisation_registered(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.organisation_registered(uow, data)


def on_staff_registered(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    queues.staff_registered(uow, data)


def on_declaration_submitted(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.start_review(uow, data)


def on_declaration_resubmitted(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.message_arrived(uow, envelope.type, data["declaration_id"], data, envelope.id)


def on_declaration_withdrawn(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.withdrawn(uow, data["declaration_id"], data, envelope.id)


def on_re_examination_requested(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.message_arrived(uow, envelope.type, data["declaration_id"], data, envelope.id)


def on_certificate_issued(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.message_arrived(uow, envelope.type, data["declaration_id"], data, envelope.id)


def on_report_filed(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    publicity.report_filed(uow, data)


HANDLERS = {
    "profile.organisation.registered.v1": on_organisation_registered,
    "profile.staff.registered.v1": on_staff_registered,
    "declaration.submitted.v1": on_declaration_submitted,
    "declaration.resubmitted.v1": on_declaration_resubmitted,
    "declaration.withdrawn.v1": on_declaration_withdrawn,
    "declaration.re_examination.requested.v1": on_re_examination_requested,
    "certificate.issued.v1": on_certificate_issued,
    "notify.report.filed.v1": on_report_filed,
}
