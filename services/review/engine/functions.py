"""Functions the diagrams' expressions may call besides their data: due times on the system's clock
and the working-day calendar, as ISO 8601 instants a timer's ``timeDate`` takes.

A boundary timer's expression is evaluated as its task opens, before the task's own scripts run
(docs/engine.md E2), so a service level's due time is computed here, at that moment, from the process
data (``service_levels``) rather than in a script of the task.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from shared import clock, workdays

log = logging.getLogger(__name__)


def end_of_day(day: str | None) -> str | None:
    """When a deadline given as a date (``2026-11-30``) closes: 23:59:59 Beijing time that day, the
    instant the declaration service starts refusing (a timer at it fires just after). No date, no
    deadline: None, which a timer takes as "never" (an appointment has no modification deadline)."""
    if not day:
        return None
    return clock.end_of_day(dt.date.fromisoformat(str(day)[:10])).isoformat()


def working_days_due(days: int) -> str:
    """A service level's due time: the end of the ``days``-th working day after today (Beijing).

    A year the calendar does not know yet counts its weekdays as working days, with a warning:
    a reminder a day off is better than a task that cannot open."""
    day = clock.today() + dt.timedelta(days=1)
    try:
        last = workdays.add_workdays(day, int(days))
    except workdays.UnknownYear:
        log.warning("no working-day calendar for a service level; weekdays counted", extra={"day": str(day)})
        last = _weekdays_after(day, int(days))
    return clock.end_of_day(last).isoformat()


def days_after_today(days: int) -> str:
    """The Beijing date ``days`` calendar days after today (``end_of_day`` of it closes a period counted
    in calendar days, such as the re-examination period)."""
    return (clock.today() + dt.timedelta(days=int(days))).isoformat()


def _weekdays_after(day: dt.date, count: int) -> dt.date:
    seen = 0
    while True:
        if day.weekday() < 5:
            seen += 1
            if seen == count:
                return day
        day += dt.timedelta(days=1)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "end_of_day": end_of_day,
    "working_days_due": working_days_due,
    "days_after_today": days_after_today,
}
