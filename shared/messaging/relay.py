"""The outbox relay: publishes committed outbox rows, in order, at least once.

A row is marked published after the broker confirmed it, on PostgreSQL in the
same transaction that selected (and locked) it, on SQLite in a write transaction
of its own. A crash between confirm and commit publishes the row again on
restart; consumers' inboxes make that harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from kombu import Connection, Producer
from sqlalchemy import bindparam, select, update

from shared.db import utcnow
from shared.messaging import broker, topology, wake
from shared.messaging.envelope import Envelope
from shared.uow import Database

log = logging.getLogger(__name__)


class Unroutable(RuntimeError):
    """The broker returned a mandatory message: no queue is bound for it."""


class Publisher:
    """Publishes envelopes with confirms and ``mandatory``, noticing returns."""

    def __init__(self, connection: Connection):
        self.connection = connection
        self.channel = connection.channel()
        self._returned: set[str] = set()
        self.mandatory = topology.is_rabbitmq(connection)
        # Returns exist only on AMQP; the embedded transport routes by bindings it shares on disk.
        self.producer = Producer(self.channel, on_return=self._on_return if self.mandatory else None)
        topology.declare(connection)

    def _on_return(self, exception: Any, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.add(message.properties.get("message_id", ""))

    def publish(
        self,
        message_id: str,
        message_type: str,
        exchange: str,
        routing_key: str,
        body: str,
        correlation_id: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        properties: dict[str, Any] = {"message_id": message_id, "type": message_type}
        if correlation_id:
            properties["correlation_id"] = correlation_id
        self.producer.publish(
            body,
            exchange=topology.exchange(exchange) if exchange else "",
            routing_key=routing_key,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            mandatory=self.mandatory,
            headers=headers or {},
            retry=False,
            **properties,
        )
        # With confirms the return (if any) arrives before the ack that ended publish().
        if message_id in self._returned:
            self._returned.discard(message_id)
            raise Unroutable(f"{message_type} to {exchange}/{routing_key} reached no queue")

    def close(self) -> None:
        try:
            self.channel.close()
        except Exception:  # noqa: BLE001 - closing a broken channel
            pass


BATCH = 100  # rows a round publishes at most


def relay_once(db: Database, publisher: Publisher, batch: int = BATCH) -> int:
    """Publish up to ``batch`` pending rows; returns how many were published."""
    if db.engine.dialect.name == "sqlite":
        return _relay_once_reading_first(db, publisher, batch)
    statements = _statements(db.outbox_model, batch)
    # PostgreSQL: the rows locked (skipping those another relay holds), published and marked in one
    # transaction, the round's marks in one statement. As ORM objects each row cost a flush and an UPDATE
    # of its own: forty statements a lifecycle of the review's relay alone.
    with db.engine.begin() as conn:
        rows = conn.execute(statements.claim).all()
        published, failed_at, failure = _publish_in_order(db, publisher, rows)
        _mark(conn, statements, published, failed_at)
    if failure is not None:
        # A broken connection, or no queue bound (a topology bug): either way
        # the caller reconnects (declaring the topology again) with backoff.
        raise failure
    return len(published)


def _relay_once_reading_first(db: Database, publisher: Publisher, batch: int) -> int:
    """SQLite: the rows are read in a read transaction and marked in a short write transaction once the
    broker confirmed them. Holding the database's one write lock while publishing (and queueing for it
    first, where SQLite's busy wait sleeps up to 100 ms between tries) held up the service's requests and
    the relay alike. One relay per database on SQLite, so no other publishes these rows meanwhile; a crash
    before the marks publishes them again, as it does on PostgreSQL."""
    statements = _statements(db.outbox_model, batch)
    with db.engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        rows = conn.execute(statements.read).all()
    published, failed_at, failure = _publish_in_order(db, publisher, rows)
    if published or failed_at:
        with db.engine.begin() as conn:
            _mark(conn, statements, published, failed_at)
    if failure is not None:
        raise failure
    return len(published)


def _publish_in_order(
    db: Database, publisher: Publisher, rows: Sequence[Any]
) -> tuple[list[int], tuple[int, str] | None, Exception | None]:
    """The rows published in order until one fails: the seqs published, the failed row's (seq, error) and
    the failure (later rows must not overtake it)."""
    from shared.observability import metrics

    published: list[int] = []
    for row in rows:
        try:
            _publish(publisher, row)
        except Exception as exc:  # noqa: BLE001 - keep the row, try again later
            error = f"{type(exc).__name__}: {exc}"[:2000]
            log.warning("outbox publish failed", extra={"message_id": row.message_id, "error": error})
            return published, (row.seq, error), exc
        published.append(row.seq)
        metrics.messages_published.labels(db.service, row.type).inc()
    return published, None, None


def _mark(conn: Any, statements: _Statements, published: list[int], failed_at: tuple[int, str] | None) -> None:
    """The rows the broker confirmed stamped published, in one statement; the row that failed counted."""
    if published:
        conn.execute(statements.mark, {"seqs": published, "at": utcnow()})
    if failed_at:
        conn.execute(statements.failed, {"failed_seq": failed_at[0], "error": failed_at[1]})


class _Statements(NamedTuple):
    claim: Any  # PostgreSQL: the next rows, locked, skipping those another relay holds
    read: Any  # SQLite: the next rows, read
    mark: Any  # those published, stamped
    failed: Any  # the one that failed, counted with its error


_STATEMENTS: dict[tuple[Any, int], _Statements] = {}


def _statements(model: Any, batch: int) -> _Statements:
    """Built once per outbox: building a statement cost more than running it on SQLite (120 of 194 us a
    look), and a relay looks once or twice a commit. (A race builds them twice, harmlessly.)"""
    found = _STATEMENTS.get((model, batch))
    if found is None:
        found = _STATEMENTS[(model, batch)] = _build_statements(model, batch)
    return found


def _build_statements(model: Any, batch: int) -> _Statements:
    outbox = model.__table__
    read = (
        select(outbox.c.seq, outbox.c.message_id, outbox.c.type, outbox.c.exchange, outbox.c.routing_key, outbox.c.body)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.seq)
        .limit(batch)
    )
    return _Statements(
        claim=read.with_for_update(skip_locked=True),
        read=read,
        mark=update(outbox)
        .where(outbox.c.seq.in_(bindparam("seqs", expanding=True)))
        .values(published_at=bindparam("at")),
        failed=update(outbox)
        .where(outbox.c.seq == bindparam("failed_seq"))
        .values(attempts=outbox.c.attempts + 1, last_error=bindparam("error")),
    )


def _publish(publisher: Publisher, row: Any) -> None:
    """One outbox row (an ORM row or a Core one: the same attributes) to the broker, confirmed."""
    envelope = Envelope.from_json(row.body)
    publisher.publish(
        row.message_id, row.type, row.exchange, row.routing_key, row.body, correlation_id=envelope.correlation_id
    )


# The poll kept beside the doorbell (shared/messaging/wake.py): it only matters when a ring is lost.
SAFETY_POLL_S = 1.0


def run(db: Database, stop: threading.Event, idle_sleep: float = SAFETY_POLL_S, max_backoff: float = 10.0) -> None:
    """Relay until ``stop`` is set, reconnecting with backoff when the broker fails. Between rounds it
    waits for a commit that wrote outbox rows to wake it, or ``idle_sleep`` seconds at most."""
    backoff = 0.5
    while not stop.is_set():
        bell: wake.Waiter | None = None
        try:
            bell = wake.outbox_listener(db.url)
            with broker.connect() as connection:
                publisher = Publisher(connection)
                log.info("outbox relay started", extra={"service": db.service})
                backoff = 0.5
                while not stop.is_set():
                    bell.clear()  # rings from here on are for rows this round may not see
                    # A round short of a batch took every row committed before the bell was cleared: a
                    # row committed since rang it, so the wait ends at once. Only a full batch looks again
                    # unasked (one empty look a round less, about one a commit under load).
                    if relay_once(db, publisher) < BATCH:
                        bell.wait(idle_sleep, stop)
        except Exception as exc:  # noqa: BLE001 - broker or database down: wait and retry
            log.warning("outbox relay error; retrying", extra={"error": repr(exc), "backoff": backoff})
            stop.wait(backoff)
            backoff = min(backoff * 2, max_backoff)
        finally:
            if bell is not None:
                bell.close()
