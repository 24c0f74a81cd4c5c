"""Messages of the declaration service."""
from marshmallow import Schema, fields, validate

from shared.contracts.fields import identifier, text, timestamp

MODES = ("social_review", "independent_review", "independent_appointment")


class Submitted(Schema):
    declaration_id = identifier()
    applicant = identifier()
    applicant_name = text()
    id_number = text()
    unit_code = identifier()
    activity_id = identifier()
    committee_code = identifier()
    committee_name = text()
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    series = text()
    level = text()
    specialty = text()
    qualification_name = text()
    category = text()
    panel_size = fields.Integer(required=True, validate=validate.Range(min=1))
    submitted_at = timestamp()


class Events:
    SCHEMAS = {"declaration.submitted.v1": Submitted}


class Commands:
    SCHEMAS: dict = {}
