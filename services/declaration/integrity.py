"""The integrity record (诚信档案): fraud found after a title was granted revokes it and bars the person
from declaring for three years (人社部令第40号《职称评审管理暂行规定》).

The certificate service revokes; its ``certificate.revoked.v1`` says whether the reason was fraud. This
service, which must refuse the declarations, keeps the record: while it runs (from the revocation to
three years later, judged on ``shared.db.utcnow()``) the person can neither open nor submit a
declaration. The title office lists the records, opens one and may lift it early with a reason; who
lifted it, when and why stay on the record.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Any

from sqlalchemy import select

from services.declaration import clock
from services.declaration.models import IntegrityRecord
from shared.contracts.certificate import Revoked
from shared.db import utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identity.principal import TITLE_OFFICE, Principal
from shared.paging import paged
from shared.uow import UnitOfWork

BAR_YEARS = 3
log = logging.getLogger(__name__)


def years_after(at: dt.datetime, years: int) -> dt.datetime:
    """The same instant ``years`` later; 29 February falls on 1 March."""
    try:
        return at.replace(year=at.year + years)
    except ValueError:
        return at.replace(year=at.year + years, month=3, day=1)


def certificate_revoked(uow: UnitOfWork, revoked: Revoked) -> IntegrityRecord | None:
    """Record the holder of a certificate revoked for fraud; any other revocation bars nobody."""
    if revoked.reason_kind != "fraud":
        return None
    existing = uow.session.scalar(
        select(IntegrityRecord).where(IntegrityRecord.certificate_id == revoked.certificate_id)
    )
    if existing is not None:
        return existing
    starts = dt.datetime.fromisoformat(revoked.revoked_at)
    record = IntegrityRecord(
        id=str(uuid.uuid4()),
        subject=revoked.holder,
        holder_name=revoked.holder_name,
        certificate_id=revoked.certificate_id,
        certificate_number=revoked.number,
        declaration_id=revoked.declaration_id,
        qualification_name=revoked.qualification_name,
        reason=revoked.reason,
        starts_at=starts,
        ends_at=years_after(starts, BAR_YEARS),
        recorded_by=revoked.revoked_by,
        recorded_at=utcnow(),
    )
    uow.session.add(record)
    uow.session.flush()
    return record


def running(record: IntegrityRecord, now: dt.datetime | None = None) -> bool:
    return record.lifted_at is None and (now or utcnow()) < record.ends_at


def refuse_if_recorded(uow: UnitOfWork, subject: str) -> None:
    """A person with a running integrity record may not open or submit a declaration (403 naming it)."""
    now = utcnow()
    record = uow.session.scalar(
        select(IntegrityRecord)
        .where(IntegrityRecord.subject == subject, IntegrityRecord.lifted_at.is_(None), IntegrityRecord.ends_at > now)
        .order_by(IntegrityRecord.ends_at.desc())
        .limit(1)
    )
    if record is None:
        return
    raise Forbidden.on(
        "applicant",
        "integrity_record",
        f"you are in the integrity record (诚信档案) {record.id}: certificate "
        f"{record.certificate_number} was revoked for fraud ({record.reason}); you cannot declare "
        f"until {clock.beijing(record.ends_at)} (诚信档案记录期内不得申报)",
    )


def _title_office(principal: Principal) -> None:
    if principal.role != TITLE_OFFICE:
        raise Forbidden.on("role", "title_office", "only the title office manages the integrity record (诚信档案)")


def listed(
    uow: UnitOfWork, principal: Principal, filters: dict[str, Any], page: int, per_page: int
) -> tuple[list[IntegrityRecord], int]:
    """The records, newest first; ``running`` true or false keeps only those running or not; ``subject``
    one person's."""
    _title_office(principal)
    query = select(IntegrityRecord)
    if filters.get("subject"):
        query = query.where(IntegrityRecord.subject == filters["subject"])
    if filters.get("running") is not None:
        now = utcnow()
        live = (IntegrityRecord.lifted_at.is_(None)) & (IntegrityRecord.ends_at > now)
        query = query.where(live if filters["running"] else ~live)
    return paged(uow, query.order_by(IntegrityRecord.starts_at.desc(), IntegrityRecord.id), page, per_page)


def get(uow: UnitOfWork, principal: Principal, record_id: str, lock: bool = False) -> IntegrityRecord:
    _title_office(principal)
    record = uow.session.get(IntegrityRecord, record_id, with_for_update=lock or None)
    if record is None:
        raise NotFound.on("record_id", "exists", f"integrity record {record_id} does not exist (诚信档案记录不存在)")
    return record


def lift(uow: UnitOfWork, principal: Principal, record_id: str, reason: str) -> IntegrityRecord:
    """End a running record early, with the reason; kept on the record and in the log."""
    record = get(uow, principal, record_id, lock=True)
    reason = (reason or "").strip()
    if not reason:
        raise DomainError.on("reason", "required", "lifting a record needs its reason (解除原因)")
    if record.lifted_at is not None:
        raise Conflict.on(
            "record_id", "running", f"the record was already lifted on {clock.beijing(record.lifted_at)} (已解除)"
        )
    now = utcnow()
    if not running(record, now):
        raise Conflict.on("record_id", "running", f"the record ended on {clock.beijing(record.ends_at)} (已到期)")
    record.lifted_at, record.lifted_by, record.lift_reason = now, principal.subject, reason
    log.info(
        "integrity record lifted",
        extra={"record_id": record.id, "subject": record.subject, "by": principal.subject, "reason": reason},
    )
    return record
