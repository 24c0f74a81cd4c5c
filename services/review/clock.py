"""The review's clock: the date that publicity periods and modification deadlines
are judged by, in Beijing time.

A publicity lasts at least five working days, which no demonstration or test
can wait for. The *test clock* moves this clock forward by an offset kept in
the review database (so every review process sees the same time). It is on
only when ``TITLES_TEST_CLOCK=1``, or when that variable is unset and the
system runs on the embedded default (``make run``); production with RabbitMQ
never has it unless someone sets the variable on purpose.
"""
from __future__ import annotations

import datetime as dt
import os

from services.review.models import ClockOffset
from shared import config
from shared.db import utcnow
from shared.uow import UnitOfWork

BEIJING = dt.timezone(dt.timedelta(hours=8))


def test_clock_enabled() -> bool:
    value = os.environ.get("TITLES_TEST_CLOCK")
    if value is not None:
        return value == "1"
    return config.broker_url().startswith("embedded://")


def offset(uow: UnitOfWork) -> dt.timedelta:
    if not test_clock_enabled():
        return dt.timedelta()
    row = uow.session.get(ClockOffset, 1)
    return dt.timedelta(seconds=row.offset_seconds if row else 0)


def now(uow: UnitOfWork) -> dt.datetime:
    return utcnow() + offset(uow)


def today(uow: UnitOfWork) -> dt.date:
    """Today in Beijing, on the review's clock."""
    return now(uow).astimezone(BEIJING).date()


def advance(uow: UnitOfWork, days: int = 0, seconds: int = 0) -> dt.datetime:
    """Move the test clock forward (never back: periods already judged stay judged)."""
    row = uow.session.get(ClockOffset, 1, with_for_update=True)
    if row is None:
        row = ClockOffset(id=1, offset_seconds=0)
        uow.session.add(row)
    row.offset_seconds = (row.offset_seconds or 0) + days * 86400 + seconds
    uow.session.flush()
    return now(uow)
