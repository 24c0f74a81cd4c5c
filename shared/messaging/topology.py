"""The whole system's exchanges, queues and bindings, declared by every process.

Declaring everything everywhere is cheap and idempotent, and it matters: a
publisher must know every binding before it publishes, or a message routed
by a process that never declared the queue goes nowhere.

Each consuming handler has a durable queue of its own (one queue per
handler): a message fans out to every handler that wants it, and each handler
acknowledges, retries and dead-letters independently. Commands go to one
queue per owning service.
"""

from __future__ import annotations

from typing import Any

import kombu
from kombu import Exchange, Queue, binding

from shared import config
from shared.config import SERVICES
from shared.contracts import CONTRACTS, contract
from shared.contracts.message import TOPIC_WORD
from shared.messaging.subscriptions import SUBSCRIPTIONS, Subscription

__all__ = ["SUBSCRIPTIONS", "Subscription", "declare", "subscriptions_of"]

DEAD_LETTER_EXCHANGE = "titles.dead"
UNROUTED = "titles.unrouted"


def retry_delays_ms() -> tuple[int, ...]:
    """Backoff before each retry: on RabbitMQ a message waits in <queue>.retry.<n> for this long (queue
    TTL), then is dead-lettered back to its queue (``TITLES_RETRY_DELAYS_MS``)."""
    return config.settings().retry_delays_ms


def subscriptions_of(service: str) -> tuple[Subscription, ...]:
    return tuple(s for s in SUBSCRIPTIONS if s.service == service)


def named(name: str) -> str:
    return config.namespace() + name


def exchange(name: str) -> Exchange:
    if name.endswith(".events"):
        # An event nobody subscribes to (yet) is not an error: the alternate
        # exchange keeps it in `titles.unrouted` instead of the broker returning
        # it, which would hold up the publisher's outbox. A command that no
        # queue takes is still returned (mandatory) and retried.
        return Exchange(named(name), type="topic", durable=True, arguments={"alternate-exchange": named(UNROUTED)})
    return Exchange(named(name), type="direct", durable=True)


def exchanges() -> list[Exchange]:
    names = {f"{s}.events" for s in SERVICES} | {c.exchange for c in CONTRACTS.values()}
    return (
        [Exchange(named(UNROUTED), type="fanout", durable=True)]
        + [exchange(n) for n in sorted(names)]
        + [Exchange(named(DEAD_LETTER_EXCHANGE), type="direct", durable=True)]
    )


def unrouted_queue(on_rabbitmq: bool = True) -> Queue:
    """Events that matched no subscription, kept for operators rather than dropped."""
    return Queue(
        named(UNROUTED),
        exchange=Exchange(named(UNROUTED), type="fanout", durable=True),
        routing_key="",
        durable=True,
        queue_arguments=_replicated(on_rabbitmq),
    )


def queue_type() -> str:
    return config.settings().queue_type


def quorum_everywhere() -> bool:
    """BROKER_QUORUM_QUEUES=1, for a RabbitMQ cluster: the dead-letter, retry and unrouted queues are
    quorum queues too, replicated over the nodes, so that a node that stops takes no queue with it (a
    classic queue on a stopped node refuses every declaration of it, and every process declares the whole
    topology when it connects); and a quorum queue dead-letters at least once (a message moving to its
    retry, back from it or to `.dead` survives a node failure half way). Off by default: a queue's
    arguments cannot change once declared, so a broker that has the classic ones keeps them until they
    are drained and deleted."""
    return config.settings().quorum_queues


def _replicated(on_rabbitmq: bool, arguments: dict[str, Any] | None = None) -> dict[str, Any] | None:
    if not (on_rabbitmq and quorum_everywhere()):
        return arguments
    return {
        **(arguments or {}),
        "x-queue-type": "quorum",
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def binding_keys(sub: Subscription, message_type: str) -> list[str]:
    """The routing keys a subscription binds for one of its types: the type itself (a message of a routed
    type that an older producer published without its value, too) and, for a routed type, ``<type>.*`` or
    one key per value it takes (``only``)."""
    routed = contract(message_type).message.ROUTED_BY
    if any(not TOPIC_WORD.fullmatch(value) for value in sub.only):
        raise ValueError(
            f"{sub.queue}: only={sub.only}: each value must be one topic word (letters, digits, _ or -; at most 40)"
        )
    if routed is None:
        if sub.only:
            raise ValueError(f"{sub.queue}: only={sub.only} but {message_type} is not routed by a field")
        return [message_type]
    return [message_type] + [f"{message_type}.{value}" for value in sub.only or ("*",)]


def main_queue(sub: Subscription, on_rabbitmq: bool) -> Queue:
    bindings = [(exchange(contract(t).exchange), key) for t in sub.types for key in binding_keys(sub, t)]
    arguments = None
    if on_rabbitmq:
        arguments = {
            "x-queue-type": queue_type(),
            "x-dead-letter-exchange": named(DEAD_LETTER_EXCHANGE),
            "x-dead-letter-routing-key": named(sub.queue),
        }
        if arguments["x-queue-type"] == "quorum":
            arguments = _replicated(on_rabbitmq, arguments)
    return Queue(
        named(sub.queue),
        bindings=[binding(ex, routing_key=rk) for ex, rk in bindings],
        durable=True,
        queue_arguments=arguments,
    )


def dead_queue(sub: Subscription, on_rabbitmq: bool = False) -> Queue:
    """Where a message ends after its last retry, for operators to inspect and replay."""
    return Queue(
        named(sub.queue + ".dead"),
        exchange=Exchange(named(DEAD_LETTER_EXCHANGE), type="direct", durable=True),
        routing_key=named(sub.queue),
        durable=True,
        queue_arguments=_replicated(on_rabbitmq),
    )


def retry_queue(sub: Subscription, attempt: int) -> Queue:
    """RabbitMQ only: holds a failed message for a delay, then returns it to its queue."""
    return Queue(
        named(f"{sub.queue}.retry.{attempt}"),
        durable=True,
        queue_arguments=_replicated(
            True,
            {
                "x-message-ttl": retry_delays_ms()[attempt - 1],
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": named(sub.queue),
            },
        ),
    )


def all_queues(on_rabbitmq: bool) -> list[Queue]:
    queues: list[Queue] = [unrouted_queue(on_rabbitmq)] if on_rabbitmq else []
    for sub in SUBSCRIPTIONS:
        queues.append(main_queue(sub, on_rabbitmq))
        queues.append(dead_queue(sub, on_rabbitmq))
        if on_rabbitmq:
            queues.extend(retry_queue(sub, n) for n in range(1, len(retry_delays_ms()) + 1))
    return queues


def declare(connection: kombu.Connection) -> None:
    """Declare every exchange, queue and binding of the system (idempotent)."""
    on_rabbitmq = is_rabbitmq(connection)
    with connection.channel() as channel:
        for ex in exchanges():
            ex(channel).declare()
        for queue in all_queues(on_rabbitmq):
            queue(channel).declare()


def is_rabbitmq(connection: kombu.Connection) -> bool:
    return bool(connection.transport.driver_type == "amqp")


def delete_namespace(connection: kombu.Connection) -> None:
    """Delete every queue and exchange of the current namespace (test and benchmark runs
    on a shared RabbitMQ clean up after themselves; quorum queues are not free)."""
    on_rabbitmq = is_rabbitmq(connection)
    with connection.channel() as channel:
        for queue in all_queues(on_rabbitmq):
            channel.queue_delete(queue.name)
        for ex in exchanges():
            channel.exchange_delete(ex.name)
