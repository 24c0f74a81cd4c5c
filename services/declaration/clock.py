"""Time as the declaration rules see it: deadlines are instants, days are Beijing days."""
from __future__ import annotations

import datetime as dt

BEIJING = dt.timezone(dt.timedelta(hours=8))


def now() -> dt.datetime:
    """The current instant (UTC); tests replace it to stand exactly on a deadline."""
    return dt.datetime.now(dt.timezone.utc)


def today() -> dt.date:
    return now().astimezone(BEIJING).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """A deadline given as a date closes at 23:59:59 Beijing time that day (inclusive)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), BEIJING).astimezone(dt.timezone.utc)


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), BEIJING).astimezone(dt.timezone.utc)


def beijing(at: dt.datetime) -> str:
    return at.astimezone(BEIJING).isoformat()
