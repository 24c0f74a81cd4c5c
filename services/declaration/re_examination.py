"""Re-examination (复查) of a failed vote. The review offers it until a time when the experts' vote
fails (review.re_examination.opened.v1, bpmn/re_examination.bpmn); the applicant asks once, with a
reason, while it is open (declaration.re_examination.requested.v1 to the waiting process); the
committee office's decision comes back (review.re_examination.decided.v1)."""

from __future__ import annotations

import datetime as dt

from services.declaration import clock, lifecycle, service
from services.declaration.models import Declaration, TrailEntry
from shared.contracts.declaration import ReExaminationRequested
from shared.contracts.review import ReExaminationDecided, ReExaminationOpened
from shared.errors import Conflict, DomainError
from shared.identity.principal import Principal
from shared.uow import UnitOfWork

OPEN = ("re_examination_open", "Re-examination may be requested (可申请复查)")
REQUESTED = ("re_examination_requested", "Re-examination requested (已申请复查)")
DECIDED = {
    "uphold": ("re_examination_upheld", "Re-examination: result upheld (复查维持原评审结果)"),
    "overturn": ("re_examination_overturned", "Re-examination: result overturned (复查改变评审结果)"),
}


def requestable(declaration: Declaration) -> bool:
    """The applicant may ask now: the review offers it, they have not asked, and the period runs."""
    return (
        declaration.re_examination_open_until is not None
        and declaration.re_examination_requested_at is None
        and lifecycle.can(declaration.status, "request_re_examination")
        and clock.now() <= declaration.re_examination_open_until
    )


def request(uow: UnitOfWork, principal: Principal, declaration_id: str, reason: str) -> Declaration:
    declaration = service.own(uow, principal, declaration_id, lock=True)
    if declaration.re_examination_open_until is None:
        raise Conflict.on(
            "status",
            "not_passed",
            f"only a declaration the experts' vote did not pass may ask for re-examination; this one "
            f"is {declaration.status} at {declaration.stage or '-'} (仅评审未通过的申报可申请复查)",
        )
    if declaration.re_examination_requested_at is not None:
        raise Conflict.on(
            "status",
            "one_request",
            f"re-examination was already requested at "
            f"{clock.beijing(declaration.re_examination_requested_at)} (已申请复查，不可重复申请)",
        )
    now = clock.now()
    if now > declaration.re_examination_open_until or not lifecycle.can(declaration.status, "request_re_examination"):
        raise Conflict.on(
            "status",
            "re_examination_period",
            f"re-examination could be requested until "
            f"{clock.beijing(declaration.re_examination_open_until)} (复查申请期已过)",
        )
    if not reason.strip():
        raise DomainError.on("reason", "required", "say why the result should be re-examined (须填写复查理由)")
    declaration.re_examination_requested_at, declaration.re_examination_reason = now, reason.strip()
    declaration.stage, declaration.stage_name = REQUESTED
    declaration.stage_at = now
    uow.session.add(
        TrailEntry(
            declaration_id=declaration.id,
            kind="re_examination",
            stage=REQUESTED[0],
            stage_name=REQUESTED[1],
            actor=principal.subject,
            decision="requested",
            reason=declaration.re_examination_reason,
            at=now,
        )
    )
    uow.publish(
        ReExaminationRequested(
            declaration_id=declaration.id,
            applicant=declaration.applicant,
            reason=declaration.re_examination_reason,
            at=now.isoformat(),
        ),
        correlation_id=declaration.id,
    )
    return declaration


def _stage(declaration: Declaration, stage: tuple[str, str], organisation: str | None, at: dt.datetime) -> None:
    """Messages of different queues may arrive out of order: the latest stage wins."""
    if lifecycle.can(declaration.status, "reach_stage") and (
        declaration.stage_at is None or at >= declaration.stage_at
    ):
        lifecycle.move(declaration, "reach_stage")
        declaration.stage, declaration.stage_name = stage
        declaration.stage_organisation, declaration.stage_at = organisation, at


def opened(uow: UnitOfWork, opening: ReExaminationOpened, at: dt.datetime) -> None:
    """The vote failed: the applicant may ask until ``open_until`` (shown, and checked on a request)."""
    declaration = service.declaration_of(uow, opening.declaration_id)
    open_until = dt.datetime.fromisoformat(opening.open_until)
    declaration.re_examination_open_until = open_until
    uow.session.add(
        TrailEntry(
            declaration_id=declaration.id,
            kind="re_examination",
            stage=OPEN[0],
            stage_name=OPEN[1],
            organisation=opening.organisation,
            decision="not_passed",
            reason=f"the experts' vote did not pass; re-examination may be requested until "
            f"{clock.beijing(open_until)} (评审未通过，可于期限内申请复查)",
            at=at,
        )
    )
    _stage(declaration, OPEN, opening.organisation, at)


def decided(uow: UnitOfWork, decision: ReExaminationDecided) -> None:
    """The committee office upheld or overturned the result (its task's decision is in the trail)."""
    declaration = service.declaration_of(uow, decision.declaration_id)
    at = dt.datetime.fromisoformat(decision.at)
    declaration.re_examination_decision, declaration.re_examination_decision_reason = decision.decision, decision.reason
    declaration.re_examination_decided_at = at
    _stage(declaration, DECIDED[decision.decision], decision.organisation, at)
