"""The declaration service layer: activities and the life of a declaration."""
from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select

from services.declaration.models import Activity, Declaration, TrailEntry
from shared.db import utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identity.principal import Principal
from shared.uow import UnitOfWork


def today() -> dt.date:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()  # deadlines are Beijing dates


def ongoing_activities(uow: UnitOfWork, filters: dict[str, Any]) -> list[Activity]:
    day = today()
    query = select(Activity).where(Activity.opens_on <= day, Activity.modification_deadline >= day)
    for column in ("mode", "series"):
        if filters.get(column):
            query = query.where(getattr(Activity, column) == filters[column])
    activities = list(uow.session.scalars(query.order_by(Activity.initial_deadline)))
    # List-valued scope fields are filtered here so the query stays portable.
    for key, column in (("level", "levels"), ("specialty", "specialties"),
                        ("qualification_name", "qualification_names"), ("category", "categories")):
        if filters.get(key):
            activities = [a for a in activities if filters[key] in getattr(a, column)]
    return activities


def activity(uow: UnitOfWork, activity_id: str) -> Activity:
    found = uow.session.get(Activity, activity_id)
    if found is None:
        raise NotFound.on("activity_id", "exists", f"review activity {activity_id} does not exist (评审活动不存在)")
    return found


def create(uow: UnitOfWork, principal: Principal, fields: dict[str, Any]) -> Declaration:
    """Open a declaration against an ongoing activity and ask the profile for a snapshot."""
    chosen = activity(uow, fields["activity_id"])
    day = today()
    if not (chosen.opens_on <= day <= chosen.initial_deadline):
        raise Conflict.on("activity_id", "ongoing",
                          f"the activity accepts declarations from {chosen.opens_on} to {chosen.initial_deadline} "
                          "(不在申报时间内)")
    for key, allowed, term in (("level", chosen.levels, "层级"), ("specialty", chosen.specialties, "专业"),
                               ("qualification_name", chosen.qualification_names, "资格名称"),
                               ("category", chosen.categories, "申报类别")):
        if fields[key] not in allowed:
            raise DomainError.on(key, "in_activity_scope",
                                 f"{key} must be one of the activity's: {', '.join(allowed)} ({term})")
    declaration = Declaration(
        id=str(uuid.uuid4()), applicant=principal.subject, activity_id=chosen.id, mode=chosen.mode,
        series=chosen.series, level=fields["level"], specialty=fields["specialty"],
        qualification_name=fields["qualification_name"], category=fields["category"], status="preparing",
    )
    uow.session.add(declaration)
    uow.session.flush()
    uow.publish("profile.take_snapshot.v1", {"declaration_id": declaration.id, "applicant": principal.subject},
                correlation_id=declaration.id)
    return declaration


def own(uow: UnitOfWork, principal: Principal, declaration_id: str, lock: bool = False) -> Declaration:
    query = select(Declaration).where(Declaration.id == declaration_id)
    if lock:
        query = query.with_for_update()
    declaration = uow.session.scalar(query)
    if declaration is None:
        raise NotFound.on("declaration_id", "exists", f"declaration {declaration_id} does not exist")
    if declaration.applicant != principal.subject:
        raise Forbidden.on("declaration_id", "own_declaration", "an applicant sees only their own declarations")
    return declaration


def mine(uow: UnitOfWork, principal: Principal, page: int, per_page: int) -> tuple[list[Declaration], int]:
    where = Declaration.applicant == principal.subject
    total = uow.session.scalar(select(func.count()).select_from(Declaration).where(where)) or 0
    items = uow.session.scalars(select(Declaration).where(where).order_by(Declaration.created_at.desc(), Declaration.id)
                                .offset((page - 1) * per_page).limit(per_page))
    return list(items), total


def trail(uow: UnitOfWork, declaration_id: str) -> list[TrailEntry]:
    return list(uow.session.scalars(select(TrailEntry).where(TrailEntry.declaration_id == declaration_id)
                                    .order_by(TrailEntry.at, TrailEntry.id)))


def submit(uow: UnitOfWork, principal: Principal, declaration_id: str) -> Declaration:
    """Submit a draft before the initial deadline, or resubmit a returned one before
    the modification deadline; it goes through the chain again from the unit."""
    declaration = own(uow, principal, declaration_id, lock=True)
    if declaration.status not in ("draft", "returned"):
        raise Conflict.on("status", "draft_only",
                          f"only a draft or a returned declaration can be submitted; this one is "
                          f"{declaration.status} (仅草稿或退回的申报可提交)")
    chosen = activity(uow, declaration.activity_id)
    resubmission = declaration.status == "returned"
    deadline = chosen.modification_deadline if resubmission else chosen.initial_deadline
    if today() > deadline:
        term = "修改提交截止时间" if resubmission else "初次提交截止时间"
        raise Conflict.on("activity_id", "modification_deadline" if resubmission else "initial_deadline",
                          f"the {'modification' if resubmission else 'initial'} submission deadline {deadline} "
                          f"has passed (已过{term})")
    snapshot = declaration.snapshot or {}
    declaration.status = "submitted"
    declaration.submitted_at = utcnow()
    declaration.return_reason = declaration.returned_at = declaration.returned_by = None
    message_type = "declaration.resubmitted.v1" if resubmission else "declaration.submitted.v1"
    uow.publish(message_type, {
        "declaration_id": declaration.id, "applicant": declaration.applicant,
        "applicant_name": snapshot["name"], "id_number": snapshot["id_number"], "unit_code": snapshot["unit_code"],
        "activity_id": chosen.id, "committee_code": chosen.committee_code, "committee_name": chosen.committee_name,
        "mode": declaration.mode, "series": declaration.series, "level": declaration.level,
        "specialty": declaration.specialty, "qualification_name": declaration.qualification_name,
        "category": declaration.category, "panel_size": chosen.panel_size,
        "submitted_at": declaration.submitted_at.isoformat(),
        "modification_deadline": chosen.modification_deadline.isoformat(),
    }, correlation_id=declaration.id)
    return declaration


# -- effects of other services' messages ----------------------------------------

def _declaration(uow: UnitOfWork, declaration_id: str) -> Declaration:
    declaration = uow.session.get(Declaration, declaration_id)
    if declaration is None:
        raise NotFound(f"declaration {declaration_id} does not exist")
    return declaration


def snapshot_taken(uow: UnitOfWork, declaration_id: str, snapshot: dict[str, Any]) -> None:
    declaration = _declaration(uow, declaration_id)
    if declaration.status == "preparing":
        declaration.snapshot = snapshot
        declaration.status = "draft"


def snapshot_refused(uow: UnitOfWork, declaration_id: str, reason: str) -> None:
    declaration = _declaration(uow, declaration_id)
    if declaration.status == "preparing":
        declaration.status = "refused"
        declaration.refusal_reason = reason


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def stage_changed(uow: UnitOfWork, data: dict[str, Any]) -> None:
    declaration = _declaration(uow, data["declaration_id"])
    at = _at(data["at"])
    uow.session.add(TrailEntry(declaration_id=declaration.id, kind="stage", stage=data["stage"],
                               stage_name=data["stage_name"], organisation=data["organisation"], at=at))
    # Messages of different queues may arrive out of order: the latest stage wins.
    newer = declaration.stage_at is None or at >= declaration.stage_at
    if declaration.status in ("submitted", "in_review") and newer:
        declaration.status = "in_review"
        declaration.stage, declaration.stage_name = data["stage"], data["stage_name"]
        declaration.stage_organisation, declaration.stage_at = data["organisation"], at


def decision_recorded(uow: UnitOfWork, data: dict[str, Any]) -> None:
    declaration = _declaration(uow, data["declaration_id"])
    uow.session.add(TrailEntry(declaration_id=declaration.id, kind="decision", stage=data["stage"],
                               stage_name=data["stage_name"], organisation=data["organisation"],
                               actor=data["actor"], decision=data["decision"], reason=data["reason"],
                               at=_at(data["at"])))


def returned_for_revision(uow: UnitOfWork, data: dict[str, Any]) -> None:
    """The review returned the declaration: editable again, with the reason shown."""
    declaration = _declaration(uow, data["declaration_id"])
    at = _at(data["at"])
    uow.session.add(TrailEntry(declaration_id=declaration.id, kind="return", stage=data["stage"],
                               stage_name=data["stage_name"], organisation=data["organisation"],
                               actor=data["actor"], decision="return", reason=data["reason"], at=at))
    if declaration.status in ("submitted", "in_review"):
        declaration.status = "returned"
        declaration.return_reason, declaration.returned_at = data["reason"], at
        declaration.returned_by = data["organisation"]
        declaration.stage, declaration.stage_name = "returned", "Returned for revision (退回修改)"
        declaration.stage_organisation, declaration.stage_at = None, at


def review_completed(uow: UnitOfWork, data: dict[str, Any]) -> None:
    declaration = _declaration(uow, data["declaration_id"])
    uow.session.add(TrailEntry(declaration_id=declaration.id, kind="outcome", decision=data["outcome"],
                               at=_at(data["at"])))
    declaration.status = "completed"
    declaration.outcome = data["outcome"]
    declaration.stage, declaration.stage_name, declaration.stage_organisation = "completed", "Completed (已完成)", None


def save_activity(uow: UnitOfWork, fields: dict[str, Any]) -> Activity:
    found = uow.session.get(Activity, fields["id"])
    if found is None:
        found = Activity(id=fields["id"])
        uow.session.add(found)
    for key, value in fields.items():
        setattr(found, key, value)
    uow.session.flush()
    return found
