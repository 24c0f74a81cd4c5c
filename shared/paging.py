"""One page of a query's rows, and how many rows there are in all: the one place that turns
``page``/``per_page`` into an offset and a limit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select

from shared.uow import UnitOfWork


def paged(uow: UnitOfWork, query: Select[Any], page: int, per_page: int) -> tuple[list[Any], int]:
    """Rows ``(page - 1) * per_page`` onwards, at most ``per_page`` of them, in the query's order; and
    the total the query matches."""
    offset = (page - 1) * per_page
    rows = list(uow.session.scalars(query.offset(offset).limit(per_page)))
    if len(rows) < per_page and (rows or offset == 0):
        # The last page, so the page says the total: most listings (a queue filtered to one
        # declaration, say) fit on one, and need no second statement.
        return rows, offset + len(rows)
    # The count has no use for the order, and PostgreSQL would sort for nothing.
    total = uow.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    return rows, total
