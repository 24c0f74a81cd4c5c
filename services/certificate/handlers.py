"""Message handlers of the certificate service."""
from __future__ import annotations

from typing import Any

from services.certificate import service
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def issue(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.issue(uow, data)


HANDLERS = {"certificate.issue.v1": issue}
