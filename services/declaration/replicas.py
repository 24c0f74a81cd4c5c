"""What the declaration service keeps of the profile service's events (no cross-service reads):
the directory's committees with their authorisation, who owns which attachment, and each
applicant's current employer. Each effect is an idempotent upsert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from services.declaration.models import AttachmentOwner, Committee, Employment
from shared.contracts.profile import (
    AttachmentRef,
    AttachmentStored,
    EmploymentChanged,
    OrganisationRegistered,
    Snapshot,
)
from shared.uow import UnitOfWork


def organisation_registered(uow: UnitOfWork, registered: OrganisationRegistered) -> None:
    """Keep committees (code, name, owner, authorised scope); other kinds of organisation are not needed here."""
    found = uow.session.get(Committee, registered.code)
    if registered.kind != "committee":
        if found is not None:  # re-registered as something else: no longer a committee
            uow.session.delete(found)
        return
    if found is None:
        found = Committee(code=registered.code)
        uow.session.add(found)
    found.name, found.owner = registered.name, registered.owner
    scope = registered.scope
    found.scope = (
        None
        if scope is None
        else {"series": list(scope.series), "levels": list(scope.levels), "specialties": list(scope.specialties)}
    )


def seed_committees(uow: UnitOfWork, organisations: Iterable[dict[str, Any]]) -> None:
    """The demonstration directory's committees, written as their events would (rows already
    present, e.g. from a later event, are left as they are)."""
    for org in organisations:
        if org["kind"] == "committee" and uow.session.get(Committee, org["code"]) is None:
            organisation_registered(uow, OrganisationRegistered.load(org))


def committee(uow: UnitOfWork, code: str) -> Committee | None:
    return uow.session.get(Committee, code)


def attachment_stored(
    uow: UnitOfWork,
    owner: str,
    ref: AttachmentStored | AttachmentRef | None = None,
    *,
    attachment_id: str | None = None,
    source: str = "event",
) -> None:
    """Who owns an attachment (and what it is, when told: ``ref``)."""
    attachment_id = ref.id if ref is not None else attachment_id
    found = uow.session.get(AttachmentOwner, attachment_id)
    if found is None:
        found = AttachmentOwner(id=attachment_id, owner=owner, source=source)
        uow.session.add(found)
    elif found.source == "event" and source != "event":
        return  # the profile's own event is the better record
    found.owner, found.source = owner, source
    for key in ("sha256", "content_type", "size", "name"):
        if getattr(ref, key, None) is not None:
            setattr(found, key, getattr(ref, key))


def snapshot_attachments(uow: UnitOfWork, applicant: str, snapshot: Snapshot) -> None:
    """A snapshot lists the applicant's files as the profile holds them: theirs, by the profile's word."""
    for ref in snapshot.attachments or []:
        attachment_stored(uow, applicant, ref, source="snapshot")
    uow.session.flush()


def owners(uow: UnitOfWork, ids: Iterable[str]) -> dict[str, str]:
    """attachment id -> owner, for the ids known here."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = uow.session.execute(select(AttachmentOwner.id, AttachmentOwner.owner).where(AttachmentOwner.id.in_(wanted)))
    return {row.id: row.owner for row in rows}


def employment_changed(uow: UnitOfWork, changed: EmploymentChanged) -> None:
    """The latest announcement wins (events of one subject may arrive out of order)."""
    at = dt.datetime.fromisoformat(changed.at)
    found = uow.session.get(Employment, changed.subject)
    if found is None:
        found = Employment(subject=changed.subject, at=at)
        uow.session.add(found)
    elif found.at > at:
        return
    found.unit_code, found.unit_name, found.at = changed.unit_code, changed.unit_name, at


def employment(uow: UnitOfWork, subject: str) -> Employment | None:
    return uow.session.get(Employment, subject)
