"""The review service's replica of the organisation directory, read by name."""

from __future__ import annotations

from services.review.models import Organisation
from shared.uow import UnitOfWork


def organisation_name(uow: UnitOfWork, code: str | None) -> str | None:
    """The organisation's name as the directory has it (None when unknown): notices name it."""
    org = uow.session.get(Organisation, code) if code else None
    return org.name if org is not None else None
