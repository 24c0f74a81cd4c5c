"""Messages of the profile service (people and the directory)."""
from marshmallow import Schema, fields, validate

from shared.contracts.fields import identifier, text

ORG_KINDS = ("unit", "department", "committee", "title_office")


class OrganisationRegistered(Schema):
    code = identifier()
    name = text()
    kind = fields.String(required=True, validate=validate.OneOf(ORG_KINDS))
    parent = fields.String(required=True, allow_none=True)


class Snapshot(Schema):
    name = text()
    id_number = text()
    unit_code = identifier()
    unit_name = text()


class SnapshotTaken(Schema):
    declaration_id = identifier()
    applicant = identifier()
    snapshot = fields.Nested(Snapshot, required=True)


class SnapshotRefused(Schema):
    declaration_id = identifier()
    applicant = identifier()
    reason = text()


class TakeSnapshot(Schema):
    declaration_id = identifier()
    applicant = identifier()


class Events:
    SCHEMAS = {
        "profile.organisation.registered.v1": OrganisationRegistered,
        "profile.snapshot.taken.v1": SnapshotTaken,
        "profile.snapshot.refused.v1": SnapshotRefused,
    }


class Commands:
    SCHEMAS = {"profile.take_snapshot.v1": TakeSnapshot}
