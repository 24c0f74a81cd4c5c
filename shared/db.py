"""Database plumbing shared by every service: engines, typed columns, sessions.

Each service owns its own database (a SQLite file on the embedded default,
a PostgreSQL database in production) and its own declarative ``Base``.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import threading
import time
from typing import Any

from sqlalchemy import JSON, DateTime, create_engine, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.types import TypeDecorator

from shared import checkpoints, clock, config

# JSONB on PostgreSQL (indexable, compact); plain JSON text elsewhere.
JsonColumn = JSON().with_variant(JSONB(), "postgresql")


def upsert_insert(dialect: str) -> Any:
    """The dialect's INSERT, the one with ON CONFLICT (both the project's databases speak it): PostgreSQL's
    for ``postgresql``, SQLite's for anything else."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def utcnow() -> dt.datetime:
    """Now on the system's one clock (shared/clock.py): row timestamps follow the test clock too."""
    return clock.now()


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _pool_sizes() -> dict[str, Any]:
    """The connections an engine keeps between uses and those it may open beyond them for a moment: as many kept
    as a web worker has threads (config.py, DB_POOL_SIZE). With five kept and eight threads, the review's server
    opened and closed a PostgreSQL connection (a server process) about twice a lifecycle under load.

    The connection used last is handed out first (LIFO): a few connections serve what a few threads at a time
    ask, and keep what they have warm (PostgreSQL's prepared statements, which psycopg makes of a statement at
    its fifth run on a connection; the server process's caches), where handing them out in turn spread every
    statement over all of them. The others rest, and are checked before use once they rested long enough."""
    return {"pool_size": config.settings().db_pool_size, "max_overflow": 10, "pool_use_lifo": True}


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        return _sqlite_engine(url)
    engine = create_engine(url, **_pool_sizes())
    _ping_when_idle(engine)
    if engine.dialect.name == "postgresql":
        _compress_with_lz4(engine)
    if _reads_outside_a_transaction(engine):
        _transaction_for_a_write_when_reading(engine)
    return engine


TOAST_COMPRESSION = "lz4"


def _compress_with_lz4(engine: Engine) -> None:
    """PostgreSQL compresses a large value (a review's state, 10-60 KiB, written at every step) with pglz unless
    told otherwise; lz4 did it in 130-140 µs where pglz took 215-265 µs (an UPDATE of a 10-16 KiB state, in a
    transaction). Reading decompresses either. A server built without lz4 refuses the setting: it keeps pglz."""

    @event.listens_for(engine, "connect")
    def _lz4(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"SET default_toast_compression = '{TOAST_COMPRESSION}'")
            dbapi_connection.commit()  # a session setting, kept past this transaction
        except Exception:  # noqa: BLE001 - not supported by this server: its default (pglz)
            dbapi_connection.rollback()
        finally:
            cursor.close()


# A read-only unit of work on PostgreSQL (through psycopg, the project's driver) runs its statements
# outside a transaction: READ COMMITTED gives each statement a snapshot of its own either way, and BEGIN
# and ROLLBACK would be two more round trips to the server for every read-only request. Its promise
# stays: it commits nothing. A write (a defect in a view marked read-only, say), a row lock or SQL text
# it cannot judge first opens the transaction that closing it rolls back.
READ_ONLY = "titles_read_only"


def _reads_outside_a_transaction(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


def read_options(engine: Engine) -> dict[str, Any]:
    """The execution options of a read-only unit of work's connection."""
    if _reads_outside_a_transaction(engine):
        return {"isolation_level": "AUTOCOMMIT", READ_ONLY: True}
    return {"sqlite_begin": "DEFERRED"}  # SQLite's readers: no write lock (other dialects ignore it)


def _transaction_for_a_write_when_reading(engine: Engine) -> None:
    from psycopg.pq import TransactionStatus

    @event.listens_for(engine, "before_cursor_execute")
    def _begin_before_a_write(
        _conn: Any, cursor: Any, statement: str, _parameters: Any, context: Any, _many: bool
    ) -> None:
        if (
            context is not None
            and context.execution_options.get(READ_ONLY)
            and (
                context.isinsert
                or context.isupdate
                or context.isdelete
                or context.isddl
                or context.is_text
                or " FOR UPDATE" in statement
                or " FOR SHARE" in statement
            )
            and cursor.connection.info.transaction_status == TransactionStatus.IDLE
        ):
            cursor.connection.execute("BEGIN")


IDLE_BEFORE_PING = 10.0  # seconds a pooled connection may rest before it is checked on checkout


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it rested a while: one that served a request a
    moment ago is alive, and a ping on every checkout is a round trip more on every request. One
    that fails its ping is replaced (the pool retries on DisconnectionError), as pool_pre_ping would."""

    @event.listens_for(engine, "checkin")
    def _rested_since(_dbapi_connection: Any, record: Any) -> None:
        record.info["checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_rested(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("checked_in")
        if since is None or time.monotonic() - since < IDLE_BEFORE_PING:
            return
        try:
            cursor = dbapi_connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
            # Ended by a commit, to the same effect: psycopg forgets every statement it prepared on the
            # connection at a rollback (and sends DEALLOCATE ALL), so each would be parsed and planned
            # again five times before it is prepared anew.
            dbapi_connection.commit()
        except Exception as exc:  # noqa: BLE001 - any failure: the connection is not usable
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc


def _sqlite_engine(url: str) -> Engine:
    path = url.split("///", 1)[-1]
    in_memory = not path or path == ":memory:"
    if not in_memory:
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    # (an in-memory database has a pool of its own: one connection)
    engine = create_engine(url, connect_args={"timeout": 30}, **({} if in_memory else _pool_sizes()))
    on_file = not in_memory and not path.startswith("file:")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that BEGIN IMMEDIATE below
        # is what actually starts each transaction.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(_busy_timeout())
        if on_file:  # checkpoints run beside the commits (shared/checkpoints.py); SQLite's own is the backstop
            cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoints.BACKSTOP_PAGES}")
        cursor.close()

    absolute = os.path.abspath(path)
    lock = _WriteLock(os.path.splitext(os.path.basename(path))[0], absolute) if on_file else None

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Several processes share each file. IMMEDIATE takes the write lock at
        # the start, so a read-modify-write never fails half way with
        # SQLITE_BUSY, and it is the per-instance lock of the embedded default.
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode == "IMMEDIATE":
            asked = time.perf_counter()
            deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
            if lock is None:
                _begin_immediate(conn, deadline)
                return
            lock.enter(conn.connection, deadline)
            try:
                _begin_immediate(conn, deadline)
            except BaseException:
                lock.abandon()
                raise
            lock.taken(conn.connection, asked)
        else:
            if lock is not None:  # a reader holds no write lock, whatever an earlier transaction left noted
                lock.forget(conn.connection)
            # Straight to the driver, as BEGIN IMMEDIATE: a reader's BEGIN waits for nothing, and SQLAlchemy's
            # way of running a statement cost more than the statement.
            conn.connection.dbapi_connection.execute(f"BEGIN {mode}")

    if lock is not None:
        # This engine's own dialect (the pool's too, which rolls back a connection it takes back). Counted once
        # the driver has committed: SQLAlchemy's "commit" event fires before, and a checkpoint woken then could
        # run ahead of the commit and leave its pages in the log.
        driver_commit, driver_rollback = engine.dialect.do_commit, engine.dialect.do_rollback

        def _commit_and_count(dbapi_connection: Any) -> None:
            driver_commit(dbapi_connection)
            lock.released(dbapi_connection)
            checkpoints.CHECKPOINTER.committed(absolute)

        def _rollback_and_count(dbapi_connection: Any) -> None:
            try:
                driver_rollback(dbapi_connection)
            finally:  # a rollback that fails leaves the connection unusable: the transaction is over all the same
                lock.released(dbapi_connection)

        engine.dialect.do_commit = _commit_and_count  # type: ignore[method-assign]
        engine.dialect.do_rollback = _rollback_and_count  # type: ignore[method-assign]

        @event.listens_for(engine, "invalidate")
        def _invalidated(_dbapi_connection: Any, record: Any, _exception: Any) -> None:
            lock.forget(record)  # closed without a rollback, its transaction is over (the record's info is the proxy's)

    return engine


_LOCK_TAKEN = "titles_write_lock_taken"  # in a pooled connection's info: when its BEGIN IMMEDIATE got the lock


class _WriteLock:
    """One database file's write lock as this process takes it: the threads of the process queue for it on a
    lock of their own (the file's gate) before BEGIN IMMEDIATE, so at most one of them polls SQLite for it and
    the next in line has it the moment the last commits, where each waiting thread slept in naps of up to 4 ms
    and SQLite's lock stood free meanwhile. Counts the file's write transactions, how long each held SQLite's
    write lock (BEGIN IMMEDIATE to the commit or rollback) and how long it waited for the gate and the lock
    (shared/observability/metrics.py)."""

    def __init__(self, database: str, path: str):
        from shared.observability import metrics

        self._gate = _gate(path)
        self._ended = metrics.sqlite_write_transactions.labels(database)
        self._held = metrics.sqlite_write_lock_held.labels(database)
        self._waited = metrics.sqlite_write_lock_wait.labels(database)

    def enter(self, connection: Any, deadline: float) -> None:
        """Queue behind this process's other writers to the file (until ``deadline``, on the monotonic clock)."""
        self.forget(connection)
        if not self._gate.acquire(timeout=max(deadline - time.monotonic(), 0)):
            raise OperationalError(
                "BEGIN IMMEDIATE", None, sqlite3.OperationalError("database is locked (by this process)")
            )

    def abandon(self) -> None:
        """BEGIN IMMEDIATE failed: the next writer's turn."""
        self._gate.release()

    def taken(self, connection: Any, asked: float) -> None:
        now = time.perf_counter()
        self._waited.inc(now - asked)
        connection.info[_LOCK_TAKEN] = now

    def forget(self, connection: Any) -> None:
        """A transaction that ended unseen (its connection invalidated, say) lets its turn go, uncounted."""
        self._end(connection)

    def released(self, connection: Any) -> None:
        taken = self._end(connection)
        if taken is not None:
            self._held.inc(time.perf_counter() - taken)
            self._ended.inc()

    def _end(self, connection: Any) -> float | None:
        """The connection's write transaction is over: its note dropped and the gate given back (once, as the
        note is). Returns when it took the lock; None where it held none."""
        try:
            taken: float | None = connection.info.pop(_LOCK_TAKEN, None)
        except NotImplementedError:  # the engine's first connection, rolled back before any pool holds it
            return None
        if taken is not None:
            self._gate.release()
        return taken


_GATES: dict[str, threading.Lock] = {}
_GATES_GUARD = threading.Lock()


def _gate(path: str) -> threading.Lock:
    """The file's one gate in this process, whichever engine writes to it."""
    with _GATES_GUARD:
        return _GATES.setdefault(path, threading.Lock())


SQLITE_BUSY_TIMEOUT_S = 30.0
_FIRST_NAP_S, _LONGEST_NAP_S = 0.0005, 0.004


def _busy_timeout() -> str:
    """SQLite's own wait for a lock, the safety net of every statement but BEGIN IMMEDIATE."""
    return f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}"


def _begin_immediate(conn: Any, deadline: float) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock in short naps. SQLite's own busy handler sleeps 1, 2,
    5, 10, 15, 20, 25 ... up to 100 ms between its tries, so a writer queued behind a few short
    transactions slept on long after the lock was free, and the machine idled meanwhile."""
    dbapi = conn.connection.dbapi_connection
    dbapi.execute("PRAGMA busy_timeout=0")
    try:
        nap = _FIRST_NAP_S
        while time.monotonic() < deadline:
            try:
                dbapi.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc):
                    raise
            time.sleep(nap * (0.5 + random.random()))  # jittered: waiters do not retry in step
            nap = min(nap * 2, _LONGEST_NAP_S)
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # once more, to fail as SQLAlchemy reports it
    finally:
        dbapi.execute(_busy_timeout())


def ping(engine: Engine) -> None:
    # DEFERRED: a probe must never queue for SQLite's write lock behind a long transaction. PostgreSQL: outside a
    # transaction, so that none is rolled back when the connection goes back to its pool (psycopg forgets every
    # statement it prepared on a connection at a rollback; a readiness probe did that about once a lifecycle).
    options = {"isolation_level": "AUTOCOMMIT"} if engine.dialect.name == "postgresql" else {"sqlite_begin": "DEFERRED"}
    with engine.connect().execution_options(**options) as conn:
        conn.execute(text("SELECT 1"))
