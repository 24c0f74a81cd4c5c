"""A process keeps as many connections to a database as a web worker has threads (``DB_POOL_SIZE``, else
``WEB_THREADS``, shared/config.py): a burst of requests on every thread at once opens connections the first
time and none after, on SQLite and on PostgreSQL (where a connection is a server process of its own)."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import event, text

from shared.db import make_engine


def _burst(engine: Any, threads: int) -> None:
    """``threads`` threads each holding a connection at the same moment, then giving it back."""
    all_in = threading.Barrier(threads)

    def use() -> None:
        # a reader's transaction: on SQLite a writer's would queue for the file's one write lock
        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
            conn.execute(text("SELECT 1"))
            all_in.wait(timeout=30)

    workers = [threading.Thread(target=use) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)


def test_a_burst_on_every_thread_opens_no_connection_the_second_time(database_urls, monkeypatch):
    monkeypatch.setenv("WEB_THREADS", "8")
    monkeypatch.delenv("DB_POOL_SIZE", raising=False)
    engine = make_engine(database_urls["review"])
    opened: list[Any] = []
    event.listen(engine, "connect", lambda dbapi_connection, _record: opened.append(dbapi_connection))
    try:
        _burst(engine, 8)
        first = len(opened)
        _burst(engine, 8)
        assert first == 8 and len(opened) == first
        assert engine.pool.checkedin() == 8
    finally:
        engine.dispose()


def test_the_pool_size_is_set_apart_from_the_threads(database_urls, monkeypatch):
    monkeypatch.setenv("WEB_THREADS", "8")
    monkeypatch.setenv("DB_POOL_SIZE", "3")
    engine = make_engine(database_urls["review"])
    try:
        _burst(engine, 8)  # five more than kept: opened for the burst, closed when given back
        assert engine.pool.checkedin() == 3
    finally:
        engine.dispose()
