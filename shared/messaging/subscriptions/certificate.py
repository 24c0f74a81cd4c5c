"""Messages the certificate service consumes."""

from shared.messaging.subscriptions.base import Subscription

SUBSCRIPTIONS = (Subscription("certificate", "commands", ("certificate.issue.v1",)),)
