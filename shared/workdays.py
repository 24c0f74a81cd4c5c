"""The working-day calendar: Chinese public holidays and adjusted working days (调休).

Every period and deadline of the regulation (publicity of at least 5 working
days, service levels) runs on this calendar. The maintained package
``chinese-calendar`` knows the years up to its release; a year it does not
know yet (announced each November or December) or a correction goes into
``shared/data/workdays.json`` (or the file named by ``TITLES_WORKDAYS_FILE``),
which takes precedence for the years it lists. Asking about a year nobody
knows is an error, never a guess.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from importlib import resources
from pathlib import Path

import chinese_calendar

from shared import config


class UnknownYear(LookupError):
    """Neither the package nor the override file describes this year."""


@functools.lru_cache(maxsize=4)
def _overrides(path: str | None) -> dict[int, tuple[frozenset[dt.date], frozenset[dt.date]]]:
    raw = (
        Path(path).read_text("utf-8")
        if path
        else resources.files("shared.data").joinpath("workdays.json").read_text("utf-8")
    )
    years = {}
    for year, spec in json.loads(raw).get("years", {}).items():
        holidays = frozenset(dt.date.fromisoformat(d) for d in spec.get("holidays", []))
        workdays = frozenset(dt.date.fromisoformat(d) for d in spec.get("workdays", []))
        years[int(year)] = (holidays, workdays)
    return years


# Fixed-date public holidays, the only ones a provisional year can know in advance.
_FIXED_HOLIDAYS = ((1, 1), (5, 1), (10, 1), (10, 2), (10, 3))


def provisional() -> bool:
    return config.settings().workdays_provisional


def is_workday(day: dt.date) -> bool:
    override = _overrides(config.settings().workdays_file).get(day.year)
    if override is not None:
        holidays, workdays = override
        if day in workdays:
            return True
        return day.weekday() < 5 and day not in holidays
    known = _in_package(day)
    if known is not None:
        return known
    if provisional():
        return day.weekday() < 5 and (day.month, day.day) not in _FIXED_HOLIDAYS
    raise UnknownYear(
        f"the working-day calendar has no data for {day.year}; add it to shared/data/workdays.json (节假日安排)"
    )


@functools.lru_cache(maxsize=4096)
def _in_package(day: dt.date) -> bool | None:
    """The package's answer, kept, None for a year it does not know: its data is fixed for the process,
    and deadlines count day by day (each call checked its argument anew, and an unknown year raised and
    was asked again for every day of a period that reached into it)."""
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:
        return None


def add_workdays(start: dt.date, count: int) -> dt.date:
    """The ``count``-th working day counted from ``start`` inclusive (count >= 1).

    Five working days from Wednesday 2026-09-30 end on 2026-10-12.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    day = start
    seen = 0
    while True:
        if is_workday(day):
            seen += 1
            if seen == count:
                return day
        day += dt.timedelta(days=1)


def workdays_between(start: dt.date, end: dt.date) -> int:
    """Working days in [start, end], both inclusive."""
    count = 0
    day = start
    while day <= end:
        count += is_workday(day)
        day += dt.timedelta(days=1)
    return count
