"""Message handlers of the profile service (thin: data in, service call)."""

from __future__ import annotations

from services.profile import access, service
from shared.contracts.declaration import Submitted
from shared.contracts.profile import TakeSnapshot
from shared.contracts.review import StageChanged
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def take_snapshot(uow: UnitOfWork, envelope: Envelope, command: TakeSnapshot) -> None:
    service.take_snapshot(uow, command.declaration_id, command.applicant)


def grant_on_submission(uow: UnitOfWork, envelope: Envelope, submitted: Submitted) -> None:
    # What the declaration refers to narrows every grant for it (absent from older producers: not narrowed).
    access.refer(uow, submitted.declaration_id, submitted.applicant, submitted.attachment_ids)
    # The unit reviews first; the committee is granted when the review reaches its stage.
    access.grant(uow, submitted.declaration_id, submitted.applicant, submitted.unit_code, envelope.type)


def grant_on_stage(uow: UnitOfWork, envelope: Envelope, changed: StageChanged) -> None:
    access.grant(uow, changed.declaration_id, changed.applicant, changed.organisation, envelope.type)


HANDLERS = {
    "profile.take_snapshot.v1": take_snapshot,
    "declaration.submitted.v1": grant_on_submission,
    "declaration.resubmitted.v1": grant_on_submission,
    "review.stage.changed.v1": grant_on_stage,
}
