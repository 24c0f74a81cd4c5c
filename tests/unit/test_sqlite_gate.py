"""The writers' gate of the embedded default's SQLite files (shared/sqlite_gate.py)."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from shared import sqlite_gate
from shared.db import make_engine


def _engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'gate.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE IF NOT EXISTS t (n INTEGER)"))
    return engine


def test_a_writer_waits_at_the_gate_and_goes_in_as_the_last_one_leaves(tmp_path):
    first, second = _engine(tmp_path), _engine(tmp_path)  # two engines: as two processes would
    entered, release = threading.Event(), threading.Event()
    timings: dict[str, float] = {}

    def hold() -> None:
        with first.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (1)"))
            entered.set()
            release.wait(10)
            timings["released"] = time.monotonic()

    holder = threading.Thread(target=hold)
    holder.start()
    assert entered.wait(10)
    waits: list[bool] = []
    real_sleep = sqlite_gate.time.sleep

    def sleep(seconds: float) -> None:
        waits.append(True)
        if len(waits) == 5:
            release.set()  # let the first writer commit while the second waits at the gate
        real_sleep(seconds)

    sqlite_gate.time.sleep = sleep  # type: ignore[assignment]
    try:
        with second.begin() as conn:
            timings["entered"] = time.monotonic()
            conn.execute(text("INSERT INTO t VALUES (2)"))
    finally:
        sqlite_gate.time.sleep = real_sleep  # type: ignore[assignment]
    holder.join(10)
    assert len(waits) >= 5  # it waited at the gate (not in SQLite's busy handler)
    assert timings["entered"] - timings["released"] < 0.05  # and went in about when the gate opened
    with first.connect() as conn:
        assert sorted(conn.execute(text("SELECT n FROM t")).scalars()) == [1, 2]


def test_readers_never_wait_at_the_gate_and_a_rollback_opens_it(tmp_path):
    writer, reader = _engine(tmp_path), _engine(tmp_path)
    with writer.connect() as conn:
        trans = conn.begin()
        conn.execute(text("INSERT INTO t VALUES (1)"))
        started = time.monotonic()
        with reader.connect().execution_options(sqlite_begin="DEFERRED") as read:
            assert read.execute(text("SELECT count(*) FROM t")).scalar() == 0  # WAL: beside the writer
        assert time.monotonic() - started < 1
        trans.rollback()
    with reader.begin() as conn:  # the gate is open again: a writer goes straight in
        conn.execute(text("INSERT INTO t VALUES (3)"))


def test_a_thread_already_inside_passes_its_second_connection_through(tmp_path, monkeypatch):
    engine = _engine(tmp_path)
    monkeypatch.setattr(sqlite_gate, "TIMEOUT", 0.2)
    with engine.connect() as outer:
        outer.begin()
        outer.execute(text("INSERT INTO t VALUES (1)"))
        assert str(tmp_path / "gate.db-writers.lock") in sqlite_gate._held_here()
        other = engine.raw_connection().dbapi_connection
        started = time.monotonic()
        other.enter_gate()  # the same thread: no waiting on itself
        assert time.monotonic() - started < 0.1 and not other._in_gate
        other.close()
    assert sqlite_gate._held_here() == set()  # the outer connection left at its rollback
