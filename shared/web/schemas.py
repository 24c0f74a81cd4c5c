"""Schemas that several services' APIs share."""

from typing import Any

from marshmallow import Schema, fields, validate

# Beyond this nobody pages by hand; it keeps the offset far from the 64-bit columns' range.
MAX_PAGE = 1_000_000


class PageQuery(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))


class Page(Schema):
    """A page of a list; a subclass declares ``items`` (and anything else the list reports)."""

    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


def page_of(query: dict[str, Any], items: list[Any], total: int) -> dict[str, Any]:
    """The ``Page`` body of one page of a list: the items the ``PageQuery`` asked for, and the total."""
    return {"items": items, "total": total, "page": query["page"], "per_page": query["per_page"]}
