"""Service operations that diagrams call (service tasks), run in-process.

Each takes the unit of work and the instance's declaration id, plus the
task's parameters, and returns JSON-serialisable data for the task. The
engine knows their names (engine/contract.py) and is given them through its
ports (services/review/bootstrap.py); it never imports this module.
"""

from __future__ import annotations

import datetime as dt
import random
import secrets
from typing import Any

from sqlalchemy import select

from services.review import panels, publicity, sla
from services.review.engine.ports import Operation
from services.review.models import Expert, ExpertConflict, Organisation, PanelDraw
from shared import clock
from shared.uow import UnitOfWork


def draw_panel(
    uow: UnitOfWork, declaration_id: str, committee: str, size: int, id_number: str | None = None
) -> dict[str, Any]:
    """Draw a panel at random from the committee's pool, leaving out experts who declared a
    conflict with the applicant (回避), and record the draw with its seed. Returns whether it drew
    (``drawn``), the ``panel``, and how many experts were ``eligible`` for a panel of ``size``: a pool
    too small draws and records nothing, and the diagram sends the committee office to enlarge it."""
    conflicted = (
        set(
            uow.session.scalars(
                select(ExpertConflict.expert).where(
                    ExpertConflict.id_number == id_number, ExpertConflict.withdrawn_at.is_(None)
                )
            )
        )
        if id_number
        else set()
    )
    pool = sorted(
        s
        for s in uow.session.scalars(select(Expert.subject).where(Expert.committee_code == committee))
        if s not in conflicted
    )
    if len(pool) < size:
        return {"drawn": False, "panel": [], "eligible": len(pool), "size": size}
    seed = secrets.token_hex(16)
    # The recorded seed and the sorted eligible pool reproduce the draw exactly.
    panel = random.Random(seed).sample(pool, size)
    uow.session.add(
        PanelDraw(declaration_id=declaration_id, committee_code=committee, seed=seed, pool=pool, panel=panel)
    )
    return {"drawn": True, "panel": panel, "eligible": len(pool), "size": size}


def own_staff(uow: UnitOfWork, declaration_id: str, committee: str | None, unit: str | None) -> bool:
    """Independent review: whether the applicant's unit is the organisation the committee belongs to, or
    lies below it in the directory (本单位人员). True when the directory does not say whose committee it
    is: the declaration service checked the activity's organisation when the declaration was created."""
    found = uow.session.get(Organisation, committee) if committee else None
    if found is None or found.parent_code is None:
        return True
    code, seen = unit, set()
    while code is not None and code not in seen:
        if code == found.parent_code:
            return True
        seen.add(code)
        org = uow.session.get(Organisation, code)
        code = org.parent_code if org else None
    return False


def before_deadline(uow: UnitOfWork, declaration_id: str, deadline: str | None) -> bool:
    """Whether the applicant may still resubmit: the system's clock is not past the deadline day's
    end (23:59:59 Beijing), when the declaration service starts refusing and the timer fires."""
    if not deadline:
        return True
    return clock.now() <= clock.end_of_day(dt.date.fromisoformat(deadline))


def tally_votes(uow: UnitOfWork, declaration_id: str) -> dict[str, int]:
    """Count the secret votes of the experts present at the last recorded meeting (panels.tally_votes)."""
    return panels.tally_votes(uow, declaration_id)


def open_publicity(
    uow: UnitOfWork,
    declaration_id: str,
    kind: str,
    organisation: str,
    starts_on: str,
    working_days: int,
    evidence: str | None = None,
    started_by: str | None = None,
) -> dict[str, Any]:
    """Record a publicity period and compute when it is over (publicity.open_period)."""
    return publicity.open_period(uow, declaration_id, kind, organisation, starts_on, working_days, evidence, started_by)


def publicity_objections(uow: UnitOfWork, declaration_id: str, publicity_id: int) -> dict[str, int]:
    """Once a publicity is over: its open and upheld objections (publicity.objections_of)."""
    return publicity.objections_of(uow, declaration_id, publicity_id)


def flag_overdue(
    uow: UnitOfWork, declaration_id: str, stage: str | None = None, element: str | None = None
) -> list[str]:
    """A task's service level passed: flag the tasks of that ``stage`` to their organisation and the level
    above (sla.flag_overdue). Diagrams drawn before tasks were found by stage call the parameter
    ``element``; its value was the stage then too."""
    return sla.flag_overdue(uow, declaration_id, stage or element or "")


OPERATIONS: dict[str, Operation] = {
    "review.draw_panel": draw_panel,
    "review.own_staff": own_staff,
    "review.before_deadline": before_deadline,
    "review.tally_votes": tally_votes,
    "review.open_publicity": open_publicity,
    "review.publicity_objections": publicity_objections,
    "review.flag_overdue": flag_overdue,
}
