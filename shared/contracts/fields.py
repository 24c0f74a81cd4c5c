"""Field helpers kept JSON-native, so validated data is stored as given."""
from marshmallow import fields, validate

ISO_DATE = validate.Regexp(r"^\d{4}-\d{2}-\d{2}$", error="must be a date YYYY-MM-DD")


def text(required: bool = True, allow_none: bool = False, **kw):  # noqa: ANN201
    return fields.String(required=required, allow_none=allow_none, **kw)


def date(required: bool = True):  # noqa: ANN201
    return fields.String(required=required, validate=ISO_DATE)


def timestamp(required: bool = True):  # noqa: ANN201
    # ISO 8601 with offset; kept a string so the envelope stays plain JSON.
    return fields.String(required=required, validate=validate.Regexp(r"^\d{4}-\d{2}-\d{2}T"))


def identifier():  # noqa: ANN201
    return fields.String(required=True, validate=validate.Length(min=1, max=64))
