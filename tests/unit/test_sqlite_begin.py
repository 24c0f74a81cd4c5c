"""SQLite's write transactions: BEGIN IMMEDIATE waits for the write lock in short naps (shared/db.py)."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from shared import db


def busy_timeout(conn) -> int:  # noqa: ANN001
    return int(conn.exec_driver_sql("PRAGMA busy_timeout").scalar())


@pytest.fixture
def engine(tmp_path: Path):
    engine = db.make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (v TEXT)"))
    yield engine
    engine.dispose()


def test_a_writer_queued_behind_another_gets_the_lock_once_it_is_free(engine, tmp_path):
    holder = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO t VALUES ('first')")
    waiting, written = threading.Event(), threading.Event()

    def second_writer() -> None:
        waiting.set()
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('second')"))
            assert busy_timeout(conn) == db.SQLITE_BUSY_TIMEOUT_S * 1000  # back to the safety net
        written.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    assert waiting.wait(5)
    assert not written.wait(0.2)  # it waits while the lock is held
    holder.execute("COMMIT")
    thread.join(10)
    assert written.is_set()
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT v FROM t ORDER BY rowid"))] == ["first", "second"]
    holder.close()


def test_a_lock_held_past_the_timeout_fails_the_transaction_and_leaves_the_timeout_as_it_was(
    engine, tmp_path, monkeypatch
):
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.05)
    holder = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(OperationalError, match="locked"):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES ('never')"))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with engine.connect() as conn:  # the same pooled connection, its timeout restored
        assert busy_timeout(conn) == 50
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
    with engine.begin() as conn:  # the failed BEGIN let this process's next writer have its turn
        conn.execute(text("INSERT INTO t VALUES ('next')"))


def _lock_figures(database: str) -> tuple[float, float, float]:
    """(write transactions ended, seconds the write lock was held, seconds waited for it) so far."""
    from shared.observability import metrics

    return tuple(counter.labels(database)._value.get() for counter in metrics.SQLITE_LOCKS)  # type: ignore[return-value]


def test_a_write_transaction_counts_the_write_lock_it_held_and_a_reader_counts_nothing(engine):
    ended, held, waited = _lock_figures("w")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES ('kept')"))
        time.sleep(0.05)
    with pytest.raises(RuntimeError), engine.begin() as conn:  # a rollback releases it too
        conn.execute(text("INSERT INTO t VALUES ('undone')"))
        time.sleep(0.05)
        raise RuntimeError
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:  # a reader takes no write lock
        conn.execute(text("SELECT count(*) FROM t")).scalar()
        conn.commit()
    now = _lock_figures("w")
    assert now[0] == ended + 2
    assert 0.1 <= now[1] - held < 5
    assert 0 <= now[2] - waited < 0.05  # nobody else wanted it


def test_a_writer_queued_behind_another_counts_its_wait(engine, tmp_path):
    _, _, waited = _lock_figures("w")
    holder = sqlite3.connect(tmp_path / "w.db", isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    released = threading.Timer(0.2, lambda: holder.execute("COMMIT"))
    released.start()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES ('second')"))
    released.join()
    holder.close()
    assert 0.15 <= _lock_figures("w")[2] - waited < 5


def test_threads_of_one_process_queue_for_the_file_in_turn_without_polling_sqlite(engine, monkeypatch):
    tried: list[str] = []
    begin = db._begin_immediate

    def counted(conn, deadline):  # noqa: ANN001
        tried.append(threading.current_thread().name)
        begin(conn, deadline)

    monkeypatch.setattr(db, "_begin_immediate", counted)
    first_in, first_may_go, second_done = threading.Event(), threading.Event(), threading.Event()

    def first() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('first')"))
            first_in.set()
            assert first_may_go.wait(5)

    def second() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('second')"))
        second_done.set()

    one = threading.Thread(target=first, name="one")
    one.start()
    assert first_in.wait(5)
    two = threading.Thread(target=second, name="two")
    two.start()
    assert not second_done.wait(0.2)
    assert tried == ["one"]  # the second waits for its turn in this process, not on SQLite
    first_may_go.set()
    one.join(5)
    two.join(5)
    assert second_done.is_set() and tried == ["one", "two"]
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT v FROM t ORDER BY rowid"))] == ["first", "second"]


def test_a_thread_that_waits_past_the_timeout_for_its_turn_fails_and_the_turns_go_on(engine, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 0.05)
    holding, may_go, failed = threading.Event(), threading.Event(), []

    def holder() -> None:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES ('held')"))
            holding.set()
            assert may_go.wait(5)

    thread = threading.Thread(target=holder)
    thread.start()
    assert holding.wait(5)
    try:
        with pytest.raises(OperationalError, match="locked"):
            with engine.begin() as conn:
                conn.execute(text("INSERT INTO t VALUES ('never')"))
    except BaseException as exc:  # noqa: BLE001 - reported below, once the holder is let go
        failed.append(exc)
    may_go.set()
    thread.join(5)
    assert not failed
    with engine.begin() as conn:  # the holder's commit let the next turn go
        conn.execute(text("INSERT INTO t VALUES ('after')"))
    with engine.connect() as conn:
        assert [r[0] for r in conn.execute(text("SELECT v FROM t ORDER BY rowid"))] == ["held", "after"]


def test_a_write_transaction_whose_connection_is_invalidated_lets_the_next_writer_in(engine, monkeypatch):
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_S", 2.0)
    conn = engine.connect()
    conn.begin()
    conn.execute(text("INSERT INTO t VALUES ('lost')"))
    conn.invalidate()  # closed by the pool without a rollback
    conn.close()
    started = time.monotonic()
    with engine.begin() as other:
        other.execute(text("INSERT INTO t VALUES ('next')"))
    assert time.monotonic() - started < 1.5  # not the timeout: the gate was let go
    with engine.connect() as other:
        assert [r[0] for r in other.execute(text("SELECT v FROM t"))] == ["next"]
