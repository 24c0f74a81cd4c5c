"""Reliability of the messaging layer, on whichever broker the run uses.

On RabbitMQ (TEST_BROKER_URL) these are the issue's reliability checks: a
message delivered twice has one effect; a consumer that fails in the middle
gets the message again and the effect happens once; an outbox row written
before a relay crash is published after the relay restarts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from services.notify import bootstrap as notify
from services.notify.models import Message
from shared.contracts.certificate import Issued
from shared.messaging import broker, relay, topology
from shared.messaging.consumer import ServiceConsumer
from shared.messaging.envelope import Envelope
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]


def issued(declaration_id: str | None = None) -> dict[str, Any]:
    return {
        "certificate_id": str(uuid.uuid4()),
        "number": "TJZC2026000042",
        "declaration_id": declaration_id or str(uuid.uuid4()),
        "holder": "applicant",
        "holder_name": "张伟",
        "series": "工程",
        "level": "副高级",
        "specialty": "软件工程",
        "qualification_name": "高级工程师",
        "issued_on": "2026-11-27",
    }


def publish_from_certificate(dbs: dict[str, Any], data: dict[str, Any]) -> Envelope:
    with dbs["certificate"].uow() as uow:
        envelope = uow.publish(Issued(**data), correlation_id=data["declaration_id"])
        uow.commit()
    return envelope


def messages_for(dbs: dict[str, Any], declaration_id: str) -> int:
    with dbs["notify"].uow(readonly=True) as uow:
        return (
            uow.session.scalar(
                select(func.count()).select_from(Message).where(Message.declaration_id == declaration_id)
            )
            or 0
        )


def pending(db: Any) -> int:
    return db.outbox_backlog()


def run_consumer(db: Any, handlers: dict[str, Any]) -> tuple[threading.Event, threading.Thread]:
    stop = threading.Event()
    thread = threading.Thread(target=ServiceConsumer(db, handlers).run, args=(stop,), daemon=True)
    thread.start()
    return stop, thread


def test_the_outbox_is_published_and_consumed_with_the_envelope_intact(dbs, workers):
    data = issued()
    envelope = publish_from_certificate(dbs, data)
    wait_for("the notify message", lambda: messages_for(dbs, data["declaration_id"]) == 1)
    with dbs["notify"].uow(readonly=True) as uow:
        inbox = uow.session.get(dbs["notify"].inbox_model, (envelope.id, "notify.on_certificate_issued"))
        assert inbox is not None and inbox.type == "certificate.issued.v1"
    assert pending(dbs["certificate"]) == 0


def test_the_cpu_of_each_delivery_is_counted_by_its_handler(dbs, workers, clients):
    import re

    def spent() -> float:
        text = clients["notify"].get("/metrics").get_data(as_text=True)
        found = re.search(
            r'^titles_cpu_seconds_total\{kind="message",name="on_certificate_issued",service="notify"\} (\S+)$',
            text,
            re.MULTILINE,
        )
        return float(found.group(1)) if found else 0.0

    before = spent()
    data = issued()
    publish_from_certificate(dbs, data)
    wait_for("the notify message", lambda: messages_for(dbs, data["declaration_id"]) == 1)
    # counted when the delivery's work is done (after its commit and ack), a moment after the row is there
    wait_for("the delivery's CPU", lambda: spent() > before)


def test_a_message_delivered_twice_has_one_effect(dbs, broker_url):
    data = issued()
    envelope = Envelope(
        type="certificate.issued.v1", source="certificate", data=data, correlation_id=data["declaration_id"]
    )
    with broker.connect() as connection:
        publisher = relay.Publisher(connection)
        for _ in range(2):  # the same message id twice, as a relay that crashed before commit would
            publisher.publish(
                envelope.id,
                envelope.type,
                "certificate.events",
                envelope.type,
                envelope.to_json(),
                correlation_id=envelope.correlation_id,
            )
        publisher.close()
    stop, thread = run_consumer(dbs["notify"], notify.handlers())
    try:
        wait_for("the effect", lambda: messages_for(dbs, data["declaration_id"]) == 1)
        # Both copies are consumed (the second as a duplicate) and still one effect.
        wait_for("both deliveries", lambda: _queue_empty("notify.on_certificate_issued"), timeout=15)
        assert messages_for(dbs, data["declaration_id"]) == 1
    finally:
        stop.set()
        thread.join(10)


def test_a_consumer_failing_midway_gets_the_message_again_and_the_effect_happens_once(dbs, broker_url):
    handlers = notify.handlers()
    original = handlers["certificate.issued.v1"]
    calls: list[str] = []

    def flaky(uow, envelope, data):  # noqa: ANN001
        calls.append(envelope.id)
        original(uow, envelope, data)  # the effect is written...
        uow.session.flush()
        if len(calls) == 1:
            raise ConnectionError("the database went away mid-handler")  # ...and rolled back

    handlers["certificate.issued.v1"] = flaky
    data = issued()
    publish_from_certificate(dbs, data)
    stop, thread = run_consumer(dbs["notify"], handlers)
    relay_stop = threading.Event()
    relay_thread = threading.Thread(target=relay.run, args=(dbs["certificate"], relay_stop), daemon=True)
    relay_thread.start()
    try:
        wait_for("the retried message", lambda: messages_for(dbs, data["declaration_id"]) == 1, timeout=30)
        assert len(calls) == 2 and calls[0] == calls[1]
        assert messages_for(dbs, data["declaration_id"]) == 1
    finally:
        stop.set(), relay_stop.set()
        thread.join(10), relay_thread.join(10)


@pytest.mark.other_processes_write
def test_a_consumer_killed_while_handling_leaves_no_effect_and_the_message_is_redelivered(dbs, broker_url, tmp_path):
    data = issued()
    publish_from_certificate(dbs, data)
    relay_stop = threading.Event()
    relay_thread = threading.Thread(target=relay.run, args=(dbs["certificate"], relay_stop), daemon=True)
    relay_thread.start()
    marker = tmp_path / "inside-handler"
    env = dict(os.environ, NOTIFY_DATABASE_URL=dbs["notify"].url, PYTHONPATH=str(ROOT))
    stalled = subprocess.Popen([sys.executable, "-m", "tests.helpers.stalled_consumer", str(marker)], env=env, cwd=ROOT)
    try:
        wait_for("the stalled consumer to take the message", marker.exists, timeout=30)
        stalled.send_signal(signal.SIGKILL)
        stalled.wait(10)
        assert messages_for(dbs, data["declaration_id"]) == 0  # its uncommitted effect died with it
        stop, thread = run_consumer(dbs["notify"], notify.handlers())
        try:
            wait_for("redelivery", lambda: messages_for(dbs, data["declaration_id"]) == 1, timeout=30)
        finally:
            stop.set()
            thread.join(10)
    finally:
        if stalled.poll() is None:
            stalled.kill()
        relay_stop.set()
        relay_thread.join(10)


def test_a_commit_wakes_the_relay_which_publishes_without_waiting_for_its_poll(dbs, broker_url):
    """SQLite: the commit rings the database's doorbell; PostgreSQL: the outbox trigger notifies the relay,
    which LISTENs. The relay's poll is an hour here: the message goes out long before it would."""
    stop = threading.Event()
    thread = threading.Thread(
        target=relay.run, args=(dbs["certificate"], stop), kwargs={"idle_sleep": 3600}, daemon=True
    )
    thread.start()
    try:
        publish_from_certificate(dbs, issued())
        wait_for("the first message published", lambda: pending(dbs["certificate"]) == 0, timeout=30)
        for _ in range(3):  # the relay waits between these: each commit wakes it
            publish_from_certificate(dbs, issued())
            wait_for("a message published without the poll", lambda: pending(dbs["certificate"]) == 0, timeout=30)
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_relay_round_short_of_a_batch_waits_for_the_next_commit_instead_of_looking_again(
    dbs, broker_url, monkeypatch
):
    """The round took every row committed before it cleared its bell: it waits for the next ring (the poll
    is an hour here) rather than looking once more for nothing, and a commit after the round still wakes it."""
    rounds: list[int] = []
    real = relay.relay_once

    def counted(db: Any, publisher: Any, batch: int = relay.BATCH) -> int:
        rounds.append(real(db, publisher, batch))
        return rounds[-1]

    monkeypatch.setattr(relay, "relay_once", counted)
    stop = threading.Event()
    thread = threading.Thread(
        target=relay.run, args=(dbs["certificate"], stop), kwargs={"idle_sleep": 3600}, daemon=True
    )
    thread.start()
    try:
        wait_for("the relay's first look", lambda: rounds)
        for n in (1, 2):
            publish_from_certificate(dbs, issued())
            wait_for("the message published", lambda: pending(dbs["certificate"]) == 0, timeout=30)
            wait_for("the round counted", lambda n=n: len(rounds) >= 1 + n, timeout=30)
        time.sleep(0.3)  # time for a look that should not come
    finally:
        stop.set()
        thread.join(10)
    # Its first look, and one round a commit. (A ring left by an earlier test may add a first empty look.)
    assert [r for r in rounds if r] == [1, 1]
    assert len(rounds) <= 4 and rounds[-2:] == [1, 1], rounds


def test_clearing_a_postgresql_listener_forgets_the_notifications_already_received(database_urls):
    from sqlalchemy import create_engine, text

    from shared.messaging import wake

    url = database_urls["certificate"]
    if not url.startswith("postgresql"):
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    listener = wake.outbox_listener(url)
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"NOTIFY {wake.OUTBOX_CHANNEL}"))
        assert listener.wait(5)  # received: a wait returns at once
        for _ in range(3):  # three commits, three notifications
            with engine.begin() as connection:
                connection.execute(text(f"NOTIFY {wake.OUTBOX_CHANNEL}"))
        time.sleep(0.2)
        listener.clear()
        assert not listener.wait(0.3)  # all three forgotten: the look after clear() sees their rows
        with engine.begin() as connection:
            connection.execute(text(f"NOTIFY {wake.OUTBOX_CHANNEL}"))
        assert listener.wait(5)  # one after clear() still wakes the relay
    finally:
        listener.close()
        engine.dispose()


@pytest.mark.other_processes_write
def test_an_outbox_row_written_before_a_relay_crash_is_published_after_restart(dbs, broker_url):
    env = dict(os.environ, CERTIFICATE_DATABASE_URL=dbs["certificate"].url, PYTHONPATH=str(ROOT))
    titles = str(Path(sys.executable).with_name("titles"))
    first = subprocess.Popen([titles, "relay", "certificate"], env=env, cwd=ROOT)
    data = issued()
    try:
        publish_from_certificate(dbs, data)
        first.send_signal(signal.SIGKILL)  # the relay crashes, perhaps before it saw the row
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    stop, thread = run_consumer(dbs["notify"], notify.handlers())
    second = subprocess.Popen([titles, "relay", "certificate"], env=env, cwd=ROOT)
    try:
        wait_for("publication after restart", lambda: pending(dbs["certificate"]) == 0, timeout=30)
        wait_for("the effect", lambda: messages_for(dbs, data["declaration_id"]) == 1, timeout=30)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)
        stop.set()
        thread.join(10)
    assert second.returncode == 0  # a clean stop on SIGTERM


def test_a_relay_crash_between_confirm_and_commit_publishes_again_and_the_effect_happens_once(dbs, broker_url):
    data = issued()
    publish_from_certificate(dbs, data)

    class CrashAfterConfirm(relay.Publisher):
        def publish(self, *args: Any, **kwargs: Any) -> None:
            super().publish(*args, **kwargs)
            raise ConnectionResetError("relay died after the broker confirmed")

    with broker.connect() as connection:
        with pytest.raises(ConnectionResetError):
            relay.relay_once(dbs["certificate"], CrashAfterConfirm(connection))
    assert pending(dbs["certificate"]) == 1  # not marked: it will be published again
    with broker.connect() as connection:
        assert relay.relay_once(dbs["certificate"], relay.Publisher(connection)) == 1
    stop, thread = run_consumer(dbs["notify"], notify.handlers())
    try:
        wait_for("the effect", lambda: messages_for(dbs, data["declaration_id"]) == 1)
        wait_for("the duplicate to be consumed", lambda: _queue_empty("notify.on_certificate_issued"), timeout=15)
        assert messages_for(dbs, data["declaration_id"]) == 1
    finally:
        stop.set()
        thread.join(10)


def test_a_publish_that_fails_marks_the_rows_before_it_counts_its_own_and_holds_back_the_rest(dbs, broker_url):
    """A round publishes in order: the rows the broker confirmed are marked published, the row that failed
    is counted with its error, and the rows after it wait for the next round (they must not overtake it)."""
    db = dbs["certificate"]
    while pending(db):  # whatever earlier tests left behind
        with broker.connect() as connection:
            relay.relay_once(db, relay.Publisher(connection))
    envelopes = [publish_from_certificate(dbs, issued()) for _ in range(3)]

    class FailsOnTheSecond(relay.Publisher):
        def publish(self, message_id: str, *args: Any, **kwargs: Any) -> None:
            if message_id == envelopes[1].id:
                raise ConnectionResetError("the broker went away")
            super().publish(message_id, *args, **kwargs)

    with broker.connect() as connection:
        with pytest.raises(ConnectionResetError):
            relay.relay_once(db, FailsOnTheSecond(connection))
    outbox = db.outbox_model
    with db.uow(readonly=True) as uow:
        rows = {
            row.message_id: row
            for row in uow.session.scalars(select(outbox).where(outbox.message_id.in_([e.id for e in envelopes])))
        }
    first, failed, held = (rows[e.id] for e in envelopes)
    assert first.published_at is not None and first.attempts == 0
    assert failed.published_at is None and failed.attempts == 1
    assert "ConnectionResetError: the broker went away" in (failed.last_error or "")
    assert held.published_at is None and held.attempts == 0 and held.last_error is None
    with broker.connect() as connection:
        assert relay.relay_once(db, relay.Publisher(connection)) == 2  # the next round takes both, in order
    assert pending(db) == 0


def _queue_empty(queue: str) -> bool:
    with broker.connect() as connection, connection.channel() as channel:
        return channel.queue_declare(topology.named(queue), passive=True).message_count == 0


def _dead_letters(queue: str) -> list[Any]:
    found = []
    with broker.connect() as connection, connection.channel() as channel:
        while True:
            message = channel.basic_get(topology.named(queue + ".dead"))
            if message is None:
                return found
            channel.basic_ack(message.delivery_tag)
            found.append(message)


def test_a_message_that_breaks_its_contract_is_dead_lettered_without_effect(dbs, broker_url):
    data = issued()
    del data["number"]  # required by the contract
    envelope = Envelope(type="certificate.issued.v1", source="certificate", data=data)
    with broker.connect() as connection:
        publisher = relay.Publisher(connection)
        publisher.publish(envelope.id, envelope.type, "certificate.events", envelope.type, envelope.to_json())
        publisher.close()
    stop, thread = run_consumer(dbs["notify"], notify.handlers())
    try:
        dead = wait_for("the dead letter", lambda: _dead_letters("notify.on_certificate_issued"), timeout=30)
        assert Envelope.from_json(dead[0].body).id == envelope.id
        assert messages_for(dbs, data["declaration_id"]) == 0
    finally:
        stop.set()
        thread.join(10)


def test_a_handler_that_always_fails_is_retried_with_backoff_then_dead_lettered(dbs, broker_url):
    handlers = notify.handlers()
    attempts: list[str] = []

    def broken(uow, envelope, data):  # noqa: ANN001
        attempts.append(envelope.id)
        raise RuntimeError("a bug")

    handlers["certificate.issued.v1"] = broken
    data = issued()
    envelope = Envelope(type="certificate.issued.v1", source="certificate", data=data)
    with broker.connect() as connection:
        publisher = relay.Publisher(connection)
        publisher.publish(envelope.id, envelope.type, "certificate.events", envelope.type, envelope.to_json())
        publisher.close()
    stop, thread = run_consumer(dbs["notify"], handlers)
    try:
        dead = wait_for("the dead letter", lambda: _dead_letters("notify.on_certificate_issued"), timeout=30)
        assert Envelope.from_json(dead[0].body).id == envelope.id
        assert len(attempts) == 1 + len(topology.retry_delays_ms())
    finally:
        stop.set()
        thread.join(10)


def test_every_subscription_has_a_handler_and_every_handler_a_subscription():
    from shared.config import SERVICES
    from titles import bootstrap

    for service in SERVICES:
        wanted = {t for s in topology.subscriptions_of(service) for t in s.types}
        assert set(bootstrap.service(service).handlers()) == wanted, service


def test_declaring_the_topology_twice_is_harmless(broker_url):
    with broker.connect() as connection:
        topology.declare(connection)
        topology.declare(connection)


def test_dead_letters_can_be_listed_and_replayed_once_the_cause_is_fixed(dbs, broker_url):
    from shared.messaging import deadletters

    handlers = notify.handlers()
    original = handlers["certificate.issued.v1"]
    broken = {"yes": True}

    def sometimes(uow, envelope, data):  # noqa: ANN001
        if broken["yes"]:
            raise RuntimeError("template missing")
        original(uow, envelope, data)

    handlers["certificate.issued.v1"] = sometimes
    data = issued()
    envelope = Envelope(
        type="certificate.issued.v1", source="certificate", data=data, correlation_id=data["declaration_id"]
    )
    with broker.connect() as connection:
        publisher = relay.Publisher(connection)
        publisher.publish(
            envelope.id,
            envelope.type,
            "certificate.events",
            envelope.type,
            envelope.to_json(),
            correlation_id=envelope.correlation_id,
        )
        publisher.close()
    stop, thread = run_consumer(dbs["notify"], handlers)
    try:
        letters = wait_for("the dead letter", lambda: deadletters.list_dead("notify.on_certificate_issued"), timeout=30)
        assert [(letter.message_id, letter.type, letter.correlation_id) for letter in letters] == [
            (envelope.id, "certificate.issued.v1", data["declaration_id"])
        ]
        assert "template missing" in letters[0].reason
        assert len(deadletters.list_dead("notify.on_certificate_issued")) == 1  # listing leaves it parked
        broken["yes"] = False  # the operator fixed the cause
        assert deadletters.replay("notify.on_certificate_issued") == 1
        wait_for("the replayed effect", lambda: messages_for(dbs, data["declaration_id"]) == 1, timeout=30)
        assert deadletters.list_dead("notify.on_certificate_issued") == []
    finally:
        stop.set()
        thread.join(10)


def test_a_dead_letter_that_is_not_utf8_is_listed_and_replayed_like_any_other(dbs, broker_url):
    from shared.messaging import deadletters

    garbage = b"\xff\xfe not UTF-8 \x80"
    with broker.connect() as connection:
        publisher = relay.Publisher(connection)
        publisher.publish("garbage-1", "certificate.issued.v1", "certificate.events", "certificate.issued.v1", garbage)  # type: ignore[arg-type] - bytes a broken producer sent
        publisher.close()
    stop, thread = run_consumer(dbs["notify"], notify.handlers())
    try:
        letters = wait_for("the dead letter", lambda: deadletters.list_dead("notify.on_certificate_issued"), timeout=30)
    finally:
        stop.set()
        thread.join(10)
    assert [(letter.message_id, letter.type) for letter in letters] == [("garbage-1", "certificate.issued.v1")]
    assert "\\xff\\xfe not UTF-8" in letters[0].body
    assert "unreadable" in (letters[0].reason or "")
    assert deadletters.replay("notify.on_certificate_issued") == 1
    replayed = wait_for("the replayed message", lambda: _queue_messages("notify.on_certificate_issued"))
    assert replayed[0].body == garbage  # replayed byte for byte


def _queue_messages(queue: str) -> list[Any]:
    found = []
    with broker.connect() as connection, connection.channel() as channel:
        while (message := channel.basic_get(topology.named(queue))) is not None:
            channel.basic_ack(message.delivery_tag)
            found.append(message)
    return found


def test_an_event_nobody_subscribes_to_is_kept_aside_and_does_not_hold_up_the_outbox(dbs, broker_url):
    """On RabbitMQ an unrouted event goes to titles.unrouted (alternate exchange), not back to the relay."""
    if not broker_url.startswith("amqp"):
        pytest.skip("alternate exchanges are a RabbitMQ feature; the embedded transport drops unbound events")
    envelope = Envelope(type="certificate.issued.v1", source="certificate", data=issued())
    with broker.connect() as connection:
        publisher = relay.Publisher(connection)
        # A routing key no queue is bound to, on an events exchange: published, not returned.
        publisher.publish(envelope.id, envelope.type, "certificate.events", "certificate.nobody.v1", envelope.to_json())
        publisher.close()
        with connection.channel() as channel:
            kept = topology.unrouted_queue()(channel).get(no_ack=True)
    assert kept is not None and Envelope.from_json(kept.body).id == envelope.id


def test_a_command_no_queue_takes_is_returned_to_the_relay(dbs, broker_url):
    if not broker_url.startswith("amqp"):
        pytest.skip("mandatory returns are a RabbitMQ feature")
    envelope = Envelope(type="certificate.issue.v1", source="review", data={})
    with broker.connect() as connection:
        publisher = relay.Publisher(connection)
        with pytest.raises(relay.Unroutable):
            publisher.publish(
                envelope.id, envelope.type, "certificate.commands", "certificate.nobody.v1", envelope.to_json()
            )
        publisher.close()


def test_a_first_delivery_skips_the_inbox_look_and_a_copy_is_still_a_duplicate(dbs):
    """RabbitMQ flags a delivery it handed out before; a delivery it did not flag needs no look in the
    inbox: a copy of a message handled already (a relay that published it twice) collides on its inbox
    row before the handler runs."""
    from shared.messaging.consumer import process

    db = dbs["notify"]
    sub = next(s for s in topology.subscriptions_of("notify") if "certificate.issued.v1" in s.types)
    data = issued()
    env = Envelope(type="certificate.issued.v1", source="certificate", data=data, correlation_id=data["declaration_id"])
    ran: list[str] = []
    real = notify.handlers()["certificate.issued.v1"]

    def handler(uow: Any, envelope: Envelope, message: Any) -> None:
        ran.append(envelope.id)
        real(uow, envelope, message)

    looks: list[str] = []
    original = db.uow

    def uow_counting_looks(readonly: bool = False) -> Any:
        unit = original(readonly)
        look = unit.seen
        unit.seen = lambda *args: looks.append(args[0]) or look(*args)  # type: ignore[method-assign]
        return unit

    db.uow = uow_counting_looks  # type: ignore[method-assign]
    try:
        assert process(db, sub, env, handler, redelivered=False) == "done"
        assert looks == [] and ran == [env.id]
        assert process(db, sub, env, handler, redelivered=False) == "duplicate"  # the relay's second copy
        assert ran == [env.id] and looks == []
        assert process(db, sub, env, handler) == "duplicate"  # a redelivery looks first
        assert ran == [env.id] and looks == [env.id]
    finally:
        del db.uow
    with db.uow(readonly=True) as uow:
        count = uow.session.scalar(
            select(func.count()).select_from(Message).where(Message.declaration_id == data["declaration_id"])
        )
    assert count == 1


@pytest.mark.parametrize(
    ("delivery_info", "looks"),
    [({"redelivered": False}, False), ({"redelivered": True}, True), ({}, True), (None, True)],
)
def test_only_a_delivery_the_broker_calls_new_skips_the_look(delivery_info, looks):
    """RabbitMQ's flag (the embedded transport sets it too); a delivery without it looks."""
    from types import SimpleNamespace

    from shared.messaging.consumer import _maybe_redelivered

    assert _maybe_redelivered(SimpleNamespace(delivery_info=delivery_info)) is looks


def test_a_retried_message_lets_the_consumer_take_the_event_it_waits_for(dbs, broker_url):
    """A handler that fails until another of its service's queues delivers an event (a submission before its
    unit reached the review's directory) succeeds once that event is in: a retry leaves the consumer free to
    take it. (On the embedded transport a retry in place used to hold the consumer on the failing message
    until it was dead-lettered.)"""
    handlers = notify.handlers()
    real_issued, real_revoked = handlers["certificate.issued.v1"], handlers["certificate.revoked.v1"]
    revoked_seen: list[str] = []
    attempts: list[str] = []

    def issued_needs_revoked(uow, envelope, message):  # noqa: ANN001
        attempts.append(envelope.id)
        if not revoked_seen:
            raise LookupError("the event this one needs has not arrived")
        real_issued(uow, envelope, message)

    def revoked(uow, envelope, message):  # noqa: ANN001
        real_revoked(uow, envelope, message)
        revoked_seen.append(envelope.id)

    handlers["certificate.issued.v1"], handlers["certificate.revoked.v1"] = issued_needs_revoked, revoked
    first = issued()
    needed = {
        **{k: first[k] for k in ("certificate_id", "number", "holder", "holder_name", "qualification_name")},
        "declaration_id": str(uuid.uuid4()),
        "reason": "复核",
        "revoked_by": "title_office",
        "revoked_at": "2026-12-04T10:00:00+08:00",
    }
    with broker.connect() as connection:
        publisher = relay.Publisher(connection)
        for message_type, data in (("certificate.issued.v1", first), ("certificate.revoked.v1", needed)):
            envelope = Envelope(type=message_type, source="certificate", data=data)
            publisher.publish(envelope.id, message_type, "certificate.events", message_type, envelope.to_json())
        publisher.close()
    stop, thread = run_consumer(dbs["notify"], handlers)
    try:
        wait_for("the message that waited", lambda: messages_for(dbs, first["declaration_id"]) == 1, timeout=30)
        assert revoked_seen and len(attempts) >= 2
        assert _dead_letters("notify.on_certificate_issued") == []
    finally:
        stop.set()
        thread.join(10)


def test_a_routed_event_reaches_only_the_queues_that_take_its_value(dbs, broker_url):
    """notify's decision queue takes returns only; the declaration's takes every decision; an older
    producer's message, routed by its bare type, still reaches both."""
    from shared.contracts.review import DecisionRecorded

    def recorded(decision: str) -> DecisionRecorded:
        return DecisionRecorded(
            declaration_id=str(uuid.uuid4()),
            applicant="applicant",
            stage="unit_check",
            stage_name="单位审核",
            decision=decision,
            reason="材料不全" if decision == "return" else None,
            actor="unit",
            organisation=None,
            at="2026-11-27T08:00:00+00:00",
        )

    queues = ("notify.on_decision_recorded", "declaration.on_decision_recorded")
    with broker.connect() as connection:
        publisher = relay.Publisher(connection)  # declares the topology
        for queue in queues:
            _queue_messages(queue)  # whatever earlier tests left behind
        with dbs["review"].uow() as uow:
            returned, approved = uow.publish(recorded("return")), uow.publish(recorded("approve"))
            uow.commit()
        while relay.relay_once(dbs["review"], publisher):
            pass
        older = Envelope(type=DecisionRecorded.TYPE, source="review", data=recorded("approve").dump())
        publisher.publish(older.id, older.type, "review.events", older.type, older.to_json())
        publisher.close()
    got = {queue: [Envelope.from_json(m.body).id for m in _queue_messages(queue)] for queue in queues}
    assert got["notify.on_decision_recorded"] == [returned.id, older.id]
    assert got["declaration.on_decision_recorded"] == [returned.id, approved.id, older.id]
