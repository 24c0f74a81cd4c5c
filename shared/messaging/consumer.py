"""Message consumers: idempotent handlers, acknowledged only after commit.

A handler is a plain function ``handler(uow, envelope, message)`` that gets the
typed message (``shared/contracts``) and changes its service's data (and may publish through ``uow.publish``); the consumer
records the message id in the inbox in the same transaction and commits. A
redelivered message finds its id in the inbox and changes nothing.

Failures: on RabbitMQ a failed message is moved to ``<queue>.retry.<n>``
(a TTL queue that returns it after a growing delay) and, after the last
retry, rejected into ``<queue>.dead`` through the dead-letter exchange. On
the embedded transport, which has no TTLs, the consumer waits the same growing
delays (a tenth as long), puts a copy at the back of the message's queue and,
after the last retry, moves it to ``<queue>.dead``. A message that breaks its contract goes to ``.dead`` at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from kombu import Connection, Consumer, Producer
from sqlalchemy.exc import IntegrityError

from shared.contracts import ContractViolation, load_incoming
from shared.messaging import broker, topology
from shared.messaging.envelope import Envelope
from shared.messaging.topology import Subscription
from shared.observability import context, metrics
from shared.uow import Database, UnitOfWork

log = logging.getLogger(__name__)

# Each handler takes its own type's message class (shared/contracts): dispatch is by the envelope's type.
Handler = Callable[[UnitOfWork, Envelope, Any], None]


class Poison(Exception):
    """A message that can never succeed (unreadable, or breaks its contract)."""


def process(db: Database, sub: Subscription, envelope: Envelope, handler: Handler, redelivered: bool = True) -> str:
    """Run one handler for one message, exactly once in effect. Returns the outcome.

    ``redelivered=False`` (the broker's word that it never handed this delivery out before: RabbitMQ's
    flag, or the embedded transport's) skips the look in the inbox: a copy of a message handled already
    (a relay that published twice) still collides on its inbox row, before the handler runs, and is a
    duplicate all the same. The look saves running the handler for nothing where a redelivery is likely."""
    try:
        message = load_incoming(envelope.type, envelope.data)
    except ContractViolation as exc:
        raise Poison(str(exc)) from exc
    with context.bound(envelope.correlation_id, envelope.id):
        with db.uow() as uow:
            if redelivered and uow.seen(envelope.id, sub.queue):
                return "duplicate"
            try:
                uow.remember(envelope, sub.queue)
            except IntegrityError:
                return "duplicate"  # another worker holds or has committed it
            handler(uow, envelope, message)
            uow.committing(envelope.id, sub.queue)
            try:
                uow.commit()
            except IntegrityError:
                if _committed_elsewhere(db, envelope, sub):
                    return "duplicate"
                raise
    return "done"


def _committed_elsewhere(db: Database, envelope: Envelope, sub: Subscription) -> bool:
    with db.uow(readonly=True) as uow:
        return uow.seen(envelope.id, sub.queue)


class ServiceConsumer:
    """Consumes every queue of one service and dispatches by message type."""

    def __init__(self, db: Database, handlers: Mapping[str, Handler]):
        self.db = db
        self.handlers = dict(handlers)
        self.subscriptions = topology.subscriptions_of(db.service)
        wanted = {t for s in self.subscriptions for t in s.types}
        missing = wanted - set(self.handlers)
        extra = set(self.handlers) - wanted
        if missing or extra:
            raise ValueError(
                f"{db.service}: handlers without subscription {sorted(extra)}, "
                f"subscriptions without handler {sorted(missing)}"
            )

    # -- one delivery ------------------------------------------------------
    def on_message(self, sub: Subscription, message: Any, on_rabbitmq: bool, producer: Producer) -> None:
        started = time.thread_time()
        try:
            self._deliver(sub, message, on_rabbitmq, producer)
        finally:
            metrics.cpu_seconds.labels(self.db.service, "message", sub.name).inc(time.thread_time() - started)

    def _deliver(self, sub: Subscription, message: Any, on_rabbitmq: bool, producer: Producer) -> None:
        try:
            envelope = Envelope.from_json(message.body)
            handler = self.handlers[envelope.type]
        except (ValueError, KeyError, TypeError) as exc:
            self._dead(sub, message, f"unreadable message: {exc!r}", producer)
            return
        attempts = int((message.headers or {}).get("x-attempts", 0))
        try:
            outcome = process(self.db, sub, envelope, handler, _maybe_redelivered(message) or attempts > 0)
        except Poison as exc:
            self._count(sub, envelope, "poison")
            self._dead(sub, message, str(exc), producer)
            return
        except Exception as exc:  # noqa: BLE001 - any failure is retried, then dead-lettered
            self._count(sub, envelope, "failed")
            log.warning(
                "handler failed",
                exc_info=True,
                extra={
                    "queue": sub.queue,
                    "type": envelope.type,
                    "message_id": envelope.id,
                    "attempt": attempts + 1,
                },
            )
            if on_rabbitmq:
                self._retry_on_rabbitmq(sub, message, attempts, producer, exc)
                return
            # Same schedule as on RabbitMQ, a tenth as long, then to the back of its queue as RabbitMQ's
            # retry queues send it back: meanwhile the consumer takes its other queues' messages (the
            # event this one waits for, say: a submission before its unit reached the directory).
            delays = topology.retry_delays_ms()
            if attempts >= len(delays):
                self._dead(sub, message, repr(exc), producer)
                return
            time.sleep(delays[attempts] / 10_000)
            self._retry_at_the_back(sub, message, attempts, producer, exc)
            return
        self._count(sub, envelope, outcome)
        message.ack()

    def _retry_on_rabbitmq(
        self, sub: Subscription, message: Any, attempts: int, producer: Producer, exc: Exception
    ) -> None:
        if attempts >= len(topology.retry_delays_ms()):
            message.reject(requeue=False)  # the queue's dead-letter exchange takes it to <queue>.dead
            return
        _move(message, producer, f"{sub.queue}.retry.{attempts + 1}", _retried(attempts, exc), delivery_mode=2)

    def _retry_at_the_back(
        self, sub: Subscription, message: Any, attempts: int, producer: Producer, exc: Exception
    ) -> None:
        """The embedded transport's retry: a copy at the end of the message's own queue, counting the
        attempt."""
        _move(message, producer, sub.queue, _retried(attempts, exc))

    def _dead(self, sub: Subscription, message: Any, reason: str, producer: Producer) -> None:
        log.error("message dead-lettered", extra={"queue": sub.queue, "reason": reason})
        # Parked with its reason on every transport (a plain reject on RabbitMQ would lose it).
        _move(message, producer, sub.queue + ".dead", {"x-dead-reason": reason[:500]})

    def _count(self, sub: Subscription, envelope: Envelope, outcome: str) -> None:
        metrics.messages_consumed.labels(self.db.service, sub.name, envelope.type, outcome).inc()

    # -- the loop ----------------------------------------------------------
    def consume(self, connection: Connection, stop: threading.Event) -> None:
        topology.declare(connection)
        on_rabbitmq = topology.is_rabbitmq(connection)
        channel = connection.channel()
        producer = Producer(channel)
        consumers = []
        for sub in self.subscriptions:
            queue = topology.main_queue(sub, on_rabbitmq)
            consumer = Consumer(
                channel,
                queues=[queue],
                accept=["json"],
                prefetch_count=1,
                on_message=self._bind(sub, on_rabbitmq, producer),
            )
            consumer.consume()
            consumers.append(consumer)
        log.info("consumer started", extra={"queues": [s.queue for s in self.subscriptions]})
        while not stop.is_set():
            try:
                connection.drain_events(timeout=0.5)
            except TimeoutError:
                continue
            except OSError as exc:
                if "timed out" in str(exc):
                    continue
                raise
        for consumer in consumers:
            consumer.cancel()
        channel.close()

    def _bind(self, sub: Subscription, on_rabbitmq: bool, producer: Producer) -> Callable[[Any], None]:
        return lambda message: self.on_message(sub, message, on_rabbitmq, producer)

    def run(self, stop: threading.Event, max_backoff: float = 10.0) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                with broker.connect() as connection:
                    self.consume(connection, stop)
                    backoff = 0.5
            except Exception as exc:  # noqa: BLE001 - broker or database down: wait and retry
                log.warning("consumer error; reconnecting", extra={"error": repr(exc), "backoff": backoff})
                stop.wait(backoff)
                backoff = min(backoff * 2, max_backoff)


def _move(message: Any, producer: Producer, queue: str, headers: dict[str, Any], **options: Any) -> None:
    """A copy of ``message`` to ``queue`` with ``headers`` added, then the original acknowledged: the
    consumer's channel confirms publishes, so the ack comes after the copy is safe."""
    producer.publish(
        message.body,
        exchange="",
        routing_key=topology.named(queue),
        headers={**(message.headers or {}), **headers},
        content_type=message.content_type,
        content_encoding=message.content_encoding,
        **options,
        **_properties(message),
    )
    message.ack()


def _retried(attempts: int, exc: Exception) -> dict[str, Any]:
    return {"x-attempts": attempts + 1, "x-last-error": repr(exc)[:500]}


def _maybe_redelivered(message: Any) -> bool:
    """False only where the broker says it never delivered the message before (RabbitMQ's flag, which
    the embedded transport sets too)."""
    return bool((getattr(message, "delivery_info", None) or {}).get("redelivered", True))


def _properties(message: Any) -> dict[str, Any]:
    props = message.properties or {}
    return {k: props[k] for k in ("message_id", "type", "correlation_id") if props.get(k)}
