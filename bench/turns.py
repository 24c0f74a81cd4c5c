"""Concurrent lifecycles on review's one test clock: the turns they take (``make bench``, ``make test-scale``).

The test clock is one for all clients, and each lifecycle moves it on by days (both publicities are
fast-forwarded). Some stretches of a lifecycle must not see it jump:

- declaring, from the profile to the submission: the applicant records the last three years'
  assessments and education by today's year, and the submission checks them by its own today (a move
  into another year between the two refuses the declaration);
- a meeting, from the attendance to the tally: voting closes at the end of the meeting day (a move in
  between closes it, 409 办理时限已截止, and the declaration fails);
- scheduling a defence: the client reads today and asks for a date ten days on (a move in between
  would put that date in the past).

Such a stretch (a span) holds a share of the calendar; a clock move waits until no span is open, and no
span opens while a move waits, so moves are not starved. The test clock is real time plus whole days,
so its day also turns at midnight in Beijing (16:00 UTC): no span opens in the last minutes before it.
Requests that run review's engine do not take turns: a move landing mid-step is what the engine must
bear (docs/engine.md E16).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

# A span lasts seconds, a minute under heavy load: none starts this close to the test clock's day's end.
MIDNIGHT_MARGIN = 180.0
ADVANCE = "/api/v1/clock/advance"


class Calendar:
    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.spans = 0
        self.moves = 0

    def open_span(self) -> None:
        now = dt.datetime.now(dt.timezone(dt.timedelta(hours=8)))
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
        if (midnight - now).total_seconds() < MIDNIGHT_MARGIN:
            time.sleep((midnight - now).total_seconds() + 1)
        with self.changed:
            self.changed.wait_for(lambda: self.moves == 0)
            self.spans += 1

    def close_span(self) -> None:
        with self.changed:
            self.spans -= 1
            self.changed.notify_all()

    @contextlib.contextmanager
    def move(self) -> Iterator[None]:
        with self.changed:
            self.moves += 1
            self.changed.wait_for(lambda: self.spans == 0)
        try:
            yield
        finally:
            with self.changed:
                self.moves -= 1
                self.changed.notify_all()


CALENDAR = Calendar()


class Turns:
    """One client's share of the calendar, wrapped around its ``call(user, method, service, path, ...)``:
    clock moves wait for the spans; a meeting's span opens at the attendance and closes at the tally, a
    declaring span (``declaring()``) closes at the submission's answer, a defence is a span of its own."""

    def __init__(self, call: Callable[..., Any], calendar: Calendar = CALENDAR):
        self.inner, self.calendar = call, calendar
        self.in_span = False

    def enter(self) -> None:
        if not self.in_span:
            self.calendar.open_span()
            self.in_span = True

    def leave(self) -> None:
        if self.in_span:
            self.in_span = False
            self.calendar.close_span()

    @contextlib.contextmanager
    def declaring(self) -> Iterator[None]:
        """Around a lifecycle: declaring until the submission; a lifecycle that fails in a span frees it."""
        self.enter()
        try:
            yield
        finally:
            self.leave()

    def __call__(self, user: str, method: str, service: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if service == "review" and path == ADVANCE:
            with self.calendar.move():
                return self.inner(user, method, service, path, *args, **kwargs)
        own_span = service == "review" and method == "POST" and path.endswith("/defence") and not self.in_span
        if (service == "review" and method == "POST" and path.endswith("/panel/attendance")) or own_span:
            self.enter()
        try:
            answer = self.inner(user, method, service, path, *args, **kwargs)
        finally:
            if own_span:
                self.leave()
        if (service, method) == ("declaration", "POST") and path.endswith("/submit"):
            # Submitted, or refused by today's rules: decided, unless an attachment was not known yet
            # (the scenario submits again).
            errors = (answer.get("errors") if isinstance(answer, dict) else None) or [{"rule": None}]
            status = answer.get("status") if isinstance(answer, dict) else None
            if status == "submitted" or any(e.get("rule") != "known_attachment" for e in errors):
                self.leave()
        elif service == "review" and path.endswith("/tally"):
            self.leave()
        return answer
