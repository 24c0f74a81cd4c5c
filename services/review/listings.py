"""What the title office and designers list: review processes, incidents, deployed diagrams."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from services.review.models import Definition, Incident, Instance
from shared.paging import paged
from shared.uow import UnitOfWork


def processes(uow: UnitOfWork, filters: dict[str, Any], page: int, per_page: int) -> tuple[list[Instance], int]:
    """Review processes, most recently changed first; ``status``, ``process_id``, ``suspended`` and
    ``has_incident`` keep only those that match."""
    query = select(Instance)
    for name in ("status", "process_id", "suspended", "has_incident"):
        if filters.get(name) is not None:
            query = query.where(getattr(Instance, name) == filters[name])
    return paged(uow, query.order_by(Instance.updated_at.desc(), Instance.id), page, per_page)


def incidents(
    uow: UnitOfWork, status: str, declaration_id: str | None, page: int, per_page: int
) -> tuple[list[Incident], int]:
    """Incidents of a status (``all``: any), newest first."""
    query = select(Incident)
    if status != "all":
        query = query.where(Incident.status == status)
    if declaration_id:
        query = query.where(Incident.declaration_id == declaration_id)
    return paged(uow, query.order_by(Incident.id.desc()), page, per_page)


def definitions(uow: UnitOfWork) -> list[Definition]:
    """Deployed diagram versions, newest first."""
    return list(uow.session.scalars(select(Definition).order_by(Definition.deployed_at.desc())))
