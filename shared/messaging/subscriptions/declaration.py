"""Messages the declaration service consumes."""

from shared.messaging.subscriptions.base import Subscription

SUBSCRIPTIONS = (
    Subscription("declaration", "on_snapshot_taken", ("profile.snapshot.taken.v1",)),
    Subscription("declaration", "on_snapshot_refused", ("profile.snapshot.refused.v1",)),
    Subscription("declaration", "on_identity_corrected", ("profile.identity.corrected.v1",)),
    Subscription("declaration", "on_organisation_registered", ("profile.organisation.registered.v1",)),
    Subscription("declaration", "on_attachment_stored", ("profile.attachment.stored.v1",)),
    Subscription("declaration", "on_employment_changed", ("profile.employment.changed.v1",)),
    Subscription("declaration", "on_stage_changed", ("review.stage.changed.v1",)),
    Subscription("declaration", "on_decision_recorded", ("review.decision.recorded.v1",)),
    Subscription("declaration", "on_review_completed", ("review.completed.v1",)),
    Subscription("declaration", "on_task_claimed", ("review.task.claimed.v1",)),
    # re-examination (复查): open until a time, then the committee office's decision
    Subscription("declaration", "on_re_examination_opened", ("review.re_examination.opened.v1",)),
    Subscription("declaration", "on_re_examination_decided", ("review.re_examination.decided.v1",)),
    # a revocation for fraud puts the holder on the integrity record (诚信档案)
    Subscription("declaration", "on_certificate_revoked", ("certificate.revoked.v1",)),
    Subscription("declaration", "commands", ("declaration.return_for_revision.v1",)),
)
