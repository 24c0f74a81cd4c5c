"""Message handlers of the profile service (thin: data in, service call)."""
from __future__ import annotations

from typing import Any

from services.profile import service
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def take_snapshot(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.take_snapshot(uow, data["declaration_id"], data["applicant"])


HANDLERS = {"profile.take_snapshot.v1": take_snapshot}
