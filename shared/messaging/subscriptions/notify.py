"""Messages the notify service consumes."""

from shared.messaging.subscriptions.base import Subscription

SUBSCRIPTIONS = (
    Subscription("notify", "on_stage_changed", ("review.stage.changed.v1",)),
    # a return's notice with its reason; approvals show as the stage changes that follow
    Subscription("notify", "on_decision_recorded", ("review.decision.recorded.v1",), only=("return",)),
    Subscription("notify", "on_review_completed", ("review.completed.v1",)),
    Subscription("notify", "on_certificate_issued", ("certificate.issued.v1",)),
    Subscription("notify", "on_certificate_revoked", ("certificate.revoked.v1",)),
    Subscription("notify", "on_objection_resolved", ("review.objection.resolved.v1",)),
    Subscription("notify", "on_defence_scheduled", ("review.defence.scheduled.v1",)),
    Subscription("notify", "on_task_overdue", ("review.task.overdue.v1",)),
    Subscription("notify", "on_re_examination_opened", ("review.re_examination.opened.v1",)),
    Subscription("notify", "on_re_examination_decided", ("review.re_examination.decided.v1",)),
)
