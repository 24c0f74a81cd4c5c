"""Message handlers of the certificate service."""

from __future__ import annotations

from services.certificate import service
from shared.contracts.certificate import Issue
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def issue(uow: UnitOfWork, envelope: Envelope, command: Issue) -> None:
    service.issue(uow, command)


HANDLERS = {"certificate.issue.v1": issue}
