"""Tests for the broker-free kombu transport (shared.messaging.embedded)."""

from __future__ import annotations

import collections
import multiprocessing as mp
import os
import queue as stdqueue
import threading
import time
from pathlib import Path
from typing import Any

import kombu
import pytest

from shared.messaging import embedded
from shared.messaging.embedded import TRANSPORT, connection

SPAWN = mp.get_context("spawn")
EXCHANGE = kombu.Exchange("declarations", type="topic")
ROUTING_KEY = "declaration.submitted.v1"


def _queue(name: str = "work", binding: str = "declaration.#") -> kombu.Queue:
    return kombu.Queue(name, EXCHANGE, routing_key=binding)


def _inflight_files(root: Path) -> list[Path]:
    return sorted(p for p in (root / "inflight").rglob("*") if p.is_file())


def _queued_files(root: Path) -> list[str]:
    return sorted(p.name for p in (root / "queues").rglob("*.msg"))


def _publish(conn: kombu.Connection, body: Any, **kwargs: Any) -> None:
    # Declares only the exchange: bindings come from the control folder.
    conn.Producer(exchange=EXCHANGE).publish(body, routing_key=ROUTING_KEY, **kwargs)


def _get(conn: kombu.Connection, q: kombu.Queue, timeout: float = 5.0) -> kombu.Message:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = q(conn.default_channel).get()
        if message is not None:
            return message
        time.sleep(0.02)
    raise AssertionError("no message")


# --- child processes (module level so "spawn" can import them) --------------


def _consume_one(root: str, ready: Any, results: Any) -> None:
    # Uses the "module:Class" string to prove kombu resolves it.
    with kombu.Connection(transport=TRANSPORT, transport_options={"root": root}) as conn:
        q = _queue()
        q(conn.default_channel).declare()
        ready.set()

        def on_message(body: Any, message: kombu.Message) -> None:
            results.put(
                {
                    "body": body,
                    "headers": message.headers,
                    "content_type": message.content_type,
                    "properties": {k: message.properties.get(k) for k in ("message_id", "correlation_id", "type")},
                    "routing_key": message.delivery_info["routing_key"],
                }
            )
            message.ack()

        with conn.Consumer(q, callbacks=[on_message]):
            conn.drain_events(timeout=10)


def _produce(root: str, producer_id: int, count: int) -> None:
    with connection(root) as conn:
        for seq in range(count):
            _publish(conn, {"producer": producer_id, "seq": seq})


def _consume_until_stopped(root: str, stop: Any, results: Any) -> None:
    with connection(root) as conn:

        def on_message(body: Any, message: kombu.Message) -> None:
            results.put((body["producer"], body["seq"]))
            message.ack()

        with conn.Consumer(_queue(), callbacks=[on_message]):
            while not stop.is_set():
                try:
                    conn.drain_events(timeout=0.1)
                except TimeoutError:
                    pass


def _receive_and_hang(root: str, got: Any) -> None:
    with connection(root) as conn:
        message = _get(conn, _queue())
        got.put(message.payload)
        time.sleep(60)  # killed here, before ack


# --- tests ------------------------------------------------------------------


def test_topic_message_crosses_processes_intact(tmp_path: Path) -> None:
    ready, results = SPAWN.Event(), SPAWN.Queue()
    consumer = SPAWN.Process(target=_consume_one, args=(str(tmp_path), ready, results))
    consumer.start()
    try:
        assert ready.wait(10)
        with connection(tmp_path) as conn:  # this process never declares the binding
            _publish(
                conn,
                {"declaration_id": 42, "name": "张三"},
                message_id="msg-1",
                correlation_id="corr-1",
                type="declaration.submitted",
                headers={"trace_id": "t-1", "attempt": 2},
            )
        got = results.get(timeout=10)
    finally:
        consumer.join(10)
    assert got["body"] == {"declaration_id": 42, "name": "张三"}
    assert got["headers"] == {"trace_id": "t-1", "attempt": 2}
    assert got["content_type"] == "application/json"
    assert got["properties"] == {"message_id": "msg-1", "correlation_id": "corr-1", "type": "declaration.submitted"}
    assert got["routing_key"] == ROUTING_KEY
    assert _inflight_files(tmp_path) == [] and _queued_files(tmp_path) == []


def test_many_producers_and_consumers_exactly_once(tmp_path: Path) -> None:
    producers, per_producer = 2, 200
    root = str(tmp_path)
    with connection(root) as conn:
        _queue()(conn.default_channel).declare()
    stop, results = SPAWN.Event(), SPAWN.Queue()
    consumers = [SPAWN.Process(target=_consume_until_stopped, args=(root, stop, results)) for _ in range(2)]
    makers = [SPAWN.Process(target=_produce, args=(root, i, per_producer)) for i in range(producers)]
    for p in consumers + makers:
        p.start()
    received: list[tuple[int, int]] = []
    try:
        deadline = time.monotonic() + 15
        while len(received) < producers * per_producer and time.monotonic() < deadline:
            try:
                received.append(results.get(timeout=0.5))
            except stdqueue.Empty:
                pass
        time.sleep(0.3)  # give a duplicate the chance to show up
    finally:
        stop.set()
        for p in makers + consumers:
            p.join(10)
    while True:
        try:
            received.append(results.get(timeout=0.2))
        except stdqueue.Empty:
            break
    counts = collections.Counter(received)
    assert set(counts) == {(p, s) for p in range(producers) for s in range(per_producer)}
    assert [k for k, n in counts.items() if n > 1] == []
    assert os.listdir(tmp_path / "corrupt") == []  # no partial JSON was ever read
    assert _inflight_files(tmp_path) == [] and _queued_files(tmp_path) == []


def test_message_of_killed_consumer_is_redelivered(tmp_path: Path) -> None:
    with connection(tmp_path) as conn:
        _queue()(conn.default_channel).declare()
        _publish(conn, {"n": 1})
    got = SPAWN.Queue()
    victim = SPAWN.Process(target=_receive_and_hang, args=(str(tmp_path), got))
    victim.start()
    assert got.get(timeout=10) == {"n": 1}
    victim.kill()  # SIGKILL: no finalizers, nothing restored
    victim.join(5)
    assert len(_inflight_files(tmp_path)) == 1 and _queued_files(tmp_path) == []

    with connection(tmp_path) as conn:  # a new consumer recovers on start
        message = _get(conn, _queue())
        assert message.payload == {"n": 1}
        message.ack()
    assert _inflight_files(tmp_path) == []


def test_inflight_of_reused_pid_is_recovered(tmp_path: Path) -> None:
    # Same pid as a live process (ours) but another start time: a dead owner.
    stale = tmp_path / "inflight" / f"{os.getpid()}-{embedded._BOOT_ID}-1"
    stale.mkdir(parents=True)
    (stale / "00000000000000000001_000000000_x.work.msg").write_text(
        '{"body": "e30=", "content-type": "application/json", "content-encoding": "utf-8",'
        ' "headers": {}, "properties": {"body_encoding": "base64", "delivery_info":'
        ' {"exchange": "declarations", "routing_key": "declaration.submitted.v1"}, "delivery_tag": "t"}}'
    )
    live = tmp_path / "inflight" / embedded.owner_token()
    live.mkdir()
    (live / "00000000000000000002_000000000_y.work.msg").write_text("{}")
    with connection(tmp_path) as conn:
        message = _get(conn, _queue())
        assert message.payload == {}
        message.ack()
        assert not stale.exists()
        assert os.listdir(live) == ["00000000000000000002_000000000_y.work.msg"]  # live owner untouched


def test_reject_and_ack(tmp_path: Path) -> None:
    with connection(tmp_path) as conn:
        q = _queue()
        q(conn.default_channel).declare()
        _publish(conn, {"n": 1})

        first = _get(conn, q)
        assert len(_inflight_files(tmp_path)) == 1 and _queued_files(tmp_path) == []
        first.reject(requeue=True)
        assert _inflight_files(tmp_path) == [] and len(_queued_files(tmp_path)) == 1

        again = _get(conn, q)
        assert again.payload == {"n": 1}
        again.reject(requeue=False)
        assert _inflight_files(tmp_path) == [] and _queued_files(tmp_path) == []
        assert q(conn.default_channel).get() is None

        _publish(conn, {"n": 2})
        acked = _get(conn, q)
        acked.ack()
        assert _inflight_files(tmp_path) == [] and _queued_files(tmp_path) == []


def test_a_delivery_says_whether_the_message_was_delivered_before(tmp_path: Path) -> None:
    """As RabbitMQ's flag: False the first time; True once the message went back to its queue (a reject
    with requeue, a dead consumer's recovery), keeping its place before later messages."""
    with connection(tmp_path) as conn:
        q = _queue()
        q(conn.default_channel).declare()
        _publish(conn, {"n": 1})
        first = _get(conn, q)
        assert first.delivery_info["redelivered"] is False
        _publish(conn, {"n": 2})
        first.reject(requeue=True)
        again = _get(conn, q)
        assert (again.payload, again.delivery_info["redelivered"]) == ({"n": 1}, True)
        again.reject(requeue=True)  # marked once, however often it goes back
        assert [name.partition(".")[0].count("_r") for name in _queued_files(tmp_path)] == [1, 0]
        third = _get(conn, q)
        assert (third.payload, third.delivery_info["redelivered"]) == ({"n": 1}, True)
        third.ack()
        later = _get(conn, q)
        assert (later.payload, later.delivery_info["redelivered"]) == ({"n": 2}, False)
        later.ack()

    _publish_in_new_connection(tmp_path, {"n": 3})
    got = SPAWN.Queue()
    victim = SPAWN.Process(target=_receive_and_hang, args=(str(tmp_path), got))
    victim.start()
    assert got.get(timeout=10) == {"n": 3}
    victim.kill()
    victim.join(5)
    with connection(tmp_path) as conn:  # recovered on start
        recovered = _get(conn, _queue())
        assert (recovered.payload, recovered.delivery_info["redelivered"]) == ({"n": 3}, True)
        recovered.ack()


def _publish_in_new_connection(root: Path, body: Any) -> None:
    with connection(root) as conn:
        _publish(conn, body)


def test_a_message_for_several_queues_is_written_once_and_each_queue_takes_its_own_copy(tmp_path: Path) -> None:
    queues = [_queue(name) for name in ("first", "second", "third")]
    with connection(tmp_path) as conn:
        for q in queues:
            q(conn.default_channel).declare()
        _publish(conn, {"n": 1})
        _publish(conn, {"n": 2})
        names = _queued_files(tmp_path)
        assert len(names) == 6
        inodes = {os.stat(tmp_path / "queues" / embedded.queue_of(name) / name).st_ino for name in names}
        assert len(inodes) == 2  # one file a message, linked into each queue
        first = _get(conn, queues[0])
        first.reject(requeue=True)  # back to its queue: the others' copies are untouched
        for q in queues:
            for n in (1, 2):
                message = _get(conn, q)
                assert message.payload == {"n": n}
                message.ack()
    assert _queued_files(tmp_path) == [] and _inflight_files(tmp_path) == []
    assert os.listdir(tmp_path / "tmp") == []


def _listings(monkeypatch: Any, root: Path) -> list[str]:
    """The names of the queue folders the transport lists from now on, in order, one entry a look."""
    listed: list[str] = []
    real_listdir = os.listdir

    def listdir(path: Any) -> list[str]:
        if str(path).startswith(str(root / "queues")):
            listed.append(Path(path).name)
        return real_listdir(path)

    monkeypatch.setattr(embedded.os, "listdir", listdir)
    return listed


def _spares(root: Path) -> list[Path]:
    return sorted((root / "spare").iterdir())


def test_the_file_an_ack_leaves_is_written_again_by_the_next_put(tmp_path: Path) -> None:
    """A put takes a spare file rather than creating one (a new inode is the costly part of a put); what it
    writes replaces the old message whole, however much shorter."""
    q = _queue()
    with connection(tmp_path) as conn:
        q(conn.default_channel).declare()
        _publish(conn, {"n": 1, "padding": "长" * 2000})
        first = _get(conn, q)
        acked_inode = os.stat(_inflight_files(tmp_path)[0]).st_ino
        first.ack()
        assert [os.stat(p).st_ino for p in _spares(tmp_path)] == [acked_inode]

        _publish(conn, {"n": 2})
        (queued,) = _queued_files(tmp_path)
        assert os.stat(tmp_path / "queues" / "work" / queued).st_ino == acked_inode
        assert _spares(tmp_path) == [] and os.listdir(tmp_path / "tmp") == []
        second = _get(conn, q)
        assert second.payload == {"n": 2}
        second.ack()
        _publish(conn, {"n": 3})  # and again: one file serves every message in turn
        third = _get(conn, q)
        assert third.payload == {"n": 3}
        assert os.stat(_inflight_files(tmp_path)[0]).st_ino == acked_inode


def test_a_file_another_queue_still_holds_is_never_taken_for_a_put(tmp_path: Path) -> None:
    queues = [_queue(name) for name in ("first", "second")]
    with connection(tmp_path) as conn:
        for q in queues:
            q(conn.default_channel).declare()
        _publish(conn, {"n": 1})
        (held,) = (tmp_path / "queues" / "second").iterdir()
        _get(conn, queues[0]).ack()
        assert _spares(tmp_path) == []  # "second" still links the file
        _publish(conn, {"n": 2})  # written afresh, not into the file "second" holds
        (written,) = (tmp_path / "queues" / "first").iterdir()
        assert os.stat(written).st_ino != os.stat(held).st_ino
        assert _get(conn, queues[1]).payload == {"n": 1}
        assert _get(conn, queues[0]).payload == {"n": 2}


def test_at_most_spare_slots_files_are_kept(tmp_path: Path) -> None:
    q = _queue()
    with connection(tmp_path) as conn:
        q(conn.default_channel).declare()
        for n in range(embedded.SPARE_SLOTS + 10):
            _publish(conn, {"n": n})  # all waiting at once: no spare to take yet
        for _ in range(embedded.SPARE_SLOTS + 10):
            _get(conn, q).ack()
    assert len(_spares(tmp_path)) == embedded.SPARE_SLOTS
    assert _queued_files(tmp_path) == [] and _inflight_files(tmp_path) == []


def test_a_spare_folder_removed_while_running_costs_no_message(tmp_path: Path) -> None:
    q = _queue()
    with connection(tmp_path) as conn:
        q(conn.default_channel).declare()
        _publish(conn, {"n": 1})
        taken = _get(conn, q)
        (tmp_path / "spare").rmdir()
        taken.ack()  # nowhere to keep it: removed
        assert _inflight_files(tmp_path) == []
        _publish(conn, {"n": 2})
        assert _get(conn, q).payload == {"n": 2}


def test_a_consumer_looks_only_at_the_folders_of_its_own_queues(tmp_path: Path, monkeypatch: Any) -> None:
    """Each queue has its folder: another consumer's backlog costs this one nothing to look past."""
    mine, theirs = _queue("mine", "declaration.#"), _queue("theirs", "declaration.#")
    with connection(tmp_path) as conn:
        for q in (mine, theirs):
            q(conn.default_channel).declare()
        for n in range(5):
            _publish(conn, {"n": n})
        assert sorted(os.listdir(tmp_path / "queues")) == ["mine", "theirs"]
        assert len(os.listdir(tmp_path / "queues" / "theirs")) == 5
        listed = _listings(monkeypatch, tmp_path)
        taken = []
        with conn.Consumer(mine, callbacks=[lambda body, message: (taken.append(body["n"]), message.ack())]):
            while len(taken) < 5:
                conn.drain_events(timeout=5)
        assert taken == [0, 1, 2, 3, 4]
        assert "mine" in listed and "theirs" not in listed
        assert (mine(conn.default_channel).purge(), theirs(conn.default_channel).purge()) == (0, 5)
    assert _queued_files(tmp_path) == []


def test_between_polls_a_consumer_looks_again_only_at_the_folders_whose_doorbell_rang(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """Every put rings its queue's doorbell, so a consumer of many queues need not list every folder for each
    delivery: after its first look, only those that rang."""
    queues = [_queue(f"q{n}", f"declaration.q{n}") for n in range(14)]
    taken: list[Any] = []
    with connection(tmp_path, polling_interval=3600) as conn:
        for q in queues:
            q(conn.default_channel).declare()
        producer = conn.Producer(exchange=EXCHANGE)
        listed = _listings(monkeypatch, tmp_path)
        with conn.Consumer(queues, callbacks=[lambda body, message: (taken.append(body), message.ack())]):
            listed.clear()  # (declaring the queues counted their messages)
            with pytest.raises(TimeoutError):
                conn.drain_events(timeout=0.2)  # the first look, at every folder: nothing
            assert sorted(listed) == sorted(q.name for q in queues)
            for n in (7, 12, 7):
                listed.clear()
                producer.publish({"n": n}, routing_key=f"declaration.q{n}")
                conn.drain_events(timeout=5)
                assert taken[-1] == {"n": n}
                assert listed == [f"q{n}"]


def test_a_message_whose_ring_was_lost_is_taken_at_the_next_poll(tmp_path: Path) -> None:
    q, other = _queue("silent", "declaration.silent"), _queue("loud", "declaration.loud")
    taken: list[Any] = []
    with connection(tmp_path, polling_interval=0.2) as conn:
        for queue in (q, other):
            queue(conn.default_channel).declare()
        producer = conn.Producer(exchange=EXCHANGE)
        with conn.Consumer([q, other], callbacks=[lambda body, message: (taken.append(body), message.ack())]):
            producer.publish({"n": 1}, routing_key="declaration.loud")
            conn.drain_events(timeout=5)
            bell = os.open(tmp_path / "bells" / "silent", os.O_RDONLY | os.O_NONBLOCK)
            try:
                producer.publish({"n": 2}, routing_key="declaration.silent")
                assert os.read(bell, 16) == b"\0"  # its ring read by someone else: this consumer never hears it
            finally:
                os.close(bell)
            began = time.monotonic()
            conn.drain_events(timeout=5)
            assert taken == [{"n": 1}, {"n": 2}] and time.monotonic() - began < 4


def test_messages_an_older_version_left_in_the_shared_folder_are_moved_to_their_queues_and_delivered(
    tmp_path: Path,
) -> None:
    q = _queue()
    with connection(tmp_path) as conn:
        q(conn.default_channel).declare()
        _publish(conn, {"n": 1})
        _publish(conn, {"n": 2})
    for name in _queued_files(tmp_path):  # as the version that kept every queue's files in queues/ left them
        os.rename(tmp_path / "queues" / "work" / name, tmp_path / "queues" / name)
    with connection(tmp_path) as conn:
        for n in (1, 2):
            message = _get(conn, q)
            assert message.payload == {"n": n}
            message.ack()
    assert _queued_files(tmp_path) == [] and [p.name for p in (tmp_path / "queues").iterdir()] == ["work"]


def test_a_queue_folder_removed_while_running_is_made_again_for_the_next_put_or_requeue(tmp_path: Path) -> None:
    q = _queue()
    with connection(tmp_path) as conn:
        q(conn.default_channel).declare()
        _publish(conn, {"n": 1})
        taken = _get(conn, q)
        (tmp_path / "queues" / "work").rmdir()  # empty now: its one message is in flight
        taken.reject(requeue=True)
        again = _get(conn, q)
        assert again.payload == {"n": 1} and again.delivery_info["redelivered"]
        again.ack()
        (tmp_path / "queues" / "work").rmdir()
        _publish(conn, {"n": 2})
        assert _get(conn, q).payload == {"n": 2}


def test_graceful_close_returns_unacked_message(tmp_path: Path) -> None:
    with connection(tmp_path) as conn:
        q = _queue()
        q(conn.default_channel).declare()
        _publish(conn, {"n": 1})
        received: list[kombu.Message] = []
        with conn.Consumer(q, callbacks=[lambda body, message: received.append(message)]):
            conn.drain_events(timeout=5)
        assert len(received) == 1 and len(_inflight_files(tmp_path)) == 1
    # Connection closed without ack: the file is back in the queue.
    assert _inflight_files(tmp_path) == [] and len(_queued_files(tmp_path)) == 1
    with connection(tmp_path) as conn:
        message = _get(conn, _queue())
        assert message.payload == {"n": 1}
        message.ack()


def test_single_producer_order_is_kept(tmp_path: Path) -> None:
    with connection(tmp_path) as conn:
        q = _queue()
        q(conn.default_channel).declare()
        for seq in range(100):
            _publish(conn, {"seq": seq})
        seen: list[int] = []

        def on_message(body: Any, message: kombu.Message) -> None:
            seen.append(body["seq"])
            message.ack()

        with conn.Consumer(q, callbacks=[on_message]):
            while len(seen) < 100:
                conn.drain_events(timeout=5)
    assert seen == list(range(100))


def test_two_roots_in_one_process_keep_separate_bindings(tmp_path: Path) -> None:
    # Upstream shares one BrokerState per process: the second bind was skipped.
    for root in (tmp_path / "a", tmp_path / "b"):
        with connection(root) as conn:
            _queue()(conn.default_channel).declare()
            _publish(conn, {"root": root.name})
            assert _get(conn, _queue()).payload == {"root": root.name}


def test_requires_root() -> None:
    with pytest.raises(ValueError):
        kombu.Connection(transport=TRANSPORT).connect()


def test_a_put_wakes_a_waiting_consumer_long_before_its_poll(tmp_path: Path) -> None:
    """The queue's doorbell wakes the consumer; its poll (an hour here) is only the safety net."""
    received: stdqueue.Queue[Any] = stdqueue.Queue()
    with connection(tmp_path, polling_interval=3600) as consumer_conn, connection(tmp_path) as producer_conn:
        q = _queue()
        channel = consumer_conn.channel()
        q(channel).declare()
        consumer = kombu.Consumer(channel, queues=[q], on_message=lambda m: (received.put(m.payload), m.ack()))
        consumer.consume()
        for n in range(3):
            # The consumer is waiting on the doorbell when the producer (another connection) puts.
            producer = threading.Timer(0.05, _publish, args=(producer_conn, {"n": n}))
            producer.start()
            began = time.monotonic()
            consumer_conn.drain_events(timeout=600)
            producer.join()
            assert received.get_nowait() == {"n": n}
            assert time.monotonic() - began < 300  # woken: neither the poll nor the timeout ended the wait
        consumer.cancel()
