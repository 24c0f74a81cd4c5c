"""The review's side of the system's one clock (shared/clock.py): moving the test clock, which only
the title office may do, with every move audited in ``clock_moves`` and logged.

``now``, ``today`` and ``advance`` keep their old signatures (a unit of work first) as thin
wrappers, so code written against the review's own clock keeps working; new code reads
``shared.clock`` directly.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import func, select

from services.review.models import ClockMove
from shared import clock as system_clock
from shared.clock import BEIJING  # noqa: F401 - used through this module
from shared.errors import Forbidden
from shared.identity.principal import TITLE_OFFICE, Principal
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
MOVES_SHOWN = 100


def test_clock_enabled() -> bool:
    return system_clock.enabled()


def now(uow: UnitOfWork | None = None) -> dt.datetime:
    return system_clock.now()


def today(uow: UnitOfWork | None = None) -> dt.date:
    """Today in Beijing, on the system's clock."""
    return system_clock.today()


def advance(uow: UnitOfWork, days: int = 0, seconds: int = 0, by: str = "system") -> dt.datetime:
    """Move the test clock forward, audited as ``by``; commits ``uow`` (the audit row)."""
    return _move(uow, by, days * 86400 + seconds).to_at


def move(uow: UnitOfWork, principal: Principal, days: int, seconds: int) -> ClockMove:
    """The title office moves the test clock forward for every service: ``days`` and ``seconds``
    together, 1 second .. 366 days a move. Commits ``uow`` under the clock's lock (the audit row
    is written before the clock moves)."""
    system_clock.require_enabled()
    if not principal.has_role(TITLE_OFFICE):
        raise Forbidden.on(
            "role", "title_office_only", "only the title office moves the test clock (仅职称办可拨动测试时钟)"
        )
    for field, value in (("days", days), ("seconds", seconds)):
        if value < 0:
            system_clock.check_move(value, field)
    total = days * 86400 + seconds
    field = "days" if days and not seconds else "seconds"
    system_clock.check_move(total, field)
    return _move(uow, principal.subject, total, field)


def _move(uow: UnitOfWork, by: str, seconds: int, field: str = "seconds") -> ClockMove:
    audited: list[ClockMove] = []

    def record(step: system_clock.Move) -> None:
        row = ClockMove(moved_by=by, moved_at=step.real_at, from_at=step.before, to_at=step.after, seconds=step.seconds)
        uow.session.add(row)
        uow.commit()
        audited.append(row)

    step = system_clock.advance(seconds, record, field)
    log.warning(
        "test clock moved forward by %d s: %s -> %s (Beijing today %s)",
        step.seconds,
        step.before.isoformat(),
        step.after.isoformat(),
        step.after.astimezone(BEIJING).date(),
        extra={
            "moved_by": by,
            "clock_from": step.before.isoformat(),
            "clock_to": step.after.isoformat(),
            "seconds": step.seconds,
            "offset_seconds": step.offset_seconds,
        },
    )
    return audited[0]


def state(uow: UnitOfWork, principal: Principal) -> dict[str, Any]:
    """What the clock says now; the title office also sees the moves, newest first."""
    current = system_clock.now()
    out: dict[str, Any] = {
        "now": current,
        "today": current.astimezone(BEIJING).date(),
        "test_clock": system_clock.enabled(),
        "offset_seconds": system_clock.offset_seconds(),
        "real_now": system_clock.real_now(),
    }
    if principal.has_role(TITLE_OFFICE):
        out["moves"] = list(uow.session.scalars(select(ClockMove).order_by(ClockMove.id.desc()).limit(MOVES_SHOWN)))
        out["moves_total"] = uow.session.scalar(select(func.count(ClockMove.id)))
    return out
