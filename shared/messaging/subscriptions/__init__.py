"""Who consumes what: one module per consuming service, gathered here.

Each service's module lists its handlers' subscriptions; the topology module
declares all of them in every process. A subscription is one durable queue
(``<service>.<name>``) bound to the exchange of each message type it takes.
"""

from __future__ import annotations

from shared.messaging.subscriptions import certificate, declaration, notify, profile, review
from shared.messaging.subscriptions.base import Subscription

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    *profile.SUBSCRIPTIONS,
    *declaration.SUBSCRIPTIONS,
    *review.SUBSCRIPTIONS,
    *certificate.SUBSCRIPTIONS,
    *notify.SUBSCRIPTIONS,
)

__all__ = ["SUBSCRIPTIONS", "Subscription"]
