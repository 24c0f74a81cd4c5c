"""Output shapes of the profile, shared by the HTTP API and the snapshot message (JSON-native when dumped)."""

from __future__ import annotations

from marshmallow import Schema, fields


class AttachmentOut(Schema):
    id = fields.String()
    sha256 = fields.String()
    content_type = fields.String()
    size = fields.Integer()
    name = fields.String()
    uploaded_at = fields.DateTime()


class BasicOut(Schema):
    id_type = fields.String()
    gender = fields.String(allow_none=True)
    nationality = fields.String()
    ethnicity = fields.String(allow_none=True)
    political_status = fields.String(allow_none=True)
    mobile = fields.String(allow_none=True)
    telephone = fields.String(allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    admin_post = fields.String(allow_none=True)
    on_establishment = fields.Boolean()
    admin_post_level = fields.String(allow_none=True)
    foreign_language = fields.String(allow_none=True)
    computer_skill = fields.String(allow_none=True)
    photo_id = fields.String(allow_none=True)


class EducationOut(Schema):
    id = fields.Integer()
    source = fields.String(metadata={"description": "register (学信网, cannot be deleted) or manual"})
    register_id = fields.String(allow_none=True)
    school = fields.String()
    specialty = fields.String()
    level = fields.String()
    degree = fields.String(allow_none=True)
    study_mode = fields.String()
    start_date = fields.Date()
    end_date = fields.Date()
    before_work = fields.Boolean()
    overseas = fields.Boolean()
    certificate_id = fields.String(allow_none=True)
    verification_letter_id = fields.String(allow_none=True)


class AppointmentOut(Schema):
    post = fields.String(allow_none=True)
    appointed_on = fields.String(allow_none=True)
    proof_kind = fields.String()
    proof_ids = fields.List(
        fields.String(),
        metadata={"description": "the proofs (附件), several where several periods make up the required years"},
    )
    proof_id = fields.String(
        allow_none=True, metadata={"description": "the first of proof_ids, for readers of the former single field"}
    )


class QualificationOut(Schema):
    specialty = fields.String(allow_none=True)
    school_stage = fields.String(allow_none=True)
    first_professional_work_date = fields.Date(allow_none=True)
    non_professional_years = fields.Float()
    professional_years = fields.Float(
        allow_none=True,
        metadata={"description": "computed: years since the first professional work minus the non-professional years"},
    )
    appointment = fields.Nested(AppointmentOut, allow_none=True)


class CertificateOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    name = fields.String()
    level = fields.String(allow_none=True)
    obtained_by = fields.String(allow_none=True)
    number = fields.String(allow_none=True)
    issued_on = fields.Date()
    issuer = fields.String(allow_none=True)
    attachment_id = fields.String()


class PostOut(Schema):
    start_date = fields.String()
    end_date = fields.String(allow_none=True)
    admin_post = fields.String(allow_none=True)
    professional_post = fields.String(allow_none=True)


class WorkExperienceOut(Schema):
    id = fields.Integer()
    status = fields.String()
    unit_code = fields.String(allow_none=True)
    unit_name = fields.String()
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)
    admin_post = fields.String(allow_none=True)
    professional_post = fields.String(allow_none=True)
    role = fields.String(allow_none=True)
    participant_rank = fields.Integer(allow_none=True)
    dispatched = fields.Boolean()
    dispatched_to = fields.String(allow_none=True)
    dispatch_proof_id = fields.String(allow_none=True)
    posts = fields.List(fields.Nested(PostOut))
    main_work = fields.String(allow_none=True)


class SocialPostOut(Schema):
    id = fields.Integer()
    organisation = fields.String()
    post = fields.String()
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)


class ContinuingEducationOut(Schema):
    id = fields.Integer()
    year = fields.Integer()
    hours = fields.Float(metadata={"description": "total hours (学时)"})
    specialist_hours = fields.Float(metadata={"description": "of which specialist subjects (专业科目学时)"})
    content = fields.String(allow_none=True)
    attachment_ids = fields.List(fields.String())


class ContinuingEducationYearOut(Schema):
    year = fields.Integer()
    hours = fields.Float(metadata={"description": "the year's total hours"})
    specialist_hours = fields.Float(metadata={"description": "the year's specialist-subject hours"})
    meets_hours = fields.Boolean(metadata={"description": "at least 90 hours (每年不少于90学时)"})
    meets_specialist_share = fields.Boolean(
        metadata={"description": "specialist subjects at least 2/3 of the hours (专业科目不少于三分之二)"}
    )
    meets_rule = fields.Boolean(metadata={"description": "both: the year meets 人社部令第25号"})


class AnnualAssessmentOut(Schema):
    id = fields.Integer()
    year = fields.Integer()
    result = fields.String()


class MissingItem(Schema):
    section = fields.String()
    field = fields.String()
    rule = fields.String()
    message = fields.String()


class CompletenessOut(Schema):
    ready = fields.Boolean()
    missing = fields.List(fields.Nested(MissingItem))


class ProfileOut(Schema):
    subject = fields.String()
    name = fields.String()
    id_number = fields.String()
    version = fields.Integer()
    basic = fields.Nested(BasicOut)
    educations = fields.List(fields.Nested(EducationOut))
    qualification = fields.Nested(QualificationOut)
    certificates = fields.List(fields.Nested(CertificateOut))
    work_experiences = fields.List(fields.Nested(WorkExperienceOut))
    social_posts = fields.List(fields.Nested(SocialPostOut))
    continuing_education = fields.List(fields.Nested(ContinuingEducationOut))
    continuing_education_years = fields.List(
        fields.Nested(ContinuingEducationYearOut), metadata={"description": "per-year totals against 人社部令第25号"}
    )
    annual_assessments = fields.List(fields.Nested(AnnualAssessmentOut))


class SnapshotSchema(ProfileOut):
    """The profile as a declaration keeps it: the four top-level keys older consumers read, then the sections.
    The per-year continuing-education totals stay out (the contract has no such key; they follow from the
    entries, which carry ``specialist_hours``)."""

    class Meta:
        exclude = ("continuing_education_years",)

    unit_code = fields.String()
    unit_name = fields.String()
    snapshot_version = fields.Integer()
    taken_at = fields.String()
    attachments = fields.List(fields.Nested(AttachmentOut))
    completeness = fields.Nested(CompletenessOut)
