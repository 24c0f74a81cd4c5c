"""Messages of the declaration service."""
from marshmallow import Schema, fields, validate

from shared.contracts.fields import identifier, text, timestamp

MODES = ("social_review", "independent_review", "independent_appointment")


class Submitted(Schema):
    """Also the data of ``declaration.resubmitted.v1`` (after a return)."""

    declaration_id = identifier()
    applicant = identifier()
    applicant_name = text()
    id_number = text()
    unit_code = identifier()
    activity_id = identifier()
    # Independent appointment has no committee.
    committee_code = fields.String(required=True, allow_none=True)
    committee_name = fields.String(required=True, allow_none=True)
    mode = fields.String(required=True, validate=validate.OneOf(MODES))
    series = text()
    level = text()
    specialty = text()
    qualification_name = text()
    category = text()
    panel_size = fields.Integer(required=True, validate=validate.Range(min=1))
    submitted_at = timestamp()
    # The activity's settings the review process needs (added; optional for old producers).
    modification_deadline = fields.String(load_default=None, validate=validate.Regexp(r"^\d{4}-\d{2}-\d{2}$"))
    content = fields.Dict(load_default=None, metadata={
        "description": "the declaration as submitted: profile snapshot, items, exception claims, employer's "
                       "proof, series sections, required materials (attachments by reference)"})
    settings = fields.Dict(load_default=None, metadata={"description": "activity settings: defence levels, "
                                                                        "publicity days, service levels, ..."})
    # Every profile attachment the declaration refers to (snapshot sections, items, claims, proofs,
    # materials): the organisations it reaches may open these and no others. Absent from old producers.
    attachment_ids = fields.List(fields.String(), load_default=None, allow_none=True)


class Withdrawn(Schema):
    declaration_id = identifier()
    applicant = identifier()
    at = timestamp()


class ReExaminationRequested(Schema):
    """The applicant asks for re-examination (复查) of a failed vote, within the period, with a reason."""

    declaration_id = identifier()
    applicant = identifier()
    reason = text()
    at = timestamp()


class ReturnForRevision(Schema):
    """Review -> declaration: returned to the applicant for revision (退回修改)."""

    declaration_id = identifier()
    stage = text()
    stage_name = text()
    organisation = fields.String(required=True, allow_none=True)
    actor = identifier()
    reason = fields.String(required=True, allow_none=True)
    at = timestamp()


class Events:
    SCHEMAS = {
        "declaration.submitted.v1": Submitted,
        "declaration.resubmitted.v1": Submitted,
        "declaration.withdrawn.v1": Withdrawn,
        "declaration.re_examination.requested.v1": ReExaminationRequested,
    }


class Commands:
    SCHEMAS = {"declaration.return_for_revision.v1": ReturnForRevision}
