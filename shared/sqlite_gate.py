"""A writers' gate for SQLite files that several processes share (the embedded default).

SQLite lets one writer in at a time; a writer that finds the lock taken sleeps in SQLite's busy
handler, whose naps grow to 100 ms, so it often sleeps long after the lock was free: the machine
idles while requests wait. Here each writing transaction first takes an exclusive ``flock`` on a file
beside the database (``<file>-writers.lock``), from just before its ``BEGIN IMMEDIATE`` to just after
its ``COMMIT`` or ``ROLLBACK``; the waiters try again every few hundred microseconds at first and
every 2 ms at most, so the next writer goes in about when the last one left. A process that dies lets
go of its ``flock`` with it.

Readers (``BEGIN DEFERRED``) never take the gate: WAL lets them read beside a writer. The gate gives
up after ``TIMEOUT`` seconds, as SQLite's own busy timeout would, and the transaction then meets
SQLite's lock as before. A thread that holds the gate through one connection and begins writing
through another passes without it (it would otherwise wait on itself); SQLite's lock judges it as
before.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
import threading
import time
from typing import Any

TIMEOUT = 30.0  # seconds, SQLite's busy_timeout (shared/db.py)
FIRST_NAP = 0.0002
LONGEST_NAP = 0.002

_held = threading.local()  # .paths: the gates this thread holds, by lock file


def _held_here() -> set[str]:
    paths: set[str] | None = getattr(_held, "paths", None)
    if paths is None:
        paths = _held.paths = set()
    return paths


class GatedConnection(sqlite3.Connection):
    """``sqlite3.connect(path, factory=GatedConnection)``: ``enter_gate()`` before a writing BEGIN;
    ``commit()``, ``rollback()`` and ``close()`` leave it."""

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        path = os.fspath(database)
        self._gate_path = None if path in ("", ":memory:") or path.startswith("file:") else path + "-writers.lock"
        self._gate_fd: int | None = None
        self._in_gate = False

    def enter_gate(self) -> None:
        path = self._gate_path
        if path is None or self._in_gate or path in _held_here():
            return
        if self._gate_fd is None:
            self._gate_fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        deadline = time.monotonic() + TIMEOUT
        nap = FIRST_NAP
        while True:
            try:
                fcntl.flock(self._gate_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > deadline:
                    return  # SQLite's own lock and busy timeout decide, as without the gate
            time.sleep(nap)
            nap = min(nap * 1.5, LONGEST_NAP)
        self._in_gate = True
        _held_here().add(path)

    def leave_gate(self) -> None:
        if self._in_gate and self._gate_fd is not None:
            self._in_gate = False
            _held_here().discard(self._gate_path or "")
            fcntl.flock(self._gate_fd, fcntl.LOCK_UN)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.leave_gate()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.leave_gate()

    def close(self) -> None:
        try:
            self.leave_gate()
            if self._gate_fd is not None:
                os.close(self._gate_fd)
                self._gate_fd = None
        finally:
            super().close()
