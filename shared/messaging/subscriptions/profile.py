"""Messages the profile service consumes."""
from shared.messaging.subscriptions.base import Subscription

SUBSCRIPTIONS = (
    Subscription("profile", "commands", ("profile.take_snapshot.v1",)),
)
