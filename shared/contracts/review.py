"""Messages of the review service (the running processes)."""
from marshmallow import Schema, fields

from shared.contracts.fields import identifier, text, timestamp


class StageChanged(Schema):
    declaration_id = identifier()
    applicant = identifier()
    stage = text()
    stage_name = text()
    role = text()
    organisation = fields.String(required=True, allow_none=True)
    at = timestamp()


class DecisionRecorded(Schema):
    declaration_id = identifier()
    applicant = identifier()
    stage = text()
    stage_name = text()
    decision = text()
    reason = fields.String(required=True, allow_none=True)
    actor = identifier()
    organisation = fields.String(required=True, allow_none=True)
    at = timestamp()


class Completed(Schema):
    declaration_id = identifier()
    applicant = identifier()
    outcome = text()
    at = timestamp()


class Events:
    SCHEMAS = {
        "review.stage.changed.v1": StageChanged,
        "review.decision.recorded.v1": DecisionRecorded,
        "review.completed.v1": Completed,
    }


class Commands:
    SCHEMAS: dict = {}
