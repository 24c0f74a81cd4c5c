"""Message handlers of the review service (thin: data in, service call)."""
from __future__ import annotations

from typing import Any

from services.review import service
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def on_organisation_registered(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.organisation_registered(uow, data)


def on_declaration_submitted(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.start_review(uow, data)


def on_certificate_issued(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.message_arrived(uow, envelope.type, data["declaration_id"], data)


HANDLERS = {
    "profile.organisation.registered.v1": on_organisation_registered,
    "declaration.submitted.v1": on_declaration_submitted,
    "certificate.issued.v1": on_certificate_issued,
}
