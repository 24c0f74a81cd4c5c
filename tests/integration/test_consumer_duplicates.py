"""Two consumers of one message at once, on PostgreSQL (shared/messaging/consumer.py ``process``).

Where SQLite serialises every writing transaction (BEGIN IMMEDIATE), PostgreSQL lets two consumers
that were handed the same message (a redelivery while the first still works on it) run side by side.
Neither sees the other's inbox row before it commits, so the inbox's key decides:

- at flush: the second consumer's inbox row waits on the first one's, and collides when that commits;
  the second consumer never runs the handler;
- at commit: where the first commits between the second's look in the inbox and its inbox row, and
  that row's key is checked only at commit (a deferred constraint, which the services' inboxes do not
  have), the second runs the handler and its effect, keyed by the message, collides when it commits;
  it finds the message committed by the other and reports a duplicate, its effect rolled back. A
  collision at commit of a message nobody else took is an error (retried, then dead-lettered).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import PrimaryKeyConstraint, String, create_engine, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from services.notify import bootstrap as notify
from services.notify.models import Message
from shared.messaging import topology
from shared.messaging.consumer import process
from shared.messaging.envelope import Envelope
from shared.messaging.tables import InboxMixin, OutboxMixin
from shared.uow import Database, UnitOfWork
from tests.conftest import POSTGRES, wait_for
from tests.integration.test_messaging import issued

pytestmark = pytest.mark.skipif(
    not POSTGRES,
    reason="two transactions at once on one inbox key need PostgreSQL "
    "(SQLite serialises writers); set TEST_POSTGRES_URL",
)

Handler = Callable[[UnitOfWork, Envelope, dict[str, Any]], None]


def envelope_issued() -> Envelope:
    data = issued()
    return Envelope(
        type="certificate.issued.v1", source="certificate", data=data, correlation_id=data["declaration_id"]
    )


def subscription(service: str, message_type: str) -> Any:
    return next(s for s in topology.subscriptions_of(service) if message_type in s.types)


def in_thread(target: Callable[[], str]) -> tuple[threading.Thread, dict[str, Any]]:
    """Run ``target`` on a thread; its outcome (or the exception it raised) lands in the dict."""
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["outcome"] = target()
        except Exception as exc:  # noqa: BLE001 - the test asserts on it
            result["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def waiting_on_a_lock(db: Database) -> int:
    """Sessions of the database waiting for a lock another transaction holds (a row's key, here)."""
    with db.engine.connect() as conn:
        return (
            conn.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock'"
                )
            )
            or 0
        )


def test_a_redelivery_that_collides_at_flush_is_a_duplicate_and_never_runs_the_handler(dbs):
    db = dbs["notify"]
    real = notify.handlers()["certificate.issued.v1"]
    sub = subscription("notify", "certificate.issued.v1")
    env = envelope_issued()
    inside, finish = threading.Event(), threading.Event()
    second_calls: list[str] = []

    def first_handler(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
        real(uow, envelope, data)
        inside.set()
        assert finish.wait(30), "the test never let the first consumer finish"

    def second_handler(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
        second_calls.append(envelope.id)
        real(uow, envelope, data)

    first, first_result = in_thread(lambda: process(db, sub, env, first_handler))
    try:
        assert inside.wait(30), first_result
        second, second_result = in_thread(lambda: process(db, sub, env, second_handler))
        # The second has found nothing in the inbox (the first has not committed) and waits on its row.
        wait_for("the second consumer to wait on the first one's inbox row", lambda: waiting_on_a_lock(db) == 1)
    finally:
        finish.set()
    first.join(30), second.join(30)
    assert first_result == {"outcome": "done"}
    assert second_result == {"outcome": "duplicate"}
    assert second_calls == []
    with db.uow(readonly=True) as uow:
        assert (
            uow.session.scalar(
                select(func.count()).select_from(Message).where(Message.declaration_id == env.data["declaration_id"])
            )
            == 1
        )


# -- at commit: an inbox whose key is checked when the transaction commits -------------------------


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    # The same columns as every service's inbox; only the key's check waits for the commit.
    __table_args__ = (PrimaryKeyConstraint("message_id", "handler", deferrable=True, initially="DEFERRED"),)


class Effect(Base):
    """What the handler does: one row per message, with a key of its own (``code``)."""

    __tablename__ = "effects"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)


class Interleaved(Database):
    """A second consumer's view of the same database: ``meanwhile`` runs once between its look in the
    inbox and writing its own inbox row (there the other consumer commits)."""

    def __init__(self, url: str, meanwhile: Callable[[], None]):
        super().__init__("notify", url, Base.metadata, Outbox, Inbox)
        self.meanwhile: list[Callable[[], None]] = [meanwhile]

    def uow(self, readonly: bool = False) -> UnitOfWork:
        uow = super().uow(readonly)
        look = uow.seen

        def seen(message_id: str, handler: str) -> bool:
            found = look(message_id, handler)
            while self.meanwhile:
                self.meanwhile.pop()()
            return found

        uow.seen = seen  # type: ignore[method-assign]
        return uow


@pytest.fixture
def deferred_url(dbs: dict[str, Any]) -> Iterator[str]:
    """The notify test database seen through a schema of its own (dropped after the test) holding the
    deferred inbox."""
    schema = f"deferred_{uuid.uuid4().hex[:8]}"
    with dbs["notify"].engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{dbs['notify'].url}?options=-csearch_path%3D{schema}"
    engine = create_engine(url)
    try:
        Base.metadata.create_all(engine)
        yield url
    finally:
        engine.dispose()
        with dbs["notify"].engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def effects(db: Database) -> list[tuple[str, str]]:
    with db.uow(readonly=True) as uow:
        return [(e.message_id, e.code) for e in uow.session.scalars(select(Effect))]


def test_a_redelivery_that_collides_only_at_commit_is_a_duplicate_and_its_effect_is_undone(deferred_url):
    db = Database("notify", deferred_url, Base.metadata, Outbox, Inbox)
    sub = subscription("notify", "certificate.issued.v1")
    env = envelope_issued()
    inside, finish = threading.Event(), threading.Event()

    def first_handler(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
        uow.session.add(Effect(message_id=envelope.id, code="first"))
        inside.set()
        assert finish.wait(30), "the test never let the first consumer finish"

    first, first_result = in_thread(lambda: process(db, sub, env, first_handler))

    def first_commits() -> None:
        finish.set()
        first.join(30)

    second = Interleaved(deferred_url, first_commits)
    second_ran: list[str] = []

    def second_handler(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
        second_ran.append(envelope.id)
        uow.session.add(Effect(message_id=envelope.id, code="second"))  # the effect is keyed by the message

    try:
        # The first consumer holds the message, uncommitted; the second (a redelivery) finds nothing in
        # the inbox, the first commits, and nothing stops the second's inbox row until it commits.
        assert inside.wait(30), first_result
        assert process(second, sub, env, second_handler) == "duplicate"
    finally:
        finish.set()
        first.join(30)
        second.dispose()
    assert first_result == {"outcome": "done"}
    assert second_ran == [env.id]  # it did run the handler: the collision came at commit
    assert effects(db) == [(env.id, "first")]  # and its effect went with its transaction
    db.dispose()


def test_a_collision_at_commit_of_a_message_nobody_else_took_is_an_error(deferred_url):
    db = Database("notify", deferred_url, Base.metadata, Outbox, Inbox)
    sub = subscription("notify", "certificate.issued.v1")
    earlier, env = envelope_issued(), envelope_issued()

    def handler(uow: UnitOfWork, envelope: Envelope, data: dict[str, Any]) -> None:
        uow.session.add(Effect(message_id=envelope.id, code="same code"))

    try:
        assert process(db, sub, earlier, handler) == "done"
        with pytest.raises(IntegrityError):  # the consumer retries it, then dead-letters it: no duplicate
            process(db, sub, env, handler)
        with db.uow(readonly=True) as uow:
            assert not uow.seen(env.id, sub.queue)
        assert effects(db) == [(earlier.id, "same code")]
    finally:
        db.dispose()
