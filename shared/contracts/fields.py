"""The fields messages are made of, kept JSON-native so validated data is stored as given.

Each alias pairs a Python type with the marshmallow field that checks it on the wire, for the
message classes (``declaration_id: Identifier``); marshmallow-dataclass uses the field as given.
"""

from __future__ import annotations

from typing import Annotated, Any

from marshmallow import fields, validate

ISO_DATE = validate.Regexp(r"^\d{4}-\d{2}-\d{2}$", error="must be a date YYYY-MM-DD")
SHA256 = validate.Regexp(r"^[0-9a-f]{64}$")


def text(required: bool = True, allow_none: bool = False, **kw: Any) -> fields.String:
    return fields.String(required=required, allow_none=allow_none, **kw)


def date(required: bool = True) -> fields.String:
    return fields.String(required=required, validate=ISO_DATE)


def timestamp(required: bool = True) -> fields.String:
    # ISO 8601 with offset; kept a string so the envelope stays plain JSON.
    return fields.String(required=required, validate=validate.Regexp(r"^\d{4}-\d{2}-\d{2}T"))


def identifier() -> fields.String:
    return fields.String(required=True, validate=validate.Length(min=1, max=64))


Identifier = Annotated[str, identifier()]
Text = Annotated[str, text()]
Timestamp = Annotated[str, timestamp()]
IsoDate = Annotated[str, date()]
# Always present, null when there is none (e.g. the organisation of a step that has none).
NullableText = Annotated[str | None, fields.String(required=True, allow_none=True)]
# Added after the first release: absent from older producers, read as None.
OptionalText = Annotated[str | None, fields.String(load_default=None, allow_none=True)]
