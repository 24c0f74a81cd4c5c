"""Message handlers of the declaration service (thin: message in, service call)."""

from __future__ import annotations

import datetime as dt

from services.declaration import integrity, re_examination, replicas, service
from shared.contracts import certificate, declaration, profile, review
from shared.messaging.envelope import Envelope
from shared.uow import UnitOfWork


def on_snapshot_taken(uow: UnitOfWork, envelope: Envelope, taken: profile.SnapshotTaken) -> None:
    service.snapshot_taken(uow, taken.declaration_id, taken.snapshot)


def on_snapshot_refused(uow: UnitOfWork, envelope: Envelope, refused: profile.SnapshotRefused) -> None:
    service.snapshot_refused(uow, refused)


def on_identity_corrected(uow: UnitOfWork, envelope: Envelope, corrected: profile.IdentityCorrected) -> None:
    service.identity_corrected(uow, corrected)


def on_stage_changed(uow: UnitOfWork, envelope: Envelope, changed: review.StageChanged) -> None:
    service.stage_changed(uow, changed)


def on_decision_recorded(uow: UnitOfWork, envelope: Envelope, recorded: review.DecisionRecorded) -> None:
    service.decision_recorded(uow, recorded)


def on_review_completed(uow: UnitOfWork, envelope: Envelope, completed: review.Completed) -> None:
    service.review_completed(uow, completed)


def on_return_for_revision(uow: UnitOfWork, envelope: Envelope, command: declaration.ReturnForRevision) -> None:
    service.returned_for_revision(uow, command)


def on_task_claimed(uow: UnitOfWork, envelope: Envelope, claimed: review.TaskClaimed) -> None:
    service.task_claimed(uow, claimed)


def on_re_examination_opened(uow: UnitOfWork, envelope: Envelope, opening: review.ReExaminationOpened) -> None:
    re_examination.opened(uow, opening, dt.datetime.fromisoformat(envelope.time))


def on_re_examination_decided(uow: UnitOfWork, envelope: Envelope, decision: review.ReExaminationDecided) -> None:
    re_examination.decided(uow, decision)


def on_organisation_registered(uow: UnitOfWork, envelope: Envelope, registered: profile.OrganisationRegistered) -> None:
    replicas.organisation_registered(uow, registered)


def on_attachment_stored(uow: UnitOfWork, envelope: Envelope, stored: profile.AttachmentStored) -> None:
    replicas.attachment_stored(uow, stored.owner, stored)


def on_employment_changed(uow: UnitOfWork, envelope: Envelope, changed: profile.EmploymentChanged) -> None:
    replicas.employment_changed(uow, changed)


def on_certificate_revoked(uow: UnitOfWork, envelope: Envelope, revoked: certificate.Revoked) -> None:
    integrity.certificate_revoked(uow, revoked)


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
