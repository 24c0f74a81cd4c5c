"""Message handlers of the review service (thin: message in, service call).

A message the process receives is handed over as its wire data (``dump``): the engine keeps it as
JSON, in the process state, in held messages and in an incident's replay.
"""

from __future__ import annotations

from collections.abc import Callable

from services.review import publicity, queues, service
from shared.contracts import certificate, declaration, notify, profile
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def on_organisation_registered(uow: UnitOfWork, envelope: Envelope, registered: profile.OrganisationRegistered) -> None:
    service.organisation_registered(uow, registered)


def on_staff_registered(uow: UnitOfWork, envelope: Envelope, registered: profile.StaffRegistered) -> None:
    queues.staff_registered(uow, registered)


def on_declaration_submitted(uow: UnitOfWork, envelope: Envelope, submitted: declaration.Submitted) -> None:
    service.start_review(uow, submitted.dump())


def on_declaration_resubmitted(uow: UnitOfWork, envelope: Envelope, resubmitted: declaration.Resubmitted) -> None:
    service.message_arrived(uow, envelope.type, resubmitted.declaration_id, resubmitted.dump(), envelope.id)


def on_declaration_withdrawn(uow: UnitOfWork, envelope: Envelope, withdrawn: declaration.Withdrawn) -> None:
    service.withdrawn(uow, withdrawn.declaration_id, withdrawn.dump(), envelope.id)


def on_re_examination_requested(
    uow: UnitOfWork, envelope: Envelope, requested: declaration.ReExaminationRequested
) -> None:
    service.message_arrived(uow, envelope.type, requested.declaration_id, requested.dump(), envelope.id)


def on_certificate_issued(uow: UnitOfWork, envelope: Envelope, issued: certificate.Issued) -> None:
    service.message_arrived(uow, envelope.type, issued.declaration_id, issued.dump(), envelope.id)


def on_report_filed(uow: UnitOfWork, envelope: Envelope, filed: notify.ReportFiled) -> None:
    publicity.report_filed(uow, filed)


HANDLERS: dict[str, Callable[..., None]] = {
    "profile.organisation.registered.v1": on_organisation_registered,
    "profile.staff.registered.v1": on_staff_registered,
    "declaration.submitted.v1": on_declaration_submitted,
    "declaration.resubmitted.v1": on_declaration_resubmitted,
    "declaration.withdrawn.v1": on_declaration_withdrawn,
    "declaration.re_examination.requested.v1": on_re_examination_requested,
    "certificate.issued.v1": on_certificate_issued,
    "notify.report.filed.v1": on_report_filed,
}
