"""Where the machine's CPU goes during a closed-loop level: seconds per lifecycle by process group, from /proc.

A snapshot adds up user + system CPU time of each process (``/proc/PID/stat``), grouped into the system's own
processes (by their name in ``titles run``'s tree: ``web``, ``review-http``, ``work``), PostgreSQL, RabbitMQ
and the benchmark's clients (this process); the machine's busy share comes from ``/proc/stat``. The
difference of two snapshots is what that window cost. A process that ended within the window loses its
time (PostgreSQL's backends live as long as the pools' connections, which outlive a level).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bench.memory import tree

PROC = Path("/proc")
# The system's own process groups under `titles run` (bench/report.py and bench/pairs.py read them by name).
REVIEW_HTTP = "system: review HTTP"
OTHER_HTTP = "system: other HTTP apps"
WORK = "system: consumers, relays, scheduler, dispatcher"
SYSTEM_GROUPS = (WORK, REVIEW_HTTP, OTHER_HTTP)
TICKS = os.sysconf("SC_CLK_TCK")


def _ticks(pid: int | str) -> tuple[str, int] | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    name = stat[stat.index("(") + 1 : stat.rindex(")")]
    fields = stat.rsplit(")", 1)[1].split()
    return name, int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of the whole line)


def _group_of_child(pid: int, root: int) -> str:
    """The name of the direct child of ``root`` (``titles run``) this process descends from."""
    try:
        cmdline = (PROC / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "system: ?"
    if pid == root:
        return "system: titles run"
    if "services.review.bootstrap" in cmdline:
        return REVIEW_HTTP
    if "titles.groups:create_app" in cmdline:
        return OTHER_HTTP
    if " work " in cmdline + " ":
        return WORK
    return "system: other"


def snapshot(root: int) -> dict[str, Any]:
    """CPU ticks by pid with each one's group, and the machine's busy and total ticks."""
    processes: dict[int, tuple[str, int]] = {}
    for pid in tree(root):
        found = _ticks(pid)
        if found:
            processes[pid] = (_group_of_child(pid, root), found[1])
    me = os.getpid()
    for entry in PROC.iterdir():
        if not entry.name.isdigit() or int(entry.name) in processes:
            continue
        found = _ticks(entry.name)
        if not found:
            continue
        name, ticks = found
        if int(entry.name) == me:
            processes[me] = ("benchmark clients (this process)", ticks)
        elif name == "postgres":
            processes[int(entry.name)] = ("PostgreSQL", ticks)
        elif name in ("beam.smp", "erl_child_setup", "epmd", "inet_gethost"):
            processes[int(entry.name)] = ("RabbitMQ", ticks)
    line = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in line]
    idle = values[3] + values[4]  # idle, iowait
    return {"processes": processes, "busy": sum(values[:8]) - idle, "total": sum(values[:8])}


def difference(before: dict[str, Any], after: dict[str, Any], lifecycles: int) -> dict[str, Any]:
    """CPU seconds per lifecycle by group (most first), the machine's busy share of the window and what of it
    the groups do not account for (other processes on the machine, the kernel's own work)."""
    by_group: dict[str, float] = {}
    for pid, (group, ticks) in after["processes"].items():
        earlier = before["processes"].get(pid)
        spent = ticks - (earlier[1] if earlier else 0)
        by_group[group] = by_group.get(group, 0.0) + spent / TICKS
    busy = (after["busy"] - before["busy"]) / TICKS
    window = (after["total"] - before["total"]) / TICKS  # CPU-seconds available in the window, all cores
    accounted = sum(by_group.values())
    per = max(lifecycles, 1)
    return {
        "busy_share": busy / window if window else None,
        "busy_seconds_per_lifecycle": busy / per,
        "seconds_per_lifecycle": {
            group: seconds / per for group, seconds in sorted(by_group.items(), key=lambda item: -item[1])
        },
        "unaccounted_seconds_per_lifecycle": max(busy - accounted, 0.0) / per,
    }
