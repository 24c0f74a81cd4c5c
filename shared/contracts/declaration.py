"""Messages of the declaration service."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

from marshmallow import fields, validate

from shared.contracts.fields import Identifier, NullableText, Text, Timestamp
from shared.contracts.message import Command, Event

MODES = ("social_review", "independent_review", "independent_appointment")
Mode = Annotated[str, fields.String(required=True, validate=validate.OneOf(MODES))]


@dataclass(frozen=True, kw_only=True)
class Submitted(Event):
    TYPE: ClassVar[str] = "declaration.submitted.v1"

    declaration_id: Identifier
    applicant: Identifier
    applicant_name: Text
    id_number: Text
    unit_code: Identifier
    activity_id: Identifier
    # Independent appointment has no committee.
    committee_code: NullableText
    committee_name: NullableText
    mode: Mode
    series: Text
    level: Text
    specialty: Text
    qualification_name: Text
    category: Text
    panel_size: Annotated[int, fields.Integer(required=True, validate=validate.Range(min=1))]
    submitted_at: Timestamp
    # The activity's settings the review process needs (added; optional for old producers).
    modification_deadline: Annotated[
        str | None, fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}-\d{2}-\d{2}$"))
    ] = None
    content: Annotated[
        dict[str, Any] | None,
        fields.Dict(
            load_default=None,
            metadata={
                "description": "the declaration as submitted: profile snapshot, items, exception claims, employer's "
                "proof, series sections, required materials (attachments by reference)"
            },
        ),
    ] = None
    settings: Annotated[
        dict[str, Any] | None,
        fields.Dict(
            load_default=None,
            metadata={"description": "activity settings: defence levels, publicity days, service levels, ..."},
        ),
    ] = None
    # Every profile attachment the declaration refers to (snapshot sections, items, claims, proofs,
    # materials): the organisations it reaches may open these and no others. Absent from old producers.
    attachment_ids: Annotated[list[str] | None, fields.List(fields.String(), load_default=None, allow_none=True)] = None


@dataclass(frozen=True, kw_only=True)
class Resubmitted(Submitted):
    """Submitted again after a return: the same data."""

    TYPE: ClassVar[str] = "declaration.resubmitted.v1"


@dataclass(frozen=True, kw_only=True)
class Withdrawn(Event):
    TYPE: ClassVar[str] = "declaration.withdrawn.v1"

    declaration_id: Identifier
    applicant: Identifier
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class ReExaminationRequested(Event):
    """The applicant asks for re-examination (复查) of a failed vote, within the period, with a reason."""

    TYPE: ClassVar[str] = "declaration.re_examination.requested.v1"

    declaration_id: Identifier
    applicant: Identifier
    reason: Text
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class ReturnForRevision(Command):
    """Review -> declaration: returned to the applicant for revision (退回修改)."""

    TYPE: ClassVar[str] = "declaration.return_for_revision.v1"

    declaration_id: Identifier
    stage: Text
    stage_name: Text
    organisation: NullableText
    actor: Identifier
    reason: NullableText
    at: Timestamp


MESSAGES = (Submitted, Resubmitted, Withdrawn, ReExaminationRequested, ReturnForRevision)
