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
