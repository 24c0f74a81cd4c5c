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

Such a stretch (a span) holds a share of the calendar. A meeting or a defence is a *day* span: every move
waits until none is open. Declaring is a *year* span: only a move that may take the test clock into
another year waits for it. A span opens only when no move it would wait for is pending, so moves are not
starved.

Moves are shared: a client that asks for N days needs the clock N days past where it was when it asked
(past where a move already sent when it asked leaves it: that move may have landed before the client's last
step), and one move serves every client waiting at the time (the calendar knows the clock's offset from real time
from each move's answer, ``to``). Before the first answer, and after a move that failed, a move is the
client's own and is taken to cross a year. The test clock is real time plus whole days,
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
BEIJING = dt.timezone(dt.timedelta(hours=8))
ADVANCE = "/api/v1/clock/advance"


class Calendar:
    def __init__(self) -> None:
        self.changed = threading.Condition()
        self.day_spans = 0  # meetings and defences: no move at all
        self.year_spans = 0  # declaring: no move into another year
        self.moves = 0  # pending or running
        self.crossing = 0  # of them, those that may reach another year
        self.offset: int | None = None  # the test clock's lead on real time (seconds) after the moves so far
        self.wanted: list[int] = []  # the offsets waiting clients need
        self.moving = False  # a client is moving the clock for everyone waiting
        self.sending = False  # its request is on its way: the server may have moved the clock already

    def open_span(self, kind: str = "day") -> None:
        now = dt.datetime.now(BEIJING)
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), now.tzinfo)
        if (midnight - now).total_seconds() < MIDNIGHT_MARGIN:
            time.sleep((midnight - now).total_seconds() + 1)
        with self.changed:
            if kind == "year":
                self.changed.wait_for(lambda: self.crossing == 0)
                self.year_spans += 1
            else:
                self.changed.wait_for(lambda: self.moves == 0)
                self.day_spans += 1

    def close_span(self, kind: str = "day") -> None:
        with self.changed:
            if kind == "year":
                self.year_spans -= 1
            else:
                self.day_spans -= 1
            self.changed.notify_all()

    def crosses_a_year(self, seconds: int) -> bool:
        """Whether moving ``seconds`` from the known offset may take the test clock's Beijing date into
        another year (a day's margin either side: the clock also runs on by itself)."""
        if self.offset is None:
            return True
        before = dt.datetime.now(BEIJING) + dt.timedelta(seconds=self.offset)
        return (before - dt.timedelta(days=1)).year != (before + dt.timedelta(seconds=seconds, days=1)).year

    def advance(self, seconds: int, send: Callable[[int], Any]) -> Any:
        """The clock at least ``seconds`` past where it is now: ``send(seconds)`` moves it (the request)
        and answers with ``to``; a move another client makes meanwhile may serve this one too."""
        with self.changed:
            if self.sending:
                # The move sent may have landed on the server before this client's last step (the publicity
                # it started, say): the clock it must pass is the one after that move, known once the move
                # answers. (Counted from the offset before it, that move would seem to serve it.) A move still
                # waiting for the spans has not landed: the client goes along with it.
                self.changed.wait_for(lambda: not self.sending)
            if self.offset is None:
                return self._move(seconds, send, own=True)
            target = self.offset + seconds
            self.wanted.append(target)
            try:
                answer: Any = None
                while self.offset is None or self.offset < target:
                    if self.offset is None:  # a move failed half way: this client moves on its own
                        return self._move(seconds, send, own=True)
                    if self.moving:
                        self.changed.wait()
                        continue
                    answer = self._move(max(self.wanted) - self.offset, send, own=False)
                return answer if answer is not None else {"to": None, "shared": True}
            finally:
                self.wanted.remove(target)

    def _move(self, seconds: int, send: Callable[[int], Any], own: bool) -> Any:
        """One move, the calendar's lock held except around the request itself."""
        crossing = self.crosses_a_year(seconds)
        self.moves += 1
        self.crossing += crossing
        self.moving = True
        try:
            self.changed.wait_for(lambda: self.day_spans == 0 and (not crossing or self.year_spans == 0))
            if not own:  # clients that came while it waited for the spans go along
                seconds = max(self.wanted) - (self.offset or 0)
                if not crossing and self.crosses_a_year(seconds):
                    self.crossing += 1
                    crossing = True
                    self.changed.wait_for(lambda: self.day_spans == 0 and self.year_spans == 0)
            self.sending = True
            self.changed.release()
            try:
                answer = send(seconds)
            finally:
                self.changed.acquire()
                self.sending = False
            to = answer.get("to") if isinstance(answer, dict) else None
            lead = round((dt.datetime.fromisoformat(to) - dt.datetime.now(dt.UTC)).total_seconds()) if to else None
            self.offset = None if lead is None else max(lead, self.offset or lead)
            return answer
        except BaseException:
            self.offset = None  # it may have moved: the next move is a client's own
            raise
        finally:
            self.moves -= 1
            self.crossing -= crossing
            self.moving = False
            self.changed.notify_all()


CALENDAR = Calendar()


class Turns:
    """One client's share of the calendar, wrapped around its ``call(user, method, service, path, ...)``:
    clock moves wait for the spans; a meeting's span opens at the attendance and closes at the tally, a
    declaring span (``declaring()``) closes at the submission's answer, a defence is a span of its own."""

    def __init__(self, call: Callable[..., Any], calendar: Calendar = CALENDAR):
        self.inner, self.calendar = call, calendar
        self.in_span: str | None = None  # the kind of the span this client holds

    def enter(self, kind: str = "day") -> None:
        if self.in_span is None:
            self.calendar.open_span(kind)
            self.in_span = kind

    def leave(self) -> None:
        if self.in_span is not None:
            kind, self.in_span = self.in_span, None
            self.calendar.close_span(kind)

    @contextlib.contextmanager
    def declaring(self) -> Iterator[None]:
        """Around a lifecycle: declaring until the submission; a lifecycle that fails in a span frees it."""
        self.enter("year")
        try:
            yield
        finally:
            self.leave()

    def __call__(self, user: str, method: str, service: str, path: str, *args: Any, **kwargs: Any) -> Any:
        if service == "review" and path == ADVANCE:
            body = kwargs.pop("json", None) or {}
            seconds = body.get("days", 0) * 86400 + body.get("seconds", 0)
            return self.calendar.advance(
                seconds,
                lambda amount: self.inner(user, method, service, path, *args, json={"seconds": amount}, **kwargs),
            )
        own_span = service == "review" and method == "POST" and path.endswith("/defence") and self.in_span is None
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
