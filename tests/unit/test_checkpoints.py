"""SQLite's WAL checkpoints run on a thread of their own, every so many commits (shared/checkpoints.py)."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time

import pytest
from sqlalchemy import text

from shared import checkpoints
from shared.db import make_engine


def _in_main_file(path: str) -> int:
    """Rows of ``t`` in the database file itself, ignoring the WAL (what a checkpoint has copied)."""
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as connection:
        try:
            return int(connection.execute("SELECT count(*) FROM t").fetchone()[0])
        except sqlite3.OperationalError:  # the table itself is still only in the log
            return 0


def _wait_for(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def test_every_so_many_commits_a_thread_copies_the_log_into_the_file(tmp_path, monkeypatch):
    checkpointer = checkpoints.Checkpointer(every=3)
    monkeypatch.setattr(checkpoints, "CHECKPOINTER", checkpointer)
    path = str(tmp_path / "service.db")
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:  # commit 1
            connection.execute(text("CREATE TABLE t (n INTEGER)"))
        with engine.begin() as connection:  # commit 2
            connection.execute(text("INSERT INTO t VALUES (1)"))
            # SQLite's own checkpoint is only the backstop, far beyond a few commits
            assert connection.execute(text("PRAGMA wal_autocheckpoint")).scalar() == checkpoints.BACKSTOP_PAGES
        assert checkpointer.done == 0
        assert _in_main_file(path) == 0  # still in the log: nothing checkpointed yet

        with engine.begin() as connection:  # commit 3: a checkpoint is due
            connection.execute(text("INSERT INTO t VALUES (2)"))

        assert _wait_for(lambda: checkpointer.done == 1)
        assert _wait_for(lambda: _in_main_file(path) == 2)
        assert any(t.name == "sqlite-checkpoints" and t.daemon for t in threading.enumerate())
    finally:
        engine.dispose()


def test_a_commit_is_counted_once_it_is_in_the_log(tmp_path, monkeypatch):
    """The count wakes the checkpoint thread: counted before the driver's commit, a checkpoint could run ahead of
    the commit and leave its pages in the log (seen under load in CI)."""
    path = str(tmp_path / "service.db")
    engine = make_engine(f"sqlite:///{path}")
    seen: list[int] = []

    def committed(counted_path: str) -> None:  # what another connection sees at the moment of the count
        with contextlib.closing(sqlite3.connect(counted_path)) as other:
            seen.append(other.execute("SELECT count(*) FROM t").fetchone()[0])

    try:
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (n INTEGER)"))
        monkeypatch.setattr(checkpoints.CHECKPOINTER, "committed", committed)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
        assert seen == [1]
    finally:
        engine.dispose()


def test_commits_are_counted_per_file(tmp_path):
    checkpointer = checkpoints.Checkpointer(every=2)
    checkpointer.committed(str(tmp_path / "a.db"))
    checkpointer.committed(str(tmp_path / "b.db"))
    time.sleep(0.05)
    assert checkpointer.done == 0  # one commit each: none is due


@pytest.mark.parametrize("name", ["gone.db", "with space #and? signs.db"])
def test_a_checkpoint_never_creates_the_file(tmp_path, name):
    path = tmp_path / name
    assert checkpoints.checkpoint(str(path)) is None
    assert not path.exists()


def test_a_checkpoint_of_a_database_reports_the_pages_it_copied(tmp_path):
    path = tmp_path / "x.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA wal_autocheckpoint=0")
        connection.execute("CREATE TABLE t (n INTEGER)")
        connection.execute("INSERT INTO t VALUES (1)")
        connection.commit()
        busy, logged, copied = checkpoints.checkpoint(str(path))
        assert busy == 0 and logged > 0 and copied == logged


def _commit_in_child(path: str) -> int:
    checkpoints.CHECKPOINTER.every = 1
    checkpoints.CHECKPOINTER.committed(path)  # the parent holds the lock: without a fresh one this never returns
    deadline = time.monotonic() + 10
    while checkpoints.CHECKPOINTER.done == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    return checkpoints.CHECKPOINTER.done


def test_a_forked_child_counts_and_checkpoints_afresh(tmp_path):
    """A process forked while another thread held the checkpointer's lock (here: the test itself) must not
    inherit it held, nor count on the parent's thread."""
    import multiprocessing

    path = tmp_path / "child.db"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA journal_mode=WAL")
    with checkpoints.CHECKPOINTER._lock, multiprocessing.get_context("fork").Pool(1) as pool:
        done = pool.apply_async(_commit_in_child, (str(path),)).get(timeout=20)
    assert done == 1
