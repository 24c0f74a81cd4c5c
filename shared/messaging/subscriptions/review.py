"""Messages the review service consumes."""

from shared.messaging.subscriptions.base import Subscription

SUBSCRIPTIONS = (
    Subscription("review", "on_organisation_registered", ("profile.organisation.registered.v1",)),
    Subscription("review", "on_declaration_submitted", ("declaration.submitted.v1",)),
    Subscription("review", "on_declaration_resubmitted", ("declaration.resubmitted.v1",)),
    Subscription("review", "on_declaration_withdrawn", ("declaration.withdrawn.v1",)),
    Subscription("review", "on_re_examination_requested", ("declaration.re_examination.requested.v1",)),
    Subscription("review", "on_certificate_issued", ("certificate.issued.v1",)),
    Subscription("review", "on_report_filed", ("notify.report.filed.v1",)),
    Subscription("review", "on_staff_registered", ("profile.staff.registered.v1",)),
)
