"""The profile service layer: commands on people and the directory."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.profile.models import Organisation, Profile, WorkExperience
from shared.errors import Conflict, DomainError, NotFound
from shared.identity.principal import Principal
from shared.uow import UnitOfWork

WORK_STATUSES = ("current", "former", "part_time")
ORG_KINDS = ("unit", "department", "committee", "title_office")


def profile_for(uow: UnitOfWork, principal: Principal) -> Profile:
    """The applicant's profile, created on first use from the verified token."""
    profile = uow.session.get(Profile, principal.subject)
    if profile is None:
        if not principal.name or not principal.id_number:
            raise DomainError.on("token", "identity_claims",
                                 "The identity token carries no verified name and ID number (实名信息)")
        try:
            # A savepoint: when a concurrent first request created the profile
            # meanwhile, only this insert is undone and theirs is used.
            with uow.session.begin_nested():
                profile = Profile(subject=principal.subject, name=principal.name, id_number=principal.id_number)
                uow.session.add(profile)
        except IntegrityError:
            profile = uow.session.get(Profile, principal.subject, populate_existing=True)
            if profile is None:
                raise
    return profile


def register_organisation(uow: UnitOfWork, code: str, name: str, kind: str, parent: str | None) -> bool:
    """Register (or update) an organisation; returns whether anything changed."""
    if kind not in ORG_KINDS:
        raise DomainError.on("kind", "one_of", f"kind must be one of {', '.join(ORG_KINDS)}")
    if parent is not None and uow.session.get(Organisation, parent) is None:
        raise DomainError.on("parent", "registered_organisation",
                             f"parent organisation {parent} is not registered (上级单位未注册)")
    org = uow.session.get(Organisation, code)
    if org is not None and (org.name, org.kind, org.parent_code) == (name, kind, parent):
        return False
    if org is None:
        org = Organisation(code=code)
        uow.session.add(org)
    org.name, org.kind, org.parent_code = name, kind, parent
    uow.session.flush()
    uow.publish("profile.organisation.registered.v1", {"code": code, "name": name, "kind": kind, "parent": parent})
    return True


def add_work_experience(uow: UnitOfWork, principal: Principal, fields: dict[str, Any]) -> WorkExperience:
    profile = profile_for(uow, principal)
    # Lock the profile row: concurrent additions for one applicant run one at a
    # time, so the "one current employment" check below cannot be raced.
    uow.session.get(Profile, profile.subject, with_for_update=True, populate_existing=True)
    status = fields["status"]
    if status not in WORK_STATUSES:
        raise DomainError.on("status", "one_of", f"status must be one of {', '.join(WORK_STATUSES)}")
    start: dt.date = fields["start_date"]
    end: dt.date | None = fields.get("end_date")
    if end is not None and end < start:
        raise DomainError.on("end_date", "not_before_start", "end date is before the start date (结束时间早于开始时间)")
    unit_code = fields.get("unit_code")
    unit_name = fields.get("unit_name")
    if status == "current":
        if not unit_code:
            raise DomainError.on("unit_code", "registered_unit",
                                 "a current employment must choose a unit registered in the system (在职单位须为已注册单位)")
        if end is not None:
            raise DomainError.on("end_date", "current_has_no_end", "a current employment has no end date")
        has_current = uow.session.scalar(
            select(WorkExperience.id).where(WorkExperience.subject == profile.subject,
                                            WorkExperience.status == "current"))
        if has_current:
            raise Conflict.on("status", "one_current", "there is already a current employment (已有在职经历)")
    if unit_code:
        unit = uow.session.get(Organisation, unit_code)
        if unit is None or unit.kind != "unit":
            raise DomainError.on("unit_code", "registered_unit",
                                 f"unit {unit_code} is not a work unit registered in the system (工作单位未注册)")
        unit_name = unit.name
    if not unit_name:
        raise DomainError.on("unit_name", "required", "the employer's name is required (工作单位名称)")
    record = WorkExperience(subject=profile.subject, status=status, unit_code=unit_code, unit_name=unit_name,
                            start_date=start, end_date=end)
    uow.session.add(record)
    uow.session.flush()
    return record


def work_experiences(uow: UnitOfWork, subject: str) -> list[WorkExperience]:
    return list(uow.session.scalars(
        select(WorkExperience).where(WorkExperience.subject == subject).order_by(WorkExperience.start_date)))


def organisation(uow: UnitOfWork, code: str) -> Organisation:
    org = uow.session.get(Organisation, code)
    if org is None:
        raise NotFound.on("code", "exists", f"organisation {code} is not registered")
    return org


def take_snapshot(uow: UnitOfWork, declaration_id: str, subject: str) -> None:
    """Answer a declaration's snapshot request, or refuse it with the reason."""
    profile = uow.session.get(Profile, subject)
    current = None
    if profile is not None:
        current = uow.session.scalar(select(WorkExperience).where(
            WorkExperience.subject == subject, WorkExperience.status == "current",
            WorkExperience.unit_code.is_not(None)))
    if profile is None or current is None:
        uow.publish("profile.snapshot.refused.v1", {
            "declaration_id": declaration_id, "applicant": subject,
            "reason": "A declaration needs a current employment at a unit registered in the system "
                      "(须有在职且已注册的工作单位)",
        }, correlation_id=declaration_id)
        return
    uow.publish("profile.snapshot.taken.v1", {
        "declaration_id": declaration_id, "applicant": subject,
        "snapshot": {"name": profile.name, "id_number": profile.id_number,
                     "unit_code": current.unit_code, "unit_name": current.unit_name},
    }, correlation_id=declaration_id)


def organisations(uow: UnitOfWork) -> list[Organisation]:
    return list(uow.session.scalars(select(Organisation).order_by(Organisation.kind, Organisation.code)))
