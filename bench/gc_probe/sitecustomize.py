"""A probe of the cyclic garbage collector in every Python process it is put on the path of.

    TITLES_GC_PROBE_DIR=/tmp/gc PYTHONPATH=bench/gc_probe .venv/bin/python bench/run.py --parts social ...
    .venv/bin/python bench/gc_probe/report.py /tmp/gc

``bench/run.py`` keeps the ``PYTHONPATH`` it was given for the system it starts, so every process of
``titles run`` (and the benchmark's own) loads this module at start. It times each collection on the CPU clock
of the thread that runs it (``gc.callbacks``) and writes, every second and at exit, ``<pid>.json`` in the folder
named by ``TITLES_GC_PROBE_DIR``: the process's command line and CPU, and the collector's CPU, collections and
longest pause by generation, apart before and after the process settled its collector (shared/gc_tuning.py: the
young generation's threshold is no longer 700). Without ``TITLES_GC_PROBE_DIR`` it does nothing.

Nothing in the callback walks the heap: ``gc.get_freeze_count()`` there would walk every frozen object at each
collection and make the collector look many times dearer than it is.
"""

from __future__ import annotations

import atexit
import gc
import json
import os
import sys
import threading
import time

_FOLDER = os.environ.get("TITLES_GC_PROBE_DIR")
_DEFAULT_YOUNG = 700


def _empty() -> dict[str, list[float]]:
    return {"seconds": [0.0, 0.0, 0.0], "collections": [0, 0, 0], "longest": [0.0, 0.0, 0.0]}


_phases = {"before": _empty(), "after": _empty()}
_started: dict[int, float] = {}


def _time_it(phase: str, info: dict[str, int]) -> None:
    thread = threading.get_ident()
    if phase == "start":
        _started[thread] = time.thread_time()
        return
    began = _started.pop(thread, None)
    if began is None:
        return
    spent = time.thread_time() - began
    generation = info["generation"]
    # O(1): settled processes walk the young generation at another threshold (shared/gc_tuning.py)
    record = _phases["after" if gc.get_threshold()[0] != _DEFAULT_YOUNG else "before"]
    record["seconds"][generation] += spent
    record["collections"][generation] += 1
    record["longest"][generation] = max(record["longest"][generation], spent)


def _write() -> None:
    body = {
        "pid": os.getpid(),
        "argv": " ".join(sys.argv)[-300:],  # its end names the app or the workers
        "cpu_seconds": time.process_time(),
        "settled": gc.get_threshold()[0] != _DEFAULT_YOUNG,
        **_phases,
    }
    path = os.path.join(str(_FOLDER), f"{os.getpid()}.json")
    try:
        with open(path + ".tmp", "w", encoding="utf-8") as handle:
            json.dump(body, handle)
        os.replace(path + ".tmp", path)
    except OSError:
        pass


def _keep_writing() -> None:
    while True:
        time.sleep(1.0)
        _write()


def _start() -> None:
    """In this process, and again in a forked child (gunicorn's workers), whose threads fork does not copy."""
    for record in _phases.values():
        record.update(_empty())
    _started.clear()
    threading.Thread(target=_keep_writing, name="gc-probe", daemon=True).start()


if _FOLDER:
    os.makedirs(_FOLDER, exist_ok=True)
    gc.callbacks.append(_time_it)
    _start()
    os.register_at_fork(after_in_child=_start)
    atexit.register(_write)
