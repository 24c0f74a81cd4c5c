"""Message handlers of the declaration service (thin: data in, service call)."""
from __future__ import annotations

import datetime as dt
from typing import Any

from services.declaration import integrity, re_examination, replicas, service
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def on_snapshot_taken(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.snapshot_taken(uow, data["declaration_id"], data["snapshot"])


def on_snapshot_refused(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.snapshot_refused(uow, data["declaration_id"], data["reason"])


def on_identity_corrected(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.identity_corrected(uow, data)


def on_stage_changed(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.stage_changed(uow, data)


def on_decision_recorded(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.decision_recorded(uow, data)


def on_review_completed(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.review_completed(uow, data)


def on_return_for_revision(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.returned_for_revision(uow, data)


def on_task_claimed(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    service.task_claimed(uow, data)


def on_re_examination_opened(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    re_examination.opened(uow, data, dt.datetime.fromisoformat(envelope.time))


def on_re_examination_decided(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    re_examination.decided(uow, data)


def on_organisation_registered(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    replicas.organisation_registered(uow, data)


def on_attachment_stored(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    replicas.attachment_stored(uow, data)


def on_employment_changed(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    replicas.employment_changed(uow, data)


def on_certificate_revoked(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
    integrity.certificate_revoked(uow, data)


HANDLERS = {
    "declaration.return_for_revision.v1": on_return_for_revision,
    "profile.snapshot.taken.v1": on_snapshot_taken,
    "profile.snapshot.refused.v1": on_snapshot_refused,
    "profile.identity.corrected.v1": on_identity_corrected,
    "profile.organisation.registered.v1": on_organisation_registered,
    "profile.attachment.stored.v1": on_attachment_stored,
    "profile.employment.changed.v1": on_employment_changed,
    "review.stage.changed.v1": on_stage_changed,
    "review.decision.recorded.v1": on_decision_recorded,
    "review.completed.v1": on_review_completed,
    "review.task.claimed.v1": on_task_claimed,
    "review.re_examination.opened.v1": on_re_examination_opened,
    "review.re_examination.decided.v1": on_re_examination_decided,
    "certificate.revoked.v1": on_certificate_revoked,
}
