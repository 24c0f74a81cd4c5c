"""Messages of the notify service."""
from marshmallow import Schema, fields

from shared.contracts.fields import identifier, text, timestamp


class ReportFiled(Schema):
    """A report (举报) about a declaration under publicity, for the organisation running it."""

    reference = identifier()  # given to the reporter to look up the answer
    declaration_id = identifier()
    content = text()
    reporter = fields.String(required=True, allow_none=True)  # subject, or None when anonymous
    filed_at = timestamp()


class Events:
    SCHEMAS = {"notify.report.filed.v1": ReportFiled}


class Commands:
    SCHEMAS: dict = {}
