"""Expert panels: conflicts and recusal (回避), defence scheduling (答辩), meeting
attendance, secret votes and the tally.

The draw itself is the diagram's service task (``review.draw_panel``), and so is the
tally (``review.tally_votes``, counted here); what people do around them is recorded
here and completes the diagram's tasks through ``service.complete`` under the
instance lock.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from sqlalchemy import bindparam, select

from services.review import clock, service
from services.review.engine import state
from services.review.meetings import after_defence, meeting_day
from services.review.models import Attendance, Defence, ExpertConflict, Instance, PanelDraw, Recusal, Task, Vote
from shared.contracts.review import DefenceScheduled
from shared.db import utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identifiers import RESIDENT_ID_TYPES, is_valid_resident_id, mask_id_number
from shared.identity.principal import Principal
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)
DEFENCE_NOTICE_DAYS = 7  # the first defence notice goes out about a week ahead of the defence


# Built once: every publicity, defence, attendance and vote finds its task with it.
_OPEN_TASK = (
    select(Task)
    .where(
        Task.declaration_id == bindparam("declaration_id"),
        Task.action == bindparam("action"),
        Task.status.in_(("ready", "claimed")),
        Task.role == bindparam("role"),
        Task.organisation == bindparam("organisation"),
    )
    .order_by(Task.created_at)
    .limit(1)
)


def open_task(uow: UnitOfWork, principal: Principal, declaration_id: str, action: str) -> Task:
    """The declaration's open task of the caller's queue that this action completes (its diagram's
    ``action`` property, whatever the task's element id)."""
    found = uow.session.scalar(
        _OPEN_TASK,
        {
            "declaration_id": declaration_id,
            "action": action,
            "role": principal.role,
            "organisation": principal.organisation,
        },
    )
    if found is None:
        raise Conflict.on(
            "declaration_id",
            "stage",
            f"the declaration has no open task for you that {action} completes (当前环节不符)",
        )
    return found


def latest_draw(uow: UnitOfWork, declaration_id: str) -> PanelDraw | None:
    return uow.session.scalar(
        select(PanelDraw).where(PanelDraw.declaration_id == declaration_id).order_by(PanelDraw.id.desc()).limit(1)
    )


def recused(uow: UnitOfWork, declaration_id: str, id_number: str, experts: list[str]) -> set[str]:
    """Who of ``experts`` is out for this declaration: a standing conflict with the applicant, or a
    recusal from this declaration."""
    if not experts:
        return set()
    conflicted = set(
        uow.session.scalars(
            select(ExpertConflict.expert).where(
                ExpertConflict.id_number == id_number,
                ExpertConflict.expert.in_(experts),
                ExpertConflict.withdrawn_at.is_(None),
            )
        )
    )
    return conflicted | set(
        uow.session.scalars(
            select(Recusal.expert).where(Recusal.declaration_id == declaration_id, Recusal.expert.in_(experts))
        )
    )


def declare_conflict(
    uow: UnitOfWork, principal: Principal, id_number: str, reason: str | None, id_type: str = "resident_id"
) -> ExpertConflict:
    """An expert declares a conflict with an applicant before any draw: later draws leave them out. A
    resident ID number must pass its check (GB 11643): a typo would record a conflict that never
    matches, and the expert would be drawn after all."""
    id_number = id_number.strip().upper()
    if id_type in RESIDENT_ID_TYPES and not is_valid_resident_id(id_number):
        raise DomainError.on(
            "id_number",
            "gb11643",
            "not a valid resident ID number: 18 characters whose last is the GB 11643 check "
            "character (身份证号码校验不通过); for a passport or another document give id_type",
        )
    found = uow.session.get(ExpertConflict, (principal.subject, id_number), with_for_update=True)
    if found is None:
        found = ExpertConflict(expert=principal.subject, id_number=id_number, reason=reason, declared_at=utcnow())
        uow.session.add(found)
    elif found.withdrawn_at is not None:  # declared again after a withdrawal
        found.reason, found.declared_at = reason, utcnow()
        found.withdrawn_at = found.withdrawn_by = found.withdraw_reason = None
    uow.session.flush()
    log.info("conflict declared", extra={"expert": principal.subject, "id_number": mask_id_number(id_number)})
    return found


def withdraw_conflict(uow: UnitOfWork, principal: Principal, id_number: str, reason: str) -> ExpertConflict:
    """Withdraw one's own declared conflict (kept with who, when and why): later draws may pick the
    expert again. Draws already made are not changed."""
    found = uow.session.get(ExpertConflict, (principal.subject, id_number.strip().upper()), with_for_update=True)
    if found is None:
        raise NotFound.on("id_number", "declared", "you declared no conflict with this ID number (未申报该回避)")
    if found.withdrawn_at is not None:
        raise Conflict.on("id_number", "not_withdrawn", "the conflict is already withdrawn (已撤回)")
    found.withdrawn_at, found.withdrawn_by, found.withdraw_reason = utcnow(), principal.subject, reason
    log.warning(
        "conflict withdrawn",
        extra={"expert": principal.subject, "id_number": mask_id_number(found.id_number), "reason": reason},
    )
    return found


def conflicts_of(uow: UnitOfWork, principal: Principal) -> list[ExpertConflict]:
    return list(
        uow.session.scalars(
            select(ExpertConflict)
            .where(ExpertConflict.expert == principal.subject)
            .order_by(ExpertConflict.declared_at)
        )
    )


def recuse(uow: UnitOfWork, principal: Principal, declaration_id: str, reason: str | None) -> Recusal:
    """An expert on a declaration's panel recuses from it before the meeting: not counted for it."""
    draw = latest_draw(uow, declaration_id)
    if draw is None or principal.subject not in draw.panel:
        raise Forbidden.on("declaration_id", "on_panel", "you are not on this declaration's panel")
    if uow.session.scalar(
        select(Attendance.id).where(Attendance.declaration_id == declaration_id, Attendance.quorate.is_(True))
    ):
        raise Conflict.on("declaration_id", "before_meeting", "recusal is declared before the meeting (会前回避)")
    found = uow.session.get(Recusal, (principal.subject, declaration_id))
    if found is None:
        found = Recusal(expert=principal.subject, declaration_id=declaration_id, reason=reason, recused_at=utcnow())
        uow.session.add(found)
        uow.session.flush()
    return found


def _id_number(uow: UnitOfWork, instance: Instance | None) -> str:
    if instance is None:
        raise NotFound.on("declaration_id", "exists", "no review process for the declaration")
    return str(state.process_data(uow, instance, "id_number") or "")


def record_attendance(uow: UnitOfWork, principal: Principal, declaration_id: str, present: list[str]) -> Task:
    found = open_task(uow, principal, declaration_id, "attendance")
    after_defence(uow, declaration_id, "attendance")

    def before(task: Task, data: dict[str, Any]) -> dict[str, Any]:
        draw = latest_draw(uow, declaration_id)
        panel = list(draw.panel) if draw is not None else []
        out = recused(uow, declaration_id, str(data.get("id_number") or ""), panel)
        members = [e for e in panel if e not in out]
        strangers = sorted(set(present) - set(members))
        if strangers:
            raise DomainError.on(
                "present",
                "panel_member",
                f"not on the panel (or recused): {', '.join(strangers)} (非本评审组专家或已回避)",
            )
        attended = [e for e in members if e in set(present)]
        quorum = data.get("quorum")
        if quorum is None:
            raise Conflict.on(
                "present",
                "quorum_decided",
                "the process has not decided the quorum: a business-rule task on bpmn/quorum.dmn comes "
                "before the attendance (出席人数要求未确定)",
            )
        quorate = len(attended) * quorum[1] >= len(members) * quorum[0]
        uow.session.add(
            Attendance(
                declaration_id=declaration_id,
                members=members,
                present=attended,
                quorate=quorate,
                recorded_by=principal.subject,
            )
        )
        return {"present": attended, "members": members, "meeting_on": meeting_day(uow, declaration_id).isoformat()}

    return service.complete(uow, principal, found.id, "approve", None, action="attendance", before=before)


def schedule_defence(uow: UnitOfWork, principal: Principal, declaration_id: str, at: dt.datetime, place: str) -> Task:
    found = open_task(uow, principal, declaration_id, "defence")
    if at.tzinfo is None:
        raise DomainError.on("at", "timezone", "give the defence time with its offset, e.g. +08:00 (答辩时间)")
    earliest = clock.today(uow) + dt.timedelta(days=DEFENCE_NOTICE_DAYS)
    if at.astimezone(clock.BEIJING).date() < earliest:
        raise DomainError.on(
            "at",
            "week_ahead",
            f"the defence must be on {earliest} or later, so the first "
            f"notice reaches the applicant a week ahead (答辩通知提前一周)",
        )

    def before(task: Task, data: dict[str, Any]) -> dict[str, Any]:
        defence = Defence(declaration_id=declaration_id, at=at, place=place, scheduled_by=principal.subject)
        uow.session.add(defence)
        local = at.astimezone(clock.BEIJING)
        uow.publish(
            DefenceScheduled(
                declaration_id=declaration_id,
                applicant=data["applicant"],
                at=at.isoformat(),
                place=place,
                committee_code=data.get("committee_code"),
                first_notice_on=local.date() - dt.timedelta(days=DEFENCE_NOTICE_DAYS),
                reminder_on=local.date() - dt.timedelta(days=1),
                scheduled_at=utcnow().isoformat(),
            ),
            correlation_id=declaration_id,
        )
        return {"defence_at": at.isoformat(), "defence_place": place}

    return service.complete(uow, principal, found.id, "approve", None, action="defence", before=before)


def my_vote(uow: UnitOfWork, principal: Principal, declaration_id: str) -> Vote:
    found = uow.session.get(Vote, (declaration_id, principal.subject))
    if found is None:
        raise NotFound.on("declaration_id", "voted", "you have not voted on this declaration")
    return found


def tally_votes(uow: UnitOfWork, declaration_id: str) -> dict[str, int]:
    """Count the secret votes of the experts present at the last recorded meeting; ``not_voted``: those
    present who had not voted when voting closed (they count as present and not agreeing)."""
    meeting = uow.session.scalar(
        select(Attendance).where(Attendance.declaration_id == declaration_id).order_by(Attendance.id.desc()).limit(1)
    )
    present = set(meeting.present) if meeting else set()
    votes = [
        v for v in uow.session.scalars(select(Vote).where(Vote.declaration_id == declaration_id)) if v.expert in present
    ]
    counts = {choice: sum(v.choice == choice for v in votes) for choice in ("agree", "disagree", "abstain")}
    return {
        "members": len(meeting.members) if meeting else 0,
        "present": len(present),
        **counts,
        "not_voted": len(present - {v.expert for v in votes}),
    }


def tally(uow: UnitOfWork, principal: Principal, declaration_id: str) -> dict[str, Any]:
    """The tally: the committee office only, once voting has closed."""
    draw = latest_draw(uow, declaration_id)
    if draw is None or principal.role != "committee" or principal.organisation != draw.committee_code:
        raise Forbidden.on("declaration_id", "committee_office", "only the committee office sees the tally")
    votes = list(
        uow.session.scalars(select(Task.status).where(Task.declaration_id == declaration_id, Task.action == "vote"))
    )
    if not votes or any(s in ("ready", "claimed") for s in votes):
        raise Conflict.on("declaration_id", "voting_closed", "voting has not closed yet (表决尚未结束)")
    counts = tally_votes(uow, declaration_id)
    instance = uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))
    return {"declaration_id": declaration_id, **counts, "outcome": instance.outcome if instance else None}


def panel_view(uow: UnitOfWork, principal: Principal, declaration_id: str) -> dict[str, Any]:
    draw = latest_draw(uow, declaration_id)
    if draw is None:
        raise NotFound.on("declaration_id", "drawn", "no panel has been drawn for the declaration (尚未抽取专家)")
    office = principal.role == "committee" and principal.organisation == draw.committee_code
    if not office and principal.subject not in draw.panel:
        raise Forbidden.on("declaration_id", "panel", "only the committee office and the panel see the panel")
    instance = uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))
    out = recused(uow, declaration_id, _id_number(uow, instance), list(draw.panel))
    meetings = list(
        uow.session.scalars(
            select(Attendance).where(Attendance.declaration_id == declaration_id).order_by(Attendance.id)
        )
    )
    defences = list(
        uow.session.scalars(select(Defence).where(Defence.declaration_id == declaration_id).order_by(Defence.id))
    )
    return {
        "declaration_id": declaration_id,
        "committee_code": draw.committee_code,
        "seed": draw.seed if office else None,
        "pool": draw.pool if office else None,
        "panel": draw.panel,
        "recused": sorted(out),
        "drawn_at": draw.drawn_at,
        "attendance": [
            {"members": m.members, "present": m.present, "quorate": m.quorate, "recorded_at": m.recorded_at}
            for m in meetings
        ],
        "defences": [{"at": d.at, "place": d.place} for d in defences],
    }
