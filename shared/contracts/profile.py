"""Messages of the profile service (people and the directory)."""
from marshmallow import EXCLUDE, Schema, fields, validate

from shared.contracts.fields import identifier, text, timestamp

ORG_KINDS = ("unit", "department", "committee", "title_office")


class CommitteeScope(Schema):
    class Meta:
        unknown = EXCLUDE

    series = fields.List(fields.String(), load_default=list)
    levels = fields.List(fields.String(), load_default=list)
    specialties = fields.List(fields.String(), load_default=list)


class OrganisationRegistered(Schema):
    code = identifier()
    name = text()
    kind = fields.String(required=True, validate=validate.OneOf(ORG_KINDS))
    parent = fields.String(required=True, allow_none=True)
    # optional (added later): units' ownership; committees' organisation (independent review) and authorised
    # scope; whether the code was registered although it fails the GB 32100 check
    ownership = fields.String(load_default=None, allow_none=True)
    owner = fields.String(load_default=None, allow_none=True)
    scope = fields.Nested(CommitteeScope, load_default=None, allow_none=True)
    check_override = fields.Boolean(load_default=False)


class AttachmentRef(Schema):
    """An attachment by reference: the bytes stay with the profile service, addressed by their hash."""

    class Meta:
        unknown = EXCLUDE

    id = identifier()
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    name = fields.String(load_default=None, allow_none=True)
    uploaded_at = fields.String(load_default=None, allow_none=True)


class Completeness(Schema):
    class Meta:
        unknown = EXCLUDE

    ready = fields.Boolean(required=True)
    missing = fields.List(fields.Dict(), load_default=list)


class Snapshot(Schema):
    """The applicant's complete profile. The first four keys are what older consumers read; the sections
    beside them were added as optional fields (snapshot_version 1)."""

    name = text()
    id_number = text()
    unit_code = identifier()
    unit_name = text()
    subject = fields.String(load_default=None, allow_none=True)
    version = fields.Integer(load_default=None, allow_none=True)
    snapshot_version = fields.Integer(load_default=None, allow_none=True)
    taken_at = fields.String(load_default=None, allow_none=True)
    basic = fields.Dict(load_default=None, allow_none=True)
    educations = fields.List(fields.Dict(), load_default=None, allow_none=True)
    qualification = fields.Dict(load_default=None, allow_none=True)
    certificates = fields.List(fields.Dict(), load_default=None, allow_none=True)
    work_experiences = fields.List(fields.Dict(), load_default=None, allow_none=True)
    social_posts = fields.List(fields.Dict(), load_default=None, allow_none=True)
    continuing_education = fields.List(fields.Dict(), load_default=None, allow_none=True)
    annual_assessments = fields.List(fields.Dict(), load_default=None, allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentRef), load_default=None, allow_none=True)
    completeness = fields.Nested(Completeness, load_default=None, allow_none=True)


class SnapshotTaken(Schema):
    declaration_id = identifier()
    applicant = identifier()
    snapshot = fields.Nested(Snapshot, required=True)


class SnapshotRefused(Schema):
    declaration_id = identifier()
    applicant = identifier()
    reason = text()


class IdentityCorrected(Schema):
    """The title office corrected an applicant's registered name or ID number (one event per field).
    Snapshots already taken keep their data; other services decide how to react."""

    subject = identifier()
    field = fields.String(required=True, validate=validate.OneOf(("name", "id_number")))
    old = text()
    new = text()
    reason = text()
    by = identifier()
    at = timestamp()


class StaffRegistered(Schema):
    """A staff account was bound to an organisation in a role (or its name or role changed)."""

    subject = identifier()
    name = text()
    role = text()
    organisation = identifier()


class AttachmentStored(Schema):
    """An applicant uploaded a file to their profile's store. Other services keep who owns which attachment
    so that a declaration can refer only to its applicant's own files."""

    id = identifier()
    owner = identifier()
    sha256 = fields.String(required=True, validate=validate.Regexp(r"^[0-9a-f]{64}$"))
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    name = fields.String(load_default=None, allow_none=True)
    uploaded_at = timestamp()


class EmploymentChanged(Schema):
    """The applicant's current employer (the unit of their currently-employed work record) changed; both
    null when they no longer have one. Lets services route by unit before any snapshot is taken."""

    subject = identifier()
    unit_code = fields.String(required=True, allow_none=True)
    unit_name = fields.String(required=True, allow_none=True)
    at = timestamp()


class TakeSnapshot(Schema):
    declaration_id = identifier()
    applicant = identifier()


class Events:
    SCHEMAS = {
        "profile.organisation.registered.v1": OrganisationRegistered,
        "profile.snapshot.taken.v1": SnapshotTaken,
        "profile.snapshot.refused.v1": SnapshotRefused,
        "profile.identity.corrected.v1": IdentityCorrected,
        "profile.staff.registered.v1": StaffRegistered,
        "profile.attachment.stored.v1": AttachmentStored,
        "profile.employment.changed.v1": EmploymentChanged,
    }


class Commands:
    SCHEMAS = {"profile.take_snapshot.v1": TakeSnapshot}
