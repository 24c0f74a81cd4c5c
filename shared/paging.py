"""One page of a query's rows, and how many rows there are in all: the one place that turns
``page``/``per_page`` into an offset and a limit."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, bindparam, func, select

from shared.uow import UnitOfWork


class Listing:
    """A query paged through bound parameters, so that one built once serves every request: a listing
    a page polls (the review's task queue, twenty times a lifecycle) then costs the statement's run, not
    building it, its cache key and its page's offset and limit anew. The query's own values are bound
    parameters too, given to ``page``."""

    def __init__(self, query: Select[Any]):
        self.query = query
        self.rows = query.offset(bindparam("page_offset")).limit(bindparam("page_limit"))
        self._count: Select[Any] | None = None

    @property
    def count(self) -> Select[Any]:
        if self._count is None:
            # The count has no use for the order, and PostgreSQL would sort for nothing.
            self._count = select(func.count()).select_from(self.query.order_by(None).subquery())
        return self._count

    def page(self, uow: UnitOfWork, params: dict[str, Any], page: int, per_page: int) -> tuple[list[Any], int]:
        """Rows ``(page - 1) * per_page`` onwards, at most ``per_page`` of them, in the query's order; and
        the total the query matches."""
        offset = (page - 1) * per_page
        rows = list(uow.session.scalars(self.rows, {**params, "page_offset": offset, "page_limit": per_page}))
        if len(rows) < per_page and (rows or offset == 0):
            # The last page, so the page says the total: most listings (a queue filtered to one
            # declaration, say) fit on one, and need no second statement.
            return rows, offset + len(rows)
        return rows, uow.session.scalar(self.count, params) or 0


def paged(uow: UnitOfWork, query: Select[Any], page: int, per_page: int) -> tuple[list[Any], int]:
    """A page of a query built for this request (its values in the statement)."""
    return Listing(query).page(uow, {}, page, per_page)
