"""CPU time of the embedded transport (shared/messaging/embedded.py) and of SQLite's writers, alone.

    .venv/bin/python bench/embedded_transport.py [--parts publish,consume,writers] [--repeat N]
    git -C /work/main archive <commit> | tar -x -C /tmp/before          # the code before a change
    PYTHONPATH=/tmp/before .venv/bin/python bench/embedded_transport.py

1. publish: microseconds of CPU to publish one message (about 1 KB) that a topic exchange routes to
   1, 2 or 3 queues (the review's events go to up to three services);
2. consume: microseconds of CPU to take and acknowledge one delivery for a consumer of 14 queues (the
   declaration service's count) while 60 or 300 messages wait in three of them, and while 60 wait there
   and 300 in another consumer's queue (as under load, when every service's consumer has a backlog);
   and as messages come in the running system, one at a time: each put to one of three of the 14 queues
   while the consumer waits, then taken and acknowledged (the put's CPU counted too);
3. SQLite writers: short write transactions a second (each holds the write lock about 1 ms) from four
   threads in each of three processes on one file, through ``shared.db``'s engine;
4. cycle: microseconds of CPU for a message's whole way in steady state, as the system runs it (a put
   routed to 1 or 3 queues, each copy taken and acked before the next put), so that a put finds the
   file an ack left (``spare/``) where part 1 creates every file. Beside it, the machine's own cost of
   creating a file and of writing one that exists, in the same folder (the disk decides which is cheaper).

Process CPU time (``time.process_time``) for 1, 2 and 4, so another process's load weighs less than on
the wall clock. Nothing in the tests depends on these figures.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

BODY = '"' + "x" * 900 + '"'


@contextlib.contextmanager
def _broker(bindings: list[str]) -> Iterator[tuple[Any, list[Any], Callable[[str], None]]]:
    """A scratch embedded broker: a topic exchange, a queue per binding (q0, q1, ...) and a put of ``BODY``
    with a routing key, as the relays publish."""
    import kombu

    from shared.messaging.embedded import connection

    exchange = kombu.Exchange("bench", type="topic")
    with tempfile.TemporaryDirectory() as root, connection(root) as conn:
        bound = [kombu.Queue(f"q{n}", exchange, routing_key=key) for n, key in enumerate(bindings)]
        for queue in bound:
            queue(conn.default_channel).declare()
        producer = conn.Producer(exchange=exchange)

        def put(routing_key: str) -> None:
            producer.publish(BODY, routing_key=routing_key, delivery_mode=2, content_type="application/json")

        yield conn, bound, put


def _acked(taken: list[Any]) -> Callable[[Any], None]:
    """A consumer's callback that acks each message and notes it in ``taken``."""

    def take(message: Any) -> None:
        taken.append(message)
        message.ack()

    return take


def publish(queues: int, messages: int = 500) -> float:
    with _broker(["event.#"] * queues) as (_conn, _bound, put):
        started = time.process_time()
        for _ in range(messages):
            put("event.x")
        return (time.process_time() - started) / messages * 1e6


def consume(waiting: int, others: int = 0, queues: int = 14) -> float:
    # The last queue is another consumer's: its messages are never taken here.
    with _broker([f"event.{n}" for n in range(queues)] + ["other"]) as (conn, bound, put):
        for _ in range(others):
            put("other")
        for n in range(waiting):
            put(f"event.{n % 3}")
        taken: list[Any] = []
        started = time.process_time()
        with conn.Consumer(bound[:queues], on_message=_acked(taken), prefetch_count=1):
            while len(taken) < waiting:
                conn.drain_events(timeout=2)
        return (time.process_time() - started) / waiting * 1e6


def one_at_a_time(messages: int = 300, queues: int = 14) -> float:
    with _broker([f"event.{n}" for n in range(queues)]) as (conn, bound, put):
        taken: list[Any] = []
        with conn.Consumer(bound, on_message=_acked(taken), prefetch_count=1):
            with contextlib.suppress(TimeoutError):
                conn.drain_events(timeout=0.05)  # the consumer's first look, at every folder, not timed
            started = time.process_time()
            for n in range(messages):
                put(f"event.{n % 3}")
                conn.drain_events(timeout=2)
            assert len(taken) == messages
            return (time.process_time() - started) / messages * 1e6


def cycle(queues: int, messages: int = 500) -> float:
    with _broker(["event.#"] * queues) as (conn, bound, put):

        def one() -> None:
            put("event.x")
            for queue in bound:
                message = queue(conn.default_channel).get()
                assert message is not None
                message.ack()

        for _ in range(10):  # the first puts create the files the later ones reuse
            one()
        started = time.process_time()
        for _ in range(messages):
            one()
        return (time.process_time() - started) / messages * 1e6


def file_costs(files: int = 300) -> tuple[float, float]:
    """Microseconds of CPU to create, write and sync a file; and to write and sync one that exists."""
    with tempfile.TemporaryDirectory() as root:
        data = BODY.encode()
        started = time.process_time()
        for n in range(files):
            fd = os.open(f"{root}/{n}", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.fdatasync(fd)
            os.close(fd)
        created = (time.process_time() - started) / files * 1e6
        started = time.process_time()
        for n in range(files):
            fd = os.open(f"{root}/{n}", os.O_WRONLY)
            os.write(fd, data)
            os.ftruncate(fd, len(data))
            os.fdatasync(fd)
            os.close(fd)
        return created, (time.process_time() - started) / files * 1e6


def _writer(url: str, per_thread: int, out) -> None:  # noqa: ANN001
    from sqlalchemy import text

    from shared.db import make_engine

    engine = make_engine(url)

    def run() -> None:
        for _ in range(per_thread):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t (v) VALUES ('x')"))
                time.sleep(0.001)  # work done while the transaction holds the write lock

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    out.put(per_thread * len(threads))


def sqlite_writers(processes: int = 3, per_thread: int = 100) -> float:
    from sqlalchemy import text

    from shared.db import make_engine

    with tempfile.TemporaryDirectory() as root:
        url = f"sqlite:///{Path(root) / 'writers.db'}"
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))
        engine.dispose()
        spawn = mp.get_context("spawn")
        out = spawn.Queue()
        workers = [spawn.Process(target=_writer, args=(url, per_thread, out)) for _ in range(processes)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        return sum(out.get() for _ in workers) / elapsed


def main() -> int:
    import argparse

    import shared

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--parts", default="publish,consume,writers,cycle", help="of publish, consume, writers, cycle")
    parser.add_argument("--repeat", type=int, default=1, help="measure each figure this many times (all printed)")
    args = parser.parse_args()
    parts = args.parts.split(",")

    def times(measure, *given: int) -> str:  # noqa: ANN001
        return " / ".join(f"{measure(*given):4.0f}" for _ in range(args.repeat))

    print(f"code: {Path(shared.__file__).resolve().parents[1]}")
    if "publish" in parts:
        for queues in (1, 2, 3):
            print(f"publish, routed to {queues} queue(s):        {times(publish, queues)} us CPU a message")
    if "consume" in parts:
        for waiting, others in ((60, 0), (300, 0), (60, 300)):
            print(
                f"consume + ack, 14 queues, {waiting:3} waiting, {others:3} for other consumers: "
                f"{times(consume, waiting, others)} us CPU a delivery"
            )
        print(f"put, then consume + ack, 14 queues, one at a time: {times(one_at_a_time)} us CPU a delivery")
    if "writers" in parts:
        print(f"SQLite writers, 3 processes x 4 threads: {times(sqlite_writers)} transactions a second")
    if "cycle" in parts:
        for queues in (1, 3):
            print(f"put, take and ack, routed to {queues} queue(s): {times(cycle, queues)} us CPU a message")
        created, rewritten = file_costs()
        print(f"this disk: a file created, written and synced {created:4.0f} us CPU; one rewritten {rewritten:4.0f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
