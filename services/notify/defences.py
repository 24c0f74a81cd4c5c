"""Defence notices (答辩通知): scheduled when the committee sets the defence, released on their day."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, select, update

from services.notify import service
from services.notify.models import DefenceNotice
from shared import clock
from shared.contracts.review import DefenceScheduled
from shared.uow import Database, UnitOfWork

BEIJING = dt.timezone(dt.timedelta(hours=8))


def beijing_today() -> dt.date:
    return clock.today()  # the system's clock: a notice's day comes when the test clock reaches it


def defence_time(at: str) -> str:
    local = dt.datetime.fromisoformat(at).astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}"


def schedule(uow: UnitOfWork, scheduled: DefenceScheduled, today: dt.date | None = None) -> None:
    """Plan the first notice and the reminder; a new schedule replaces the pending notices of an older one."""
    today = today or beijing_today()
    uow.session.execute(
        update(DefenceNotice)
        .where(DefenceNotice.declaration_id == scheduled.declaration_id, DefenceNotice.status == "pending")
        .values(status="cancelled")
    )
    notices = [
        DefenceNotice(
            id=str(uuid.uuid4()),
            declaration_id=scheduled.declaration_id,
            applicant=scheduled.applicant,
            notice=notice,
            due_on=due,
            defence_at=scheduled.at,
            place=scheduled.place,
            status="pending",
        )
        for notice, due in (("first", scheduled.first_notice_on), ("reminder", scheduled.reminder_on))
    ]
    uow.session.add_all(notices)
    uow.session.flush()
    due = [n for n in notices if n.due_on <= today]
    if due:
        # Both due already (a late schedule): one notice, the most precise one, says it all.
        _send(uow, due[-1])
        for notice in due[:-1]:
            notice.status = "sent"


def _send(uow: UnitOfWork, notice: DefenceNotice) -> None:
    message = service.deliver(
        uow,
        notice.applicant,
        "defence_notice",
        {
            "declaration_id": notice.declaration_id,
            "defence_time": defence_time(notice.defence_at),
            "place": notice.place,
        },
        template="defence_reminder" if notice.notice == "reminder" else "defence_notice",
    )
    notice.status, notice.message_id = "sent", message.id


def release_due(db: Database, today: dt.date | None = None) -> int:
    """Send the notices whose day has come; each one once, even with several dispatchers."""
    today = today or beijing_today()
    with db.uow(readonly=True) as uow:
        due = list(
            uow.session.scalars(
                select(DefenceNotice.id)
                .where(DefenceNotice.status == "pending", DefenceNotice.due_on <= today)
                .order_by(DefenceNotice.due_on)
            )
        )
    sent = 0
    for notice_id in due:
        with db.uow() as uow:
            # Claim and send in one transaction: the update decides who sends it.
            claimed = cast(
                CursorResult[Any],
                uow.session.execute(
                    update(DefenceNotice)
                    .where(DefenceNotice.id == notice_id, DefenceNotice.status == "pending")
                    .values(status="sending")
                ),
            ).rowcount
            if claimed != 1:
                continue
            notice = uow.session.get_one(DefenceNotice, notice_id)
            _send(uow, notice)
            uow.commit()
            sent += 1
    return sent
