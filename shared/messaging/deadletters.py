"""Dead letters: list the messages parked in ``<queue>.dead`` and replay them.

A message lands there after its last retry (or at once if it broke its
contract). Once the cause is fixed, an operator replays it into its queue;
the inbox still makes a replay of an already-applied message harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kombu import Producer

from shared.messaging import broker, topology
from shared.messaging.envelope import Envelope


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str | None
    type: str | None
    correlation_id: str | None
    reason: str | None
    body: str


def _reason(headers: dict[str, Any]) -> str | None:
    if headers.get("x-dead-reason"):
        return str(headers["x-dead-reason"])  # set by the consumer on the embedded transport
    if headers.get("x-last-error"):
        return str(headers["x-last-error"])  # the last retry's error on RabbitMQ
    deaths = headers.get("x-death") or []
    return f"rejected after {deaths[0].get('count')} deliveries" if deaths else None


def readable(body: Any) -> str:
    """A message body as text an operator can read, whatever its bytes: bytes that are not UTF-8 are
    shown escaped (``\\xff``) rather than stopping the listing of the whole queue."""
    if isinstance(body, bytes):
        return body.decode("utf-8", errors="backslashreplace")
    return body if isinstance(body, str) else repr(body)


def _letter(queue: str, message: Any) -> DeadLetter:
    body = readable(message.body)
    try:
        envelope = Envelope.from_json(body)
        ids = (envelope.id, envelope.type, envelope.correlation_id)
    except (ValueError, KeyError, TypeError):  # unreadable: show what the properties say
        ids = (message.properties.get("message_id"), message.properties.get("type"), None)
    return DeadLetter(queue, *ids, _reason(message.headers or {}), body)


def _dead_queue(queue: str) -> Any:
    """The kombu Queue of a subscription's dead letters (kombu messages on every transport)."""
    return next(topology.dead_queue(s) for s in topology.SUBSCRIPTIONS if s.queue == queue)


def list_dead(queue: str, limit: int = 100) -> list[DeadLetter]:
    """Up to ``limit`` dead letters of a subscription's queue; they stay parked."""
    letters, held = [], []
    with broker.connect() as connection:
        topology.declare(connection)
        with connection.channel() as channel:
            dead = _dead_queue(queue)(channel)
            for _ in range(limit):
                message = dead.get(no_ack=False)
                if message is None:
                    break
                held.append(message)
                letters.append(_letter(queue, message))
            for message in held:
                message.reject(requeue=True)
    return letters


def replay(queue: str, limit: int = 100) -> int:
    """Move up to ``limit`` dead letters back into their queue; returns how many."""
    replayed = 0
    with broker.connect() as connection:
        topology.declare(connection)
        channel = connection.channel()
        producer = Producer(channel)
        dead = _dead_queue(queue)(channel)
        for _ in range(limit):
            message = dead.get(no_ack=False)
            if message is None:
                break
            headers = {
                k: v
                for k, v in (message.headers or {}).items()
                if k not in ("x-attempts", "x-death", "x-dead-reason", "x-last-error")
            }
            properties = {
                k: message.properties[k] for k in ("message_id", "type", "correlation_id") if message.properties.get(k)
            }
            producer.publish(
                message.body,
                exchange="",
                routing_key=topology.named(queue),
                headers=headers,
                content_type=message.content_type,
                content_encoding=message.content_encoding,
                delivery_mode=2,
                **properties,
            )
            message.ack()  # only after the copy is in its queue
            replayed += 1
        channel.close()
    return replayed
