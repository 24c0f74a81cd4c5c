"""Time as the declaration rules see it: the system's one clock (shared/clock.py). Deadlines are
instants, days are Beijing days."""

from __future__ import annotations

import datetime as dt

from shared import clock as system_clock
from shared.clock import BEIJING, end_of_day, start_of_day  # noqa: F401 - used through this module

# A thin wrapper for now: the declaration's modules call clock.now() here, so a test may still
# replace it to stand exactly on a deadline.


def now() -> dt.datetime:
    """The current instant (UTC) on the system's clock: the test clock's moves count here too."""
    return system_clock.now()


def today() -> dt.date:
    return now().astimezone(BEIJING).date()


def beijing(at: dt.datetime) -> str:
    return at.astimezone(BEIJING).isoformat()
