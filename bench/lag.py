"""Event lag: from a message's outbox row (written in the producer's transaction) to the consumer's
commit (``inbox.committed_at``, stamped just before the handler's transaction commits), read from
every service's database after a run. A message consumed by several handlers counts once per handler.

Both stamps are on the system's clock, which under the test clock jumps days ahead at each move (a
publicity fast-forwarded): a message produced before a move and consumed after it would count the jump.
The moves are audited (review's ``clock_moves``: the clock before and after each), so each stamp is taken
back to real time by the moves before it, and the lag is real time. A lag still an hour or more (a stamp
that raced a move) is left out and counted as ``across_clock_moves``.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
from typing import Any

SERVICES = ("profile", "declaration", "review", "certificate", "notify")


def _rows(url: str, table: str, *columns: str) -> list[Any]:
    import sqlalchemy as sa

    from shared.db import UtcDateTime

    engine = sa.create_engine(url)
    cols = [sa.column(c, UtcDateTime()) if c.endswith("_at") else sa.column(c) for c in columns]
    try:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(*cols).select_from(sa.table(table, *cols))).all())
    finally:
        engine.dispose()


def measure(urls: dict[str, str], since: dt.datetime, until: dt.datetime) -> dict[str, Any]:
    """Lag percentiles (ms) of the messages whose outbox row was written in [since, until)."""
    from bench.stats import percentiles

    produced: dict[str, tuple[str, dt.datetime]] = {}
    for service in SERVICES:
        for message_id, type_, created_at in _rows(urls[service], "outbox", "message_id", "type", "created_at"):
            if created_at is not None and since <= created_at < until:
                produced[message_id] = (type_, created_at)
    moves = sorted(_rows(urls["review"], "clock_moves", "to_at", "seconds"))
    ends = [to_at for to_at, _ in moves]
    moved = list(itertools.accumulate(seconds for _, seconds in moves))

    def real(stamp: dt.datetime) -> dt.datetime:
        """The real time of a stamp on the system's clock: less every move made before it."""
        before = bisect.bisect_right(ends, stamp)
        return stamp - dt.timedelta(seconds=moved[before - 1]) if before else stamp

    lags: dict[str, list[float]] = {}
    by_handler: dict[str, list[float]] = {}
    handling: dict[str, list[float]] = {}  # of it, the handler's own transaction (inbox row to commit)
    missing = across = 0
    for service in SERVICES:
        for message_id, handler, processed_at, committed_at in _rows(
            urls[service], "inbox", "message_id", "handler", "processed_at", "committed_at"
        ):
            if message_id not in produced:
                continue
            if committed_at is None:
                missing += 1
                continue
            type_, created_at = produced[message_id]
            committed = real(committed_at)
            lag = committed - real(created_at)
            if not dt.timedelta(0) <= lag < dt.timedelta(hours=1):
                across += 1
                continue
            lags.setdefault(type_, []).append(lag.total_seconds() * 1000)
            by_handler.setdefault(handler, []).append(lag.total_seconds() * 1000)
            handling.setdefault(handler, []).append((committed - real(processed_at)).total_seconds() * 1000)
    every = [v for values in lags.values() for v in values]
    return {
        "window": [since.isoformat(), until.isoformat()],
        "messages": len(produced),
        "deliveries": len(every),
        "without_commit_time": missing,
        "across_clock_moves": across,
        "all": percentiles(every),
        "by_type": {t: percentiles(v) for t, v in sorted(lags.items())},
        "by_handler": {
            h: {**percentiles(v), "handling": percentiles(handling[h])} for h, v in sorted(by_handler.items())
        },
    }


def settle(urls: dict[str, str], quiet: float = 1.0, timeout: float = 120.0) -> float:
    """Wait until the system has caught up (every outbox published, no handler committing for ``quiet``
    seconds); returns how long that took."""
    import time

    import sqlalchemy as sa

    engines = [sa.create_engine(url) for url in urls.values()]
    started = time.monotonic()
    last: list[int] | None = None
    still_since = started
    try:
        while time.monotonic() - started < timeout:
            counts = []
            for engine in engines:
                with engine.connect() as conn:
                    counts.append(conn.scalar(sa.text("SELECT count(*) FROM outbox WHERE published_at IS NULL")))
                    counts.append(conn.scalar(sa.text("SELECT count(*) FROM inbox")))
            now = time.monotonic()
            if counts != last or any(counts[0::2]):  # outbox backlogs at even places, inbox totals at odd
                last, still_since = counts, now
            elif now - still_since >= quiet:
                break
            time.sleep(0.2)
    finally:
        for engine in engines:
            engine.dispose()
    return time.monotonic() - started
