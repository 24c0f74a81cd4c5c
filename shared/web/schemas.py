"""Schemas that several services' APIs share."""
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


def page_of(items: list, total: int, page: int, per_page: int) -> dict:
    return {"items": items, "total": total, "page": page, "per_page": per_page}
