"""Messages the profile service consumes."""

from shared.messaging.subscriptions.base import Subscription

SUBSCRIPTIONS = (
    Subscription("profile", "commands", ("profile.take_snapshot.v1",)),
    # which organisations may see which of an applicant's attachments (services/profile/access.py)
    Subscription("profile", "grant_on_submission", ("declaration.submitted.v1", "declaration.resubmitted.v1")),
    Subscription("profile", "grant_on_stage", ("review.stage.changed.v1",)),
)
