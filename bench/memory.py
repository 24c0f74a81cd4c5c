"""``make run``'s processes and memory: every process of the tree under ``titles run``, from /proc.

RSS counts a page shared by several processes (a forked worker's copy of its master, the same
library mapped twice) once per process, as ``ps`` and ``top`` do; PSS divides each shared page
among the processes that map it, so its sum is what the tree costs the machine.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

PROC = Path("/proc")


def _children() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # The command name (field 2) may hold spaces and ')': the parent is the 2nd field after the last ')'.
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    return children


def tree(root: int) -> list[int]:
    """``root`` and every descendant."""
    children = _children()
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _kib(text: str, field: str) -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def _name(pid: int) -> str:
    cmdline = (PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    words = [w.decode(errors="replace") for w in cmdline if w]
    # "titles consume review", "gunicorn ... services.review.bootstrap:create_app()": the telling words.
    telling = [w for w in words[1:] if not w.startswith("-") and not w.endswith(".py")]
    return " ".join([Path(words[0]).name, *telling[-2:]]) if words else "?"


def measure(root: int) -> dict[str, Any]:
    """Process count, RSS and PSS (MiB) of ``root``'s tree, and each process's."""
    processes = []
    for pid in tree(root):
        try:
            status = (PROC / str(pid) / "status").read_text()
            rollup = (PROC / str(pid) / "smaps_rollup").read_text()
            name = _name(pid)
        except OSError:
            continue  # ended meanwhile, or not readable
        processes.append(
            {"pid": pid, "name": name, "rss_mib": _kib(status, "VmRSS") / 1024, "pss_mib": _kib(rollup, "Pss") / 1024}
        )
    return {
        "processes": len(processes),
        "rss_mib": round(sum(p["rss_mib"] for p in processes), 1),
        "pss_mib": round(sum(p["pss_mib"] for p in processes), 1),
        "each": sorted(processes, key=lambda p: -p["rss_mib"]),
    }
