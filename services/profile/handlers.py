"""Message handlers of the profile service (thin: data in, service call)."""
from __future__ import annotations

from typing import Any

from services.profile import access, service
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def take_snapshot(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.take_snapshot(uow, data["declaration_id"], data["applicant"])


def grant_on_submission(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    # What the declaration refers to narrows every grant for it (absent from older producers: not narrowed).
    access.refer(uow, data["declaration_id"], data["applicant"], data.get("attachment_ids"))
    # The unit reviews first; the committee is granted when the review reaches its stage.
    access.grant(uow, data["declaration_id"], data["applicant"], data["unit_code"], envelope.type)


def grant_on_stage(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    access.grant(uow, data["declaration_id"], data["applicant"], data.get("organisation"), envelope.type)


HANDLERS = {
    "profile.take_snapshot.v1": take_snapshot,
    "declaration.submitted.v1": grant_on_submission,
    "declaration.resubmitted.v1": grant_on_submission,
    "review.stage.changed.v1": grant_on_stage,
}
