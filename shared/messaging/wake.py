"""Doorbells: wake a relay or a consumer the moment there is work for it, instead of at its next poll.

A doorbell is a named pipe (FIFO) beside what it announces: a SQLite database file (its outbox) or an
embedded queue. Whoever has just committed outbox rows, or put a message, rings it: one byte written
without blocking, and nothing at all when nobody listens (open fails) or a byte already waits (the
pipe is full, which is as good). It works the same across processes and within one. A listener opens
it for reading and writing, so it never sees end-of-file as writers come and go; it empties the pipe
before it looks for work, so a ring during the work wakes it again at once; and it still polls, far
more slowly, so a ring that is lost (the pipe deleted, a writer that died before ringing) delays the
work, never loses it.

On PostgreSQL the outbox needs no doorbell: a trigger (each service's ``outbox_notify`` migration)
notifies ``OUTBOX_CHANNEL`` when a transaction that inserted outbox rows commits, and
:class:`PostgresListener` waits on it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import stat
import threading
import time
from pathlib import Path
from typing import Any, Protocol

log = logging.getLogger(__name__)

#: The PostgreSQL channel every service's outbox trigger notifies (one database per service).
OUTBOX_CHANNEL = "titles_outbox"

# How long one wait lasts at most before the waiter looks at its stop event again.
_STOP_CHECK_S = 0.5


def ring(path: str | os.PathLike[str]) -> None:
    """Wake whoever listens at ``path``; nothing happens if nobody does."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError:  # ENOENT: never listened to; ENXIO: no listener now
        return
    try:
        os.write(fd, b"\0")
    except OSError:  # EAGAIN: the pipe is full of rings already
        pass
    finally:
        os.close(fd)


def outbox_bell(url: str) -> Path | None:
    """The doorbell of a SQLite database file's outbox (``<file>-relay``), None for other databases:
    PostgreSQL has its trigger, and an in-memory database no other process can see."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    if not path or path == ":memory:" or "///" not in url:
        return None
    return Path(os.path.abspath(path) + "-relay")


class Waiter(Protocol):
    """What a relay waits on between rounds: ``clear`` before it looks for work, ``wait`` after none."""

    def clear(self) -> None: ...

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool: ...

    def close(self) -> None: ...


class Listener:
    """Waits on one or more doorbells (created if missing) with a timeout: the poll kept as a safety net."""

    def __init__(self, paths: list[Path]):
        self._bells: dict[Path, tuple[int, int]] = {}  # path -> (fd, inode)
        self._rung: set[Path] = set()  # the bells whose rings were read since ``rung`` was last asked
        for path in paths:
            self._open(path)

    @property
    def listening(self) -> frozenset[Path]:
        """The bells this listener hears (one that could not be opened is polled for only)."""
        return frozenset(self._bells)

    def rung(self) -> set[Path]:
        """The bells that rang since the last call, as ``clear`` and ``wait`` read their rings: a consumer of
        several queues looks again only at those."""
        rung, self._rung = self._rung, set()
        return rung

    def _open(self, path: Path) -> None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.mkfifo(path, 0o600)
            if not stat.S_ISFIFO(os.stat(path).st_mode):
                log.warning("doorbell %s is not a named pipe; polling only", path)
                return
            # Read-write: the pipe always has a writer (this), so it never reads as closed.
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK)
        except OSError as exc:
            log.warning("doorbell %s unusable (%s); polling only", path, exc)
            return
        self._bells[path] = (fd, os.fstat(fd).st_ino)

    def _reopen_moved(self) -> None:
        """A doorbell deleted (or replaced) since it was opened rings no more: open the one now there."""
        for path, (fd, inode) in list(self._bells.items()):
            try:
                current = os.stat(path).st_ino
            except OSError:
                current = None
            if current != inode:
                os.close(fd)
                del self._bells[path]
                self._open(path)

    def clear(self) -> None:
        """Forget the rings so far (call before looking for work); which bells rang is kept for ``rung``."""
        paths = {fd: path for path, (fd, _) in self._bells.items()}
        fds = list(paths)
        if len(fds) > 1:
            # One select finds the few that rang: a consumer of fourteen queues cleared them on every
            # drain, and a read of a silent pipe fails (EAGAIN) as a raised exception each.
            with contextlib.suppress(OSError, ValueError):
                fds = select.select(fds, [], [], 0)[0]
        for fd in fds:
            with contextlib.suppress(OSError):
                while os.read(fd, 4096):
                    self._rung.add(paths[fd])

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        """Until a ring (True), ``timeout`` seconds, or ``stop`` (False); then the rings are cleared."""
        deadline = time.monotonic() + timeout
        fds = [fd for fd, _ in self._bells.values()]
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                self._reopen_moved()
                return False
            if not fds:
                (stop.wait if stop is not None else time.sleep)(min(left, _STOP_CHECK_S))
                continue
            try:
                ready, _, _ = select.select(fds, [], [], min(left, _STOP_CHECK_S))
            except InterruptedError:
                continue
            if ready:
                self.clear()
                return True

    def close(self) -> None:
        for fd, _ in self._bells.values():
            with contextlib.suppress(OSError):
                os.close(fd)
        self._bells.clear()

    def __enter__(self) -> Listener:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class PostgresListener:
    """LISTENs on ``OUTBOX_CHANNEL`` on a connection of its own (autocommit: LISTEN takes effect at once)."""

    def __init__(self, url: str):
        import psycopg
        from sqlalchemy.engine import make_url

        conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._connection = psycopg.connect(conninfo, autocommit=True)
        self._connection.execute(f"LISTEN {OUTBOX_CHANNEL}")

    def clear(self) -> None:
        """Read the notifications already here without waiting: their commits are visible to the look
        that follows. One that arrives later is left for the next wait (an extra look, never a missed one)."""
        with contextlib.suppress(Exception):  # a broken connection shows in the next wait or look
            for _ in self._connection.notifies(timeout=0):
                pass

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or (stop is not None and stop.is_set()):
                return False
            for _ in self._connection.notifies(timeout=min(left, _STOP_CHECK_S), stop_after=1):
                return True

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._connection.close()


class Poll:
    """No doorbell: wait out the timeout (or ``stop``)."""

    def clear(self) -> None:
        pass

    def wait(self, timeout: float, stop: threading.Event | None = None) -> bool:
        if stop is not None:
            stop.wait(timeout)
        else:
            time.sleep(timeout)
        return False

    def close(self) -> None:
        pass


def outbox_listener(url: str) -> Waiter:
    """What a relay of the database at ``url`` waits on between rounds."""
    if url.startswith("postgresql"):
        try:
            return PostgresListener(url)
        except Exception as exc:  # noqa: BLE001 - the poll still relays everything
            log.warning("cannot LISTEN for the outbox (%r); polling only", exc)
            return Poll()
    bell = outbox_bell(url)
    return Listener([bell]) if bell is not None else Poll()
