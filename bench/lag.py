"""Event lag: from a message's outbox row (written in the producer's transaction) to the consumer's
commit (``inbox.committed_at``, stamped just before the handler's transaction commits), read from
every service's database after a run. A message consumed by several handlers counts once per handler.

Both stamps are on the system's clock, which under the test clock jumps days ahead at each publicity:
a message produced before a jump and consumed after it would count the jump, so a lag of an hour or
more is left out and counted as ``across_clock_moves``.
"""

from __future__ import annotations

import datetime as dt
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
    lags: dict[str, list[float]] = {}
    missing = across = 0
    for service in SERVICES:
        for message_id, _handler, committed_at in _rows(
            urls[service], "inbox", "message_id", "handler", "committed_at"
        ):
            if message_id not in produced:
                continue
            if committed_at is None:
                missing += 1
                continue
            type_, created_at = produced[message_id]
            if committed_at - created_at >= dt.timedelta(hours=1):
                across += 1
                continue
            lags.setdefault(type_, []).append((committed_at - created_at).total_seconds() * 1000)
    every = [v for values in lags.values() for v in values]
    return {
        "window": [since.isoformat(), until.isoformat()],
        "messages": len(produced),
        "deliveries": len(every),
        "without_commit_time": missing,
        "across_clock_moves": across,
        "all": percentiles(every),
        "by_type": {t: percentiles(v) for t, v in sorted(lags.items())},
    }
