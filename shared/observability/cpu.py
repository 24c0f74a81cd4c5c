"""The CPU time of a process's long-running threads, counted as ``titles_cpu_seconds{kind="thread"}``.

`titles work` runs every consumer, relay and scheduler of the system as threads of one process; the process's
CPU says what they cost together, this says what each did. Read from ``/proc/self/task/<id>/stat`` (Linux;
elsewhere nothing is counted): a thread that has ended leaves no file behind, where asking a finished thread
for its clock is undefined behaviour.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable

from shared.observability import metrics

_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def thread_seconds(native_id: int) -> float | None:
    """User plus system CPU seconds of this process's thread ``native_id`` so far (None: not found)."""
    try:
        with open(f"/proc/self/task/{native_id}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # after the name: state is field 3 of stat(5), utime 14 and stime 15
    return (int(fields[11]) + int(fields[12])) / _TICK


class ThreadClocks:
    """Counts, at each ``look()``, the CPU each thread spent since the last look, labelled with the thread's
    name and the service its name starts with (``review-consumer``: review)."""

    def __init__(self, threads: Iterable[threading.Thread]):
        self._threads = list(threads)
        self._seen: dict[str, float] = {}

    def look(self) -> None:
        for thread in self._threads:
            if thread.native_id is None:
                continue
            now = thread_seconds(thread.native_id)
            if now is None:
                continue
            spent = now - self._seen.get(thread.name, 0.0)
            self._seen[thread.name] = now
            if spent > 0:
                metrics.cpu_seconds.labels(thread.name.split("-")[0], "thread", thread.name).inc(spent)
