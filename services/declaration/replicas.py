"""What the declaration service keeps of the profile service's events (no cross-service reads):
the directory's committees with their authorisation, who owns which attachment, and each
applicant's current employer. Each effect is an idempotent upsert."""
from __future__ import annotations

import datetime as dt
from typing import Any, Iterable

from sqlalchemy import select

from services.declaration.models import AttachmentOwner, Committee, Employment
from shared.uow import UnitOfWork


def organisation_registered(uow: UnitOfWork, data: dict[str, Any]) -> None:
    """Keep committees (code, name, owner, authorised scope); other kinds of organisation are not needed here."""
    found = uow.session.get(Committee, data["code"])
    if data["kind"] != "committee":
        if found is not None:  # re-registered as something else: no longer a committee
            uow.session.delete(found)
        return
    if found is None:
        found = Committee(code=data["code"])
        uow.session.add(found)
    found.name, found.owner = data["name"], data.get("owner")
    scope = data.get("scope")
    found.scope = None if scope is None else {key: list(scope.get(key) or [])
                                              for key in ("series", "levels", "specialties")}


def seed_committees(uow: UnitOfWork, organisations: Iterable[dict[str, Any]]) -> None:
    """The demonstration directory's committees, written as their events would (rows already
    present, e.g. from a later event, are left as they are)."""
    for org in organisations:
        if org["kind"] == "committee" and uow.session.get(Committee, org["code"]) is None:
            organisation_registered(uow, org)


def committee(uow: UnitOfWork, code: str) -> Committee | None:
    return uow.session.get(Committee, code)


def attachment_stored(uow: UnitOfWork, data: dict[str, Any], source: str = "event") -> None:
    found = uow.session.get(AttachmentOwner, data["id"])
    if found is None:
        found = AttachmentOwner(id=data["id"], owner=data["owner"], source=source)
        uow.session.add(found)
    elif found.source == "event" and source != "event":
        return  # the profile's own event is the better record
    found.owner, found.source = data["owner"], source
    for key in ("sha256", "content_type", "size", "name"):
        if data.get(key) is not None:
            setattr(found, key, data[key])


def snapshot_attachments(uow: UnitOfWork, applicant: str, snapshot: dict[str, Any]) -> None:
    """A snapshot lists the applicant's files as the profile holds them: theirs, by the profile's word."""
    for ref in snapshot.get("attachments") or []:
        if isinstance(ref, dict) and ref.get("id"):
            attachment_stored(uow, {**ref, "owner": applicant}, source="snapshot")
    uow.session.flush()


def owners(uow: UnitOfWork, ids: Iterable[str]) -> dict[str, str]:
    """attachment id -> owner, for the ids known here."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    rows = uow.session.execute(select(AttachmentOwner.id, AttachmentOwner.owner)
                               .where(AttachmentOwner.id.in_(wanted)))
    return {row.id: row.owner for row in rows}


def employment_changed(uow: UnitOfWork, data: dict[str, Any]) -> None:
    """The latest announcement wins (events of one subject may arrive out of order)."""
    at = dt.datetime.fromisoformat(data["at"])
    found = uow.session.get(Employment, data["subject"])
    if found is None:
        found = Employment(subject=data["subject"], at=at)
        uow.session.add(found)
    elif found.at > at:
        return
    found.unit_code, found.unit_name, found.at = data.get("unit_code"), data.get("unit_name"), at


def employment(uow: UnitOfWork, subject: str) -> Employment | None:
    return uow.session.get(Employment, subject)
