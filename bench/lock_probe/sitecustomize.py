"""A probe of SQLite's write locks in every Python process it is put on the path of: who held each one, how long.

    TITLES_LOCK_PROBE_DIR=/tmp/locks PYTHONPATH=bench/lock_probe .venv/bin/python bench/run.py --parts social ...
    .venv/bin/python bench/lock_probe/report.py /tmp/locks --lifecycles 64

``bench/locks.py`` gives each database's write transactions and the time its lock was held, from the services'
own counters; this says which code held it. ``bench/run.py`` keeps the ``PYTHONPATH`` it was given for the
system it starts, so every process of ``titles run`` loads this module at start. Once ``shared.db`` is
imported, the probe wraps its write lock (``_WriteLock.taken`` and ``released``) and its ``BEGIN IMMEDIATE``:

- per database and call site (the thread's name and the outermost frames of the project's code on its stack when
  the lock was taken: a request's view, a consumer's handler, the scheduler), the write transactions, the
  seconds they held the lock (BEGIN IMMEDIATE to the commit or rollback) and the CPU the holding thread spent
  meanwhile: a hold far longer than its CPU waited for the interpreter lock or for a core;
- per database and thread name, the BEGIN IMMEDIATEs, the seconds spent in them (waiting for SQLite's lock while
  another process held it: this process's own writers queue before, at the file's gate) and how many had to wait.

It writes ``<pid>.json`` in the folder named by ``TITLES_LOCK_PROBE_DIR`` every second and at exit. Without
that variable it does nothing. Walking the stack costs some tens of microseconds a write transaction: compare
figures taken with the probe on.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import json
import os
import sys
import threading
import time
from typing import Any

_FOLDER = os.environ.get("TITLES_LOCK_PROBE_DIR")
_PROJECT = ("/services/", "/shared/messaging/", "/titles/")
_DEPTH = 4  # project frames kept of a call site, outermost first

_held: dict[str, list[float]] = {}  # "database | site" -> [transactions, seconds held, CPU seconds meanwhile]
_begins: dict[str, list[float]] = {}  # "database | thread" -> [BEGIN IMMEDIATEs, seconds in them, how many waited]
_open: dict[int, tuple[str, float, float]] = {}  # thread id -> (key, when taken, thread CPU then)
_guard = threading.Lock()
_WAITED_S = 0.0004  # a BEGIN IMMEDIATE longer than this waited for another process


def _thread() -> str:
    return threading.current_thread().name.split("-")[0][:16]


def _site(database: str) -> str:
    frame: Any = sys._getframe(3)
    names = []
    while frame is not None:
        path = frame.f_code.co_filename
        if "site-packages" not in path and any(part in path for part in _PROJECT):
            names.append(f"{path.split('/')[-2]}/{os.path.basename(path)[:-3]}:{frame.f_code.co_name}")
        frame = frame.f_back
    return f"{database} | {_thread()} {' > '.join(reversed(names[-_DEPTH:]))}"


def _add(table: dict[str, list[float]], key: str, *values: float) -> None:
    with _guard:
        row = table.setdefault(key, [0.0] * len(values))
        for index, value in enumerate(values):
            row[index] += value


def _patch(db: Any) -> None:
    lock = db._WriteLock
    taken, released, begin = lock.taken, lock.released, db._begin_immediate

    def taken_and_noted(self: Any, connection: Any, asked: float) -> None:
        taken(self, connection, asked)
        _open[threading.get_ident()] = (_site(self.probe_name), time.perf_counter(), time.thread_time())

    def released_and_noted(self: Any, connection: Any) -> None:
        released(self, connection)
        noted = _open.pop(threading.get_ident(), None)
        if noted is not None:
            key, since, cpu = noted
            _add(_held, key, 1, time.perf_counter() - since, time.thread_time() - cpu)

    def begin_timed(conn: Any, deadline: float) -> None:
        started = time.perf_counter()
        try:
            begin(conn, deadline)
        finally:
            spent = time.perf_counter() - started
            database = os.path.splitext(os.path.basename(conn.engine.url.database or "memory"))[0]
            _add(_begins, f"{database} | {_thread()}", 1, spent, 1 if spent > _WAITED_S else 0)

    original_init = lock.__init__

    def init(self: Any, database: str, path: str) -> None:
        original_init(self, database, path)
        self.probe_name = database

    lock.__init__, lock.taken, lock.released = init, taken_and_noted, released_and_noted
    db._begin_immediate = begin_timed


class _AfterImport(importlib.abc.MetaPathFinder):
    """Patches ``shared.db`` as soon as it is imported (this module loads before it)."""

    def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
        if name != "shared.db":
            return None
        sys.meta_path.remove(self)
        try:
            spec = importlib.util.find_spec(name)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: Any) -> None:
            run_module(module)
            _patch(module)

        spec.loader.exec_module = exec_module  # type: ignore[method-assign]
        return spec


def _write() -> None:
    with _guard:
        body = {"pid": os.getpid(), "argv": " ".join(sys.argv)[-300:], "held": _held, "begins": _begins}
        text = json.dumps(body)
    path = os.path.join(str(_FOLDER), f"{os.getpid()}.json")
    try:
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(path + ".tmp", path)
    except OSError:
        pass


def _keep_writing() -> None:
    while True:
        time.sleep(1.0)
        _write()


def _start() -> None:
    """In this process, and again in a forked child (gunicorn's workers), whose threads fork does not copy."""
    with _guard:
        _held.clear()
        _begins.clear()
    _open.clear()
    threading.Thread(target=_keep_writing, name="lock-probe", daemon=True).start()


if _FOLDER:
    os.makedirs(_FOLDER, exist_ok=True)
    sys.meta_path.insert(0, _AfterImport())
    _start()
    os.register_at_fork(after_in_child=_start)
    atexit.register(_write)
