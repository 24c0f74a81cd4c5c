"""The directory of organisations and staff accounts (service layer)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.profile.models import Organisation, StaffAccount
from services.profile.rules import ORG_KINDS, OWNERSHIPS, STAFF_ROLES, TITLE_LEVELS
from shared.contracts.profile import CommitteeScope, OrganisationRegistered, StaffRegistered
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identifiers import InvalidIdentifier, check_credit_code
from shared.identity.principal import Principal
from shared.paging import paged
from shared.uow import UnitOfWork

SEED_ACTOR = "seed"


def _check_code(code: str, override_reason: str | None, actor: Principal | None) -> bool:
    """Validate the GB 32100 check character; returns whether an override was used."""
    try:
        check_credit_code(code)
        return False
    except InvalidIdentifier as exc:
        if exc.rule != "check_character":
            raise DomainError.on("code", exc.rule, exc.message) from None
        if actor is not None and actor.role != "title_office":
            raise DomainError.on("code", exc.rule, exc.message) from None
        if not (override_reason or "").strip():
            raise DomainError.on(
                "code",
                exc.rule,
                exc.message + "; the title office may register it with an "
                "override_reason (校验位不符的合法代码须说明理由)",
            ) from None
        return True


def _check_scope(scope: dict[str, Any] | None) -> dict[str, Any] | None:
    if scope is None:
        return None
    cleaned = {key: sorted({str(v) for v in scope.get(key) or []}) for key in ("series", "levels", "specialties")}
    unknown = [level for level in cleaned["levels"] if level not in TITLE_LEVELS]
    if unknown:
        raise DomainError.on(
            "scope.levels",
            "one_of",
            f"unknown levels {', '.join(unknown)}; levels are {', '.join(TITLE_LEVELS)} (层级)",
        )
    return cleaned


def register_organisation(uow: UnitOfWork, data: dict[str, Any], actor: Principal | None = None) -> bool:
    """Register (or update) an organisation; returns whether anything changed.

    ``actor`` None is the seed. The title office registers anything; a competent
    department registers work units directly under itself.
    """
    code, name, kind = data["code"].strip().upper(), data["name"], data["kind"]
    parent, owner = data.get("parent"), data.get("owner")
    if kind not in ORG_KINDS:
        raise DomainError.on("kind", "one_of", f"kind must be one of {', '.join(ORG_KINDS)}")
    existing = uow.session.get(Organisation, code)
    if actor is not None and actor.role == "department":
        if kind != "unit" or parent != actor.organisation:
            raise Forbidden.on(
                "parent",
                "own_department",
                "a competent department registers work units under itself only (主管部门只能注册所属单位)",
            )
        if existing is not None and existing.parent_code != actor.organisation:
            raise Forbidden.on("code", "own_department", f"organisation {code} is not under your department")
    elif actor is not None and actor.role != "title_office":
        raise Forbidden.on(
            "role", "directory_staff", "only the title office or a competent department registers organisations"
        )
    override = _check_code(code, data.get("override_reason"), actor)
    if parent is not None:
        parent_org = uow.session.get(Organisation, parent)
        if parent_org is None:
            raise DomainError.on(
                "parent", "registered_organisation", f"parent organisation {parent} is not registered (上级单位未注册)"
            )
        if parent_org.kind != "department" or kind not in ("unit", "department"):
            raise DomainError.on(
                "parent",
                "parent_department",
                "only units and departments have a parent, and it must be a competent department (上级须为主管部门)",
            )
        seen = {code}
        cursor: Organisation | None = parent_org
        while cursor is not None:  # a department cannot end up above itself
            if cursor.code in seen:
                raise DomainError.on("parent", "no_cycle", "the department chain would loop (主管部门层级循环)")
            seen.add(cursor.code)
            cursor = uow.session.get(Organisation, cursor.parent_code) if cursor.parent_code else None
    ownership = data.get("ownership")
    if ownership is not None and (kind != "unit" or ownership not in OWNERSHIPS):
        raise DomainError.on("ownership", "one_of", f"ownership is for units, one of {', '.join(OWNERSHIPS)}")
    scope = _check_scope(data.get("scope"))
    if (owner is not None or scope is not None) and kind != "committee":
        raise DomainError.on(
            "owner" if owner is not None else "scope",
            "committee_only",
            "owner and authorised scope belong to review committees (评委会)",
        )
    if owner is not None:
        owner_org = uow.session.get(Organisation, owner)
        if owner_org is None or owner_org.kind not in ("unit", "department"):
            raise DomainError.on(
                "owner",
                "registered_organisation",
                f"the committee's organisation {owner} is not a registered unit or department (评委会所属单位未注册)",
            )
    values = (name, kind, parent, ownership, owner, scope, override)
    if (
        existing is not None
        and (
            existing.name,
            existing.kind,
            existing.parent_code,
            existing.ownership,
            existing.owner_code,
            existing.scope,
            existing.check_override,
        )
        == values
    ):
        return False
    org = existing or Organisation(code=code)
    if existing is None:
        uow.session.add(org)
    org.name, org.kind, org.parent_code, org.ownership, org.owner_code, org.scope = values[:6]
    org.check_override = override
    org.override_reason = data.get("override_reason") if override else None
    org.override_by = (actor.subject if actor else SEED_ACTOR) if override else None
    org.registered_by = actor.subject if actor else SEED_ACTOR
    uow.session.flush()
    uow.publish(organisation_event(org))
    return True


def organisation_event(org: Organisation) -> OrganisationRegistered:
    return OrganisationRegistered(
        code=org.code,
        name=org.name,
        kind=org.kind,
        parent=org.parent_code,
        ownership=org.ownership,
        owner=org.owner_code,
        scope=None if org.scope is None else CommitteeScope(**org.scope),
        check_override=org.check_override,
    )


def organisation(uow: UnitOfWork, code: str) -> Organisation:
    org = uow.session.get(Organisation, code)
    if org is None:
        raise NotFound.on("code", "exists", f"organisation {code} is not registered")
    return org


def organisations(
    uow: UnitOfWork, kind: str | None = None, parent: str | None = None, page: int = 1, per_page: int = 20
) -> tuple[list[Organisation], int]:
    query = select(Organisation).order_by(Organisation.kind, Organisation.code)
    if kind:
        query = query.where(Organisation.kind == kind)
    if parent:
        query = query.where(Organisation.parent_code == parent)
    return paged(uow, query, page, per_page)


def department_chain(uow: UnitOfWork, code: str) -> list[Organisation]:
    """The competent departments above an organisation, nearest first."""
    chain: list[Organisation] = []
    org = organisation(uow, code)
    while org.parent_code is not None and len(chain) < 20:
        org = organisation(uow, org.parent_code)
        chain.append(org)
    return chain


def add_staff(uow: UnitOfWork, actor: Principal | None, code: str, data: dict[str, Any]) -> StaffAccount:
    org = organisation(uow, code)
    if actor is not None and actor.role != "title_office":
        if not (actor.role == "department" and org.kind == "unit" and org.parent_code == actor.organisation):
            raise Forbidden.on(
                "code",
                "own_organisation",
                "staff accounts are kept by the title office, or by a competent department for its own units",
            )
    role = data["role"]
    if role not in STAFF_ROLES[org.kind]:
        raise DomainError.on(
            "role", "fits_organisation", f"a {org.kind} has staff in the roles {', '.join(STAFF_ROLES[org.kind])}"
        )
    account = uow.session.get(StaffAccount, data["subject"])
    if account is not None and account.organisation_code != code:
        raise Conflict.on(
            "subject",
            "one_organisation",
            f"a staff account acts for exactly one organisation (already bound to {account.organisation_code})",
        )
    if account is None:
        account = StaffAccount(subject=data["subject"])
        uow.session.add(account)
    changed = (account.name, account.role, account.organisation_code) != (data["name"], role, code)
    account.name, account.role, account.organisation_code = data["name"], role, code
    uow.session.flush()
    if changed:  # the review service keeps a replica: who a task may be assigned to
        uow.publish(StaffRegistered(subject=account.subject, name=account.name, role=role, organisation=code))
    return account


def staff_of(
    uow: UnitOfWork, actor: Principal, code: str, page: int = 1, per_page: int = 20
) -> tuple[list[StaffAccount], int]:
    org = organisation(uow, code)
    if actor.role != "title_office" and actor.organisation != org.code:
        raise Forbidden.on("code", "own_organisation", "you see the staff of your own organisation only")
    return paged(
        uow,
        select(StaffAccount).where(StaffAccount.organisation_code == code).order_by(StaffAccount.subject),
        page,
        per_page,
    )


def all_staff(uow: UnitOfWork, page: int = 1, per_page: int = 20) -> tuple[list[StaffAccount], int]:
    return paged(uow, select(StaffAccount).order_by(StaffAccount.subject), page, per_page)


def staff_account(uow: UnitOfWork, actor: Principal, subject: str) -> StaffAccount:
    if actor.role != "title_office" and actor.subject != subject:
        raise Forbidden.on("subject", "own_account", "a staff account is seen by the title office or by itself")
    account = uow.session.get(StaffAccount, subject)
    if account is None:
        raise NotFound.on("subject", "exists", f"no staff account {subject!r} in the directory")
    return account
