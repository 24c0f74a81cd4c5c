"""The panel's meeting (attendance, votes) belongs to the defence scheduled for the declaration: it is
held after it, on its day. Read by the panels (attendance) and by the task service (a vote)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select

from services.review import clock
from services.review.models import Defence
from shared.errors import Conflict
from shared.uow import UnitOfWork


def _scheduled(uow: UnitOfWork, declaration_id: str) -> Defence | None:
    """The declaration's defence as last scheduled."""
    return uow.session.scalar(_LAST_SCHEDULED, {"declaration_id": declaration_id})


# Built once: every attendance, vote and meeting day asks for it.
_LAST_SCHEDULED = (
    select(Defence).where(Defence.declaration_id == bindparam("declaration_id")).order_by(Defence.id.desc()).limit(1)
)


def after_defence(uow: UnitOfWork, declaration_id: str, what: str) -> None:
    """The meeting (attendance, votes) belongs to the defence scheduled for the declaration: not before it."""
    defence = _scheduled(uow, declaration_id)
    if defence is not None and clock.now(uow) < defence.at:
        raise Conflict.on(
            "declaration_id",
            "after_defence",
            f"the {what} is recorded at the meeting after the defence, which is scheduled for "
            f"{defence.at.astimezone(clock.BEIJING).isoformat()} (评审会议须在答辩之后)",
        )


def meeting_day(uow: UnitOfWork, declaration_id: str) -> dt.date:
    """The day of the meeting the attendance is recorded at, at whose end the diagram closes the vote:
    the scheduled defence's day (Beijing), or today when there is none or it was earlier."""
    defence = _scheduled(uow, declaration_id)
    today = clock.today(uow)
    return max(today, defence.at.astimezone(clock.BEIJING).date()) if defence is not None else today
