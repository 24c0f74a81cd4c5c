"""Messages of the profile service (people and the directory)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, ClassVar

from marshmallow import EXCLUDE, fields, validate

from shared.contracts.fields import SHA256, Identifier, NullableText, OptionalText, Text, Timestamp
from shared.contracts.message import Command, Data, Event, schema_class

ORG_KINDS = ("unit", "department", "committee", "title_office")
Sha256 = Annotated[str, fields.String(required=True, validate=SHA256)]
OptionalInt = Annotated[int | None, fields.Integer(load_default=None, allow_none=True)]
OptionalDict = Annotated[dict[str, Any] | None, fields.Dict(load_default=None, allow_none=True)]
OptionalDicts = Annotated[list[dict[str, Any]] | None, fields.List(fields.Dict(), load_default=None, allow_none=True)]
Strings = Annotated[list[str], fields.List(fields.String(), load_default=list)]


@dataclass(frozen=True, kw_only=True)
class CommitteeScope(Data):
    class Meta:
        unknown = EXCLUDE

    series: Strings = field(default_factory=list)
    levels: Strings = field(default_factory=list)
    specialties: Strings = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class OrganisationRegistered(Event):
    TYPE: ClassVar[str] = "profile.organisation.registered.v1"

    code: Identifier
    name: Text
    kind: Annotated[str, fields.String(required=True, validate=validate.OneOf(ORG_KINDS))]
    parent: NullableText
    # optional (added later): units' ownership; committees' organisation (independent review) and authorised
    # scope; whether the code was registered although it fails the GB 32100 check
    ownership: OptionalText = None
    owner: OptionalText = None
    scope: CommitteeScope | None = None
    check_override: Annotated[bool, fields.Boolean(load_default=False)] = False


@dataclass(frozen=True, kw_only=True)
class AttachmentRef(Data):
    """An attachment by reference: the bytes stay with the profile service, addressed by their hash."""

    class Meta:
        unknown = EXCLUDE

    id: Identifier
    sha256: Sha256
    content_type: Annotated[str, fields.String(required=True)]
    size: Annotated[int, fields.Integer(required=True)]
    name: OptionalText = None
    uploaded_at: OptionalText = None


@dataclass(frozen=True, kw_only=True)
class Completeness(Data):
    class Meta:
        unknown = EXCLUDE

    ready: Annotated[bool, fields.Boolean(required=True)]
    missing: Annotated[list[dict[str, Any]], fields.List(fields.Dict(), load_default=list)] = field(
        default_factory=list
    )


@dataclass(frozen=True, kw_only=True)
class Snapshot(Data):
    """The applicant's complete profile. The first four keys are what older consumers read; the sections
    beside them were added as optional fields (snapshot_version 1)."""

    name: Text
    id_number: Text
    unit_code: Identifier
    unit_name: Text
    subject: OptionalText = None
    version: OptionalInt = None
    snapshot_version: OptionalInt = None
    taken_at: OptionalText = None
    basic: OptionalDict = None
    educations: OptionalDicts = None
    qualification: OptionalDict = None
    certificates: OptionalDicts = None
    work_experiences: OptionalDicts = None
    social_posts: OptionalDicts = None
    continuing_education: OptionalDicts = None
    annual_assessments: OptionalDicts = None
    attachments: Annotated[
        list[AttachmentRef] | None,
        fields.List(fields.Nested(lambda: schema_class(AttachmentRef)()), load_default=None, allow_none=True),
    ] = None
    completeness: Completeness | None = None


@dataclass(frozen=True, kw_only=True)
class SnapshotTaken(Event):
    TYPE: ClassVar[str] = "profile.snapshot.taken.v1"

    declaration_id: Identifier
    applicant: Identifier
    snapshot: Snapshot


@dataclass(frozen=True, kw_only=True)
class SnapshotRefused(Event):
    TYPE: ClassVar[str] = "profile.snapshot.refused.v1"

    declaration_id: Identifier
    applicant: Identifier
    reason: Text


@dataclass(frozen=True, kw_only=True)
class IdentityCorrected(Event):
    """The title office corrected an applicant's registered name or ID number (one event per field).
    Snapshots already taken keep their data; other services decide how to react."""

    TYPE: ClassVar[str] = "profile.identity.corrected.v1"

    subject: Identifier
    field: Annotated[str, fields.String(required=True, validate=validate.OneOf(("name", "id_number")))]
    old: Text
    new: Text
    reason: Text
    by: Identifier
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class StaffRegistered(Event):
    """A staff account was bound to an organisation in a role (or its name or role changed)."""

    TYPE: ClassVar[str] = "profile.staff.registered.v1"

    subject: Identifier
    name: Text
    role: Text
    organisation: Identifier


@dataclass(frozen=True, kw_only=True)
class AttachmentStored(Event):
    """An applicant uploaded a file to their profile's store. Other services keep who owns which attachment
    so that a declaration can refer only to its applicant's own files."""

    TYPE: ClassVar[str] = "profile.attachment.stored.v1"

    id: Identifier
    owner: Identifier
    sha256: Sha256
    content_type: Annotated[str, fields.String(required=True)]
    size: Annotated[int, fields.Integer(required=True)]
    name: OptionalText = None
    uploaded_at: Timestamp


@dataclass(frozen=True, kw_only=True)
class EmploymentChanged(Event):
    """The applicant's current employer (the unit of their currently-employed work record) changed; both
    null when they no longer have one. Lets services route by unit before any snapshot is taken."""

    TYPE: ClassVar[str] = "profile.employment.changed.v1"

    subject: Identifier
    unit_code: NullableText
    unit_name: NullableText
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class TakeSnapshot(Command):
    TYPE: ClassVar[str] = "profile.take_snapshot.v1"

    declaration_id: Identifier
    applicant: Identifier


MESSAGES = (
    OrganisationRegistered,
    SnapshotTaken,
    SnapshotRefused,
    IdentityCorrected,
    StaffRegistered,
    AttachmentStored,
    EmploymentChanged,
    TakeSnapshot,
)
