"""How long each SQLite database's write lock was held during a closed-loop level (the embedded default).

SQLite lets one writer at a time into a database file. Every process counts, per file, its write transactions,
the seconds each held the lock (BEGIN IMMEDIATE to the commit or rollback) and the seconds writers waited for it
(``titles_sqlite_write_*`` at ``/metrics``; under ``titles run`` one service's ``/metrics`` sums every
process's). The difference of two scrapes is what a window cost; the held seconds over the window's length is
the share of the time the lock was taken, which near 100% caps the throughput whatever CPU is left.
"""

from __future__ import annotations

import re
from typing import Any

from bench import scrape

_FIGURE = re.compile(r'^titles_sqlite_write_(\w+)_total\{database="([^"]+)"\} (\S+)$', re.MULTILINE)


def snapshot(service: str = "review") -> dict[str, dict[str, float]]:
    """``parse`` of the service's ``/metrics`` now."""
    return parse(scrape.metrics_text(service))


def parse(text: str) -> dict[str, dict[str, float]]:
    """{database: {"transactions", "lock_held_seconds", "lock_wait_seconds": total so far}}; empty on PostgreSQL,
    and where ``/metrics`` did not answer."""
    found: dict[str, dict[str, float]] = {}
    for name, database, value in _FIGURE.findall(text):
        found.setdefault(database, {})[name] = float(value)
    return found


def difference(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], seconds: float, lifecycles: int
) -> dict[str, dict[str, float]]:
    """Per database, for the window: write transactions and milliseconds held and waited a lifecycle, the mean
    hold, and the share of the window the lock was held."""
    per: dict[str, dict[str, float]] = {}
    for database, now in sorted(after.items()):
        was: dict[str, Any] = before.get(database, {})
        ended = now.get("transactions", 0.0) - was.get("transactions", 0.0)
        held = now.get("lock_held_seconds", 0.0) - was.get("lock_held_seconds", 0.0)
        waited = now.get("lock_wait_seconds", 0.0) - was.get("lock_wait_seconds", 0.0)
        if ended <= 0:
            continue
        per[database] = {
            "transactions_per_lifecycle": ended / max(lifecycles, 1),
            "held_ms_per_lifecycle": held * 1000 / max(lifecycles, 1),
            "mean_hold_ms": held * 1000 / ended,
            "held_share": held / seconds if seconds > 0 else 0.0,
            "waited_ms_per_lifecycle": waited * 1000 / max(lifecycles, 1),
        }
    return per
