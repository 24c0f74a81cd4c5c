"""SQLite's WAL checkpoints, run beside the work instead of inside a commit.

In WAL mode a commit appends its pages to the ``-wal`` file; a checkpoint copies them back into the
database and syncs both files. SQLite runs one automatically inside whichever commit takes the log past
``wal_autocheckpoint`` pages (1,000 by default), so every few dozen commits one request or delivery waits
for two fsyncs and the copy: on this project's 2-core machine a review step's commit took 0.1 ms at the
median and 1-6 ms when it checkpointed, over half of the commits' mean (bench/results.md, twelfth session).

Here each process counts the commits of each database file it writes, and every ``COMMITS_PER_CHECKPOINT``
of them a thread of its own runs a PASSIVE checkpoint on a connection of its own: it copies what no reader
still needs, waits for no lock and stops no writer, and the sqlite3 driver lets go of the GIL while it
works. The commit's own durability is unchanged (WAL with ``synchronous=NORMAL``: a commit survives the
process; the checkpoint only moves pages). SQLite's own checkpoint stays as a backstop, at
``BACKSTOP_PAGES``, should this thread fall behind or a process write without it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from pathlib import Path

COMMITS_PER_CHECKPOINT = 64  # a review step writes about 15 pages: a checkpoint of about 1,000, as SQLite's
BACKSTOP_PAGES = 10_000  # SQLite's own checkpoint, inside a commit, only beyond 40 MB of log


def checkpoint(path: str) -> tuple[int, int, int] | None:
    """A PASSIVE checkpoint of the database file at ``path``: (busy, pages in the log, pages copied), or
    None when it could not run (the file is gone, say). Never creates the file."""
    uri = Path(path).absolute().as_uri() + "?mode=rw"
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=0, isolation_level=None)) as connection:
            row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    except sqlite3.Error:
        return None  # gone, or locked for recovery: the next one (or the backstop) does it
    return (int(row[0]), int(row[1]), int(row[2])) if row else None


class Checkpointer:
    """Counts commits per file and checkpoints a file every ``every`` of them, on its own thread."""

    def __init__(self, every: int = COMMITS_PER_CHECKPOINT):
        self.every = every
        self.afresh()

    def afresh(self) -> None:
        """No counts, nothing due, no thread (the first due checkpoint starts it). Also in a forked child: none
        of the parent's threads runs there, and a lock one of them held at the fork stays held for ever."""
        self._counts: dict[str, int] = {}
        self._due: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self.done = 0  # checkpoints run in this process (for tests and curiosity)

    def committed(self, path: str) -> None:
        with self._lock:
            count = self._counts.get(path, 0) + 1
            if count < self.every:
                self._counts[path] = count
                return
            self._counts[path] = 0
            self._due.add(path)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                due, self._due = self._due, set()
            for path in sorted(due):
                checkpoint(path)
                self.done += 1


CHECKPOINTER = Checkpointer()
os.register_at_fork(after_in_child=CHECKPOINTER.afresh)
