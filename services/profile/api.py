"""The profile service's HTTP API: the applicant's own profile, attachments, identity corrections, the directory."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, request
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from services.profile import directory, service, templates
from services.profile import rules as r
from services.profile.schemas import (
    AnnualAssessmentOut,
    AttachmentOut,
    BasicOut,
    CertificateOut,
    CompletenessOut,
    ContinuingEducationOut,
    ContinuingEducationYearOut,
    EducationOut,
    ProfileOut,
    QualificationOut,
    SocialPostOut,
    WorkExperienceOut,
)
from shared.errors import DomainError
from shared.identity.flask_auth import require_roles
from shared.web.blueprint import Blueprint
from shared.web.schemas import Page, PageQuery, page_of
from shared.web.views import read_only, transaction

blp = Blueprint("profile", __name__, url_prefix="/api/v1", description="Applicant profiles and the directory")


# -- input schemas -----------------------------------------------------------------


class BasicIn(Schema):
    name = fields.String(load_default=None, metadata={"description": "not changeable: from the identity platform"})
    id_number = fields.String(load_default=None, metadata={"description": "not changeable: from the identity platform"})
    id_type = fields.String(validate=validate.OneOf(r.ID_TYPES))
    gender = fields.String(validate=validate.OneOf(r.GENDERS), allow_none=True)
    nationality = fields.String(validate=validate.Length(min=1, max=50))
    ethnicity = fields.String(validate=validate.Length(max=30), allow_none=True)
    political_status = fields.String(validate=validate.Length(max=30), allow_none=True)
    mobile = fields.String(
        validate=validate.Regexp(
            r"^1[3-9]\d{9}$", error="a mobile number has 11 digits starting with 1 (手机号码格式错误)"
        ),
        allow_none=True,
    )
    telephone = fields.String(validate=validate.Length(max=30), allow_none=True)
    date_of_birth = fields.Date(allow_none=True)
    admin_post = fields.String(allow_none=True, metadata={"description": "at most 20 characters, no party posts"})
    on_establishment = fields.Boolean(metadata={"description": "on the establishment of a state-owned unit (在编)"})
    admin_post_level = fields.String(
        validate=validate.Length(max=30),
        allow_none=True,
        metadata={
            "description": "行政职务级别: only for staff on the establishment (on_establishment) whose current "
            "employment is at a unit the directory registers as state-owned (public_institution, "
            "state_enterprise, government)"
        },
    )
    foreign_language = fields.String(validate=validate.Length(max=100), allow_none=True)
    computer_skill = fields.String(validate=validate.Length(max=100), allow_none=True)
    photo_id = fields.String(allow_none=True, metadata={"description": "an uploaded JPEG or PNG attachment"})


class EducationIn(Schema):
    school = fields.String(required=True, validate=validate.Length(min=1, max=200))
    specialty = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "for an overseas degree, the Chinese name in the verification letter"},
    )
    level = fields.String(required=True, validate=validate.OneOf(r.EDUCATION_LEVELS))
    degree = fields.String(load_default=None, validate=validate.OneOf(r.DEGREES), allow_none=True)
    study_mode = fields.String(required=True, validate=validate.OneOf(r.STUDY_MODES))
    start_date = fields.Date(required=True)
    end_date = fields.Date(required=True)
    before_work = fields.Boolean(
        load_default=False, metadata={"description": "obtained before starting work (工作前学历)"}
    )
    overseas = fields.Boolean(load_default=False)
    certificate_id = fields.String(load_default=None, allow_none=True)
    verification_letter_id = fields.String(load_default=None, allow_none=True)


class EducationPatch(Schema):
    school = fields.String(validate=validate.Length(min=1, max=200))
    specialty = fields.String(validate=validate.Length(min=1, max=100))
    level = fields.String(validate=validate.OneOf(r.EDUCATION_LEVELS))
    degree = fields.String(validate=validate.OneOf(r.DEGREES), allow_none=True)
    study_mode = fields.String(validate=validate.OneOf(r.STUDY_MODES))
    start_date = fields.Date()
    end_date = fields.Date()
    before_work = fields.Boolean()
    overseas = fields.Boolean()
    certificate_id = fields.String(allow_none=True)
    verification_letter_id = fields.String(allow_none=True)


class AppointmentIn(Schema):
    post = fields.String(load_default=None, validate=validate.Length(max=100), allow_none=True)
    appointed_on = fields.Date(load_default=None, allow_none=True)
    proof_kind = fields.String(required=True, validate=validate.OneOf(r.PROOF_KINDS))
    proof_ids = fields.List(
        fields.String(),
        load_default=None,
        allow_none=True,
        metadata={
            "description": "the proofs, each an uploaded attachment: appointment letter, unit certificate or labour "
            "contract; several where one period does not make up the years the policy asks "
            "(资历信息附件可多个)"
        },
    )
    proof_id = fields.String(
        load_default=None,
        allow_none=True,
        metadata={"description": "former single proof: still accepted, as a list of one"},
    )


class QualificationIn(Schema):
    specialty = fields.String(validate=validate.Length(min=1, max=100), allow_none=True)
    school_stage = fields.String(
        validate=validate.Length(max=30),
        allow_none=True,
        metadata={"description": "school teachers: the stage they teach (学段)"},
    )
    first_professional_work_date = fields.Date(allow_none=True)
    non_professional_years = fields.Float(validate=validate.Range(min=0, max=60))
    appointment = fields.Nested(AppointmentIn, allow_none=True)


class CertificateIn(Schema):
    kind = fields.String(required=True, validate=validate.OneOf(r.CERTIFICATE_KINDS))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    level = fields.String(load_default=None, validate=validate.OneOf(r.TITLE_LEVELS), allow_none=True)
    obtained_by = fields.String(load_default=None, validate=validate.OneOf(r.TITLE_OBTAINED_BY), allow_none=True)
    number = fields.String(load_default=None, validate=validate.Length(max=64), allow_none=True)
    issued_on = fields.Date(required=True)
    issuer = fields.String(load_default=None, validate=validate.Length(max=200), allow_none=True)
    attachment_id = fields.String(load_default=None, allow_none=True)


class PostIn(Schema):
    start_date = fields.Date(required=True)
    end_date = fields.Date(load_default=None, allow_none=True)
    admin_post = fields.String(load_default=None, validate=validate.Length(max=50), allow_none=True)
    professional_post = fields.String(load_default=None, validate=validate.Length(max=50), allow_none=True)


class WorkExperienceIn(Schema):
    status = fields.String(
        required=True,
        validate=validate.OneOf(r.WORK_STATUSES),
        metadata={"description": "current, former or part_time (在职, 曾任职, 兼职)"},
    )
    unit_code = fields.String(
        load_default=None,
        validate=validate.Length(equal=18),
        metadata={"description": "unified social credit code of a registered unit"},
    )
    unit_name = fields.String(load_default=None, validate=validate.Length(max=200))
    start_date = fields.Date(required=True)
    end_date = fields.Date(load_default=None)
    admin_post = fields.String(load_default=None, validate=validate.Length(max=50), allow_none=True)
    professional_post = fields.String(load_default=None, validate=validate.Length(max=50), allow_none=True)
    role = fields.String(
        load_default=None,
        validate=validate.OneOf(r.WORK_ROLES),
        allow_none=True,
        metadata={"description": "led, independent or participant (主持, 独立完成, 参与)"},
    )
    participant_rank = fields.Integer(load_default=None, validate=validate.Range(min=1), allow_none=True)
    dispatched = fields.Boolean(load_default=False, metadata={"description": "labour dispatch (劳务派遣)"})
    dispatched_to = fields.String(load_default=None, validate=validate.Length(max=200), allow_none=True)
    dispatch_proof_id = fields.String(
        load_default=None,
        allow_none=True,
        metadata={
            "description": "labour dispatch: the proof of genuine performance (真实履职证明) issued and stamped by the "
            "unit dispatched to, an uploaded attachment; the template is "
            "GET /api/v1/profile/templates/dispatch-proof"
        },
    )
    posts = fields.List(fields.Nested(PostIn), load_default=list)
    main_work = fields.String(load_default=None, allow_none=True, metadata={"description": "at most 500 characters"})


class SocialPostIn(Schema):
    organisation = fields.String(required=True, validate=validate.Length(min=1, max=200))
    post = fields.String(required=True, validate=validate.Length(min=1, max=100))
    start_date = fields.Date(required=True)
    end_date = fields.Date(load_default=None, allow_none=True)


class ContinuingEducationIn(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=1950))
    hours = fields.Float(required=True, metadata={"description": "total hours (学时), more than 0"})
    specialist_hours = fields.Float(
        required=True,
        metadata={
            "description": "of which specialist subjects (专业科目学时), 0 to hours; a year meets 人社部令第25号 with at "
            "least 90 hours of which at least 2/3 specialist"
        },
    )
    content = fields.String(load_default=None, validate=validate.Length(max=200), allow_none=True)
    attachment_ids = fields.List(fields.String(), load_default=list)


class AnnualAssessmentIn(Schema):
    year = fields.Integer(required=True, validate=validate.Range(min=1950))
    result = fields.String(
        required=True,
        validate=validate.OneOf(r.ASSESSMENT_RESULTS),
        metadata={
            "description": "excellent, competent, basically_competent, incompetent (优秀, 合格/称职, 基本合格, 不合格)"
        },
    )


class UploadIn(Schema):
    file = Upload(required=True)


class CorrectionIn(Schema):
    name = fields.String(load_default=None, validate=validate.Length(min=1, max=100), allow_none=True)
    id_number = fields.String(load_default=None, validate=validate.Length(min=1, max=32), allow_none=True)
    reason = fields.String(required=True)


class CorrectionOut(Schema):
    field = fields.String()
    old_value = fields.String()
    new_value = fields.String()
    reason = fields.String()
    corrected_by = fields.String()
    corrected_at = fields.DateTime()


class IdentityOut(Schema):
    subject = fields.String()
    name = fields.String()
    id_number = fields.String()
    corrections = fields.List(fields.Nested(CorrectionOut))


class ScopeSchema(Schema):
    series = fields.List(fields.String(), load_default=list)
    levels = fields.List(fields.String(), load_default=list)
    specialties = fields.List(fields.String(), load_default=list)


class OrganisationSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(equal=18))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(r.ORG_KINDS))
    parent = fields.String(load_default=None, attribute="parent_code", allow_none=True)
    ownership = fields.String(
        load_default=None, allow_none=True, metadata={"description": f"units: one of {', '.join(r.OWNERSHIPS)}"}
    )
    owner = fields.String(
        load_default=None,
        attribute="owner_code",
        allow_none=True,
        metadata={"description": "committees: the organisation it belongs to"},
    )
    scope = fields.Nested(
        ScopeSchema,
        load_default=None,
        allow_none=True,
        metadata={"description": "committees: authorised series, levels and specialties"},
    )
    check_override = fields.Boolean(dump_only=True)
    override_reason = fields.String(
        load_only=True,
        load_default=None,
        allow_none=True,
        metadata={"description": "title office: why a code failing the GB 32100 check is registered"},
    )


class AttachmentPage(Page):
    items = fields.List(fields.Nested(AttachmentOut))


class OrganisationQuery(PageQuery):
    kind = fields.String(load_default=None, validate=validate.OneOf(r.ORG_KINDS))
    parent = fields.String(load_default=None)


class StaffSchema(Schema):
    subject = fields.String(required=True, validate=validate.Length(min=1, max=64))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    role = fields.String(required=True)
    organisation = fields.String(attribute="organisation_code", dump_only=True)


class OrganisationPage(Page):
    items = fields.List(fields.Nested(OrganisationSchema))


class StaffPage(Page):
    items = fields.List(fields.Nested(StaffSchema))


# -- the applicant's own profile ------------------------------------------------------


@blp.route("/profile")
class MyProfile(MethodView):
    @blp.response(200, ProfileOut)
    @require_roles("applicant")
    @transaction
    def get(self, *, uow, principal):
        """My whole profile (created on first use from the verified identity)."""
        return service.whole(uow, service.profile_for(uow, principal))


@blp.route("/profile/basic")
class MyBasic(MethodView):
    @blp.arguments(BasicIn)
    @blp.response(200, BasicOut)
    @require_roles("applicant")
    @transaction
    def patch(self, data, *, uow, principal):
        """Change my basic information (个人基本信息); name and ID number are not mine to change."""
        return service.update_basic(uow, principal, data)


@blp.route("/profile/completeness")
class MyCompleteness(MethodView):
    @blp.response(200, CompletenessOut)
    @require_roles("applicant")
    @transaction
    def get(self, *, uow, principal):
        """What is still missing or wrong before I can declare, item by item."""
        missing = service.completeness(uow, service.profile_for(uow, principal))
        return {"ready": not missing, "missing": missing}


@blp.route("/profile/attachments")
class MyAttachments(MethodView):
    @blp.arguments(UploadIn, location="files")
    @blp.response(201, AttachmentOut)
    @require_roles("applicant")
    @transaction
    def post(self, data, *, uow, principal):
        """Upload an attachment (PDF, JPEG or PNG, judged by content; size-limited)."""
        if request.form:  # the schema reads the files only: a form field beside the file is refused, not ignored
            raise DomainError.on(
                sorted(request.form)[0],
                "unknown_field",
                "an upload takes one part, file; no other field (仅接受上传文件)",
            )
        upload = data["file"]
        from services.profile.attachments import max_bytes

        content = upload.stream.read(max_bytes() + 1)
        return service.upload(uow, principal, upload.filename, content)

    @blp.arguments(PageQuery, location="query")
    @blp.response(200, AttachmentPage)
    @require_roles("applicant")
    @read_only
    def get(self, query, *, uow, principal):
        """My uploaded attachments, oldest first, a page at a time."""
        return page_of(query, *service.attachments_page(uow, principal.subject, query["page"], query["per_page"]))


@blp.route("/attachments/<attachment_id>")
class AttachmentContent(MethodView):
    @blp.response(200, content_type="application/octet-stream")
    @read_only
    def get(self, attachment_id: str, *, uow, principal):
        """An attachment's content as a download, for its owner, the title office and granted staff."""
        record, content = service.attachment_for(uow, principal, attachment_id)
        ascii_name = f"attachment.{record.name.rsplit('.', 1)[-1]}"
        response = Response(content, mimetype=record.content_type)
        response.headers["Content-Disposition"] = (
            f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(record.name, safe='')}"
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["ETag"] = f'"{record.sha256}"'
        return response


@blp.route("/profile/templates/dispatch-proof")
class DispatchProofTemplate(MethodView):
    @blp.response(200, content_type=templates.DOCX, description="a Word document")
    def get(self):
        """The template of the proof of genuine performance for labour dispatch (劳务派遣人员真实履职证明): the
        unit dispatched to fills it in and stamps it; it is uploaded as the work experience's
        ``dispatch_proof_id``."""
        response = Response(templates.dispatch_proof(), mimetype=templates.DOCX)
        response.headers["Content-Disposition"] = (
            'attachment; filename="dispatch-proof-template.docx"; '
            f"filename*=UTF-8''{quote(templates.DISPATCH_PROOF_NAME, safe='')}"
        )
        return response


@blp.route("/profile/educations")
class MyEducations(MethodView):
    @blp.arguments(EducationIn)
    @blp.response(201, EducationOut)
    @require_roles("applicant")
    @transaction
    def post(self, data, *, uow, principal):
        """Add an education by hand (学历信息), with its certificate (and the verification letter if overseas)."""
        return service.add_education(uow, principal, data)


@blp.route("/profile/educations/import")
class ImportEducations(MethodView):
    @blp.response(200, EducationOut(many=True))
    @require_roles("applicant")
    @transaction
    def post(self, *, uow, principal):
        """Refresh my records from the national higher-education register (学信网): they are imported by
        themselves when my profile is created; this adds new ones and takes the register's data again for
        known ones (my degree and before-work flag stay)."""
        return service.import_educations(uow, principal)


@blp.route("/profile/educations/<int:record_id>")
class MyEducation(MethodView):
    @blp.arguments(EducationPatch)
    @blp.response(200, EducationOut)
    @require_roles("applicant")
    @transaction
    def patch(self, data, record_id: int, *, uow, principal):
        """Change an education; a register record takes only the degree and the before-work flag."""
        return service.update_education(uow, principal, record_id, data)

    @blp.response(204)
    @require_roles("applicant")
    @transaction
    def delete(self, record_id: int, *, uow, principal):
        """Delete an education added by hand (register records stay)."""
        service.delete_education(uow, principal, record_id)


@blp.route("/profile/qualification")
class MyQualification(MethodView):
    @blp.arguments(QualificationIn)
    @blp.response(200, QualificationOut)
    @require_roles("applicant")
    @transaction
    def put(self, data, *, uow, principal):
        """Set my qualifications (资历信息): specialty, first professional work date, appointment."""
        return service.qualification(service.update_qualification(uow, principal, data))


def _simple_section(
    path: str, section: str, schema_in: type[Schema], schema_out: type[Schema], save, doc: str, delete=None
):
    """POST to add a record of a list section, PUT to change one in place (the same rules), DELETE to remove
    one."""

    class Collection(MethodView):
        @blp.arguments(schema_in)
        @blp.response(201, schema_out)
        @require_roles("applicant")
        @transaction
        def post(self, data, *, uow, principal):
            return save(uow, principal, data)

    class Item(MethodView):
        @blp.arguments(schema_in)
        @blp.response(200, schema_out)
        @require_roles("applicant")
        @transaction
        def put(self, data, record_id: int, *, uow, principal):
            return save(uow, principal, data, record_id)

        @blp.response(204)
        @require_roles("applicant")
        @transaction
        def delete(self, record_id: int, *, uow, principal):
            if delete is not None:
                delete(uow, principal, record_id)
            else:
                service.delete_record(uow, principal, section, record_id)

    what = section.replace("-", " ")
    Collection.post.__doc__, Item.delete.__doc__ = doc, f"Delete one of my {what}."
    Item.put.__doc__ = f"Change one of my {what} in place: the whole record, under the same rules as adding it."
    Collection.__name__, Item.__name__ = f"My{schema_out.__name__}s", f"My{schema_out.__name__}"
    blp.route(f"/profile/{path}", endpoint=f"{section}-collection")(Collection)
    blp.route(f"/profile/{path}/<int:record_id>", endpoint=f"{section}-item")(Item)


_simple_section(
    "work-experiences",
    "work-experiences",
    WorkExperienceIn,
    WorkExperienceOut,
    service.save_work_experience,
    "Add a work experience (工作经历); a current one must name a registered "
    "unit. A change of the current registered unit is announced as profile.employment.changed.v1.",
    delete=service.delete_work_experience,
)
_simple_section(
    "certificates",
    "certificates",
    CertificateIn,
    CertificateOut,
    service.save_certificate,
    "Add a certificate: the highest title, professional qualifications, skill certificates.",
)
_simple_section(
    "social-posts",
    "social-posts",
    SocialPostIn,
    SocialPostOut,
    service.save_social_post,
    "Add a social organisation post (社会团体任职).",
)
_simple_section(
    "continuing-education",
    "continuing-education",
    ContinuingEducationIn,
    ContinuingEducationOut,
    service.save_continuing_education,
    "Add continuing education (继续教育) of a year: hours and, of "
    "them, specialist-subject hours (several records of one year add up).",
)
_simple_section(
    "annual-assessments",
    "annual-assessments",
    AnnualAssessmentIn,
    AnnualAssessmentOut,
    service.save_annual_assessment,
    "Add an annual assessment (现职称考核), one per year.",
)


@blp.route("/profile/continuing-education/years")
class MyContinuingEducationYears(MethodView):
    @blp.response(200, ContinuingEducationYearOut(many=True))
    @require_roles("applicant")
    @transaction
    def get(self, *, uow, principal):
        """My continuing education per year, and whether each year meets 人社部令第25号: at least 90 hours, of
        which specialist subjects at least two thirds (每年不少于90学时，其中专业科目不少于三分之二)."""
        return service.continuing_education_years(uow, service.profile_for(uow, principal).subject)


# -- identity corrections by the title office -------------------------------------------


@blp.route("/profiles/<subject>/identity")
class Identity(MethodView):
    @blp.response(200, IdentityOut)
    @require_roles("title_office")
    @read_only
    def get(self, subject: str, *, uow):
        """An applicant's registered name and ID number with every correction (title office only)."""
        return service.identity_of(uow, subject)

    @blp.arguments(CorrectionIn)
    @blp.response(200, IdentityOut)
    @require_roles("title_office")
    @transaction
    def post(self, data, subject: str, *, uow, principal):
        """Correct an applicant's name or ID number, with the reason; the correction is recorded."""
        service.correct_identity(uow, principal, subject, data)
        return service.identity_of(uow, subject)


# -- the directory ------------------------------------------------------------------


@blp.route("/organisations")
class Organisations(MethodView):
    @blp.arguments(OrganisationQuery, location="query")
    @blp.response(200, OrganisationPage)
    @read_only
    def get(self, query, *, uow):
        """The directory of registered organisations (filter by kind or parent), a page at a time."""
        return page_of(
            query, *directory.organisations(uow, query["kind"], query["parent"], query["page"], query["per_page"])
        )

    @blp.arguments(OrganisationSchema)
    @blp.response(201, OrganisationSchema)
    @require_roles("title_office", "department")
    @transaction
    def post(self, data, *, uow, principal):
        """Register an organisation: the title office any; a competent department the units under it."""
        data = {**data, "parent": data.pop("parent_code"), "owner": data.pop("owner_code")}
        directory.register_organisation(uow, data, principal)
        return directory.organisation(uow, data["code"].upper())


@blp.route("/organisations/<code>")
class OrganisationByCode(MethodView):
    @blp.response(200, OrganisationSchema)
    @read_only
    def get(self, code: str, *, uow):
        """One registered organisation."""
        return directory.organisation(uow, code)


@blp.route("/organisations/<code>/chain")
class OrganisationChain(MethodView):
    @blp.response(200, OrganisationSchema(many=True))
    @read_only
    def get(self, code: str, *, uow):
        """The competent departments above an organisation, nearest first."""
        return directory.department_chain(uow, code)


@blp.route("/organisations/<code>/staff")
class OrganisationStaff(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, StaffPage)
    @require_roles("unit", "department", "committee", "expert", "title_office")
    @read_only
    def get(self, query, code: str, *, uow, principal):
        """The staff accounts of an organisation (its own staff and the title office), a page at a time."""
        return page_of(query, *directory.staff_of(uow, principal, code, query["page"], query["per_page"]))

    @blp.arguments(StaffSchema)
    @blp.response(201, StaffSchema)
    @require_roles("title_office", "department")
    @transaction
    def post(self, data, code: str, *, uow, principal):
        """Bind a staff account to this organisation in one role."""
        return directory.add_staff(uow, principal, code, data)


@blp.route("/staff")
class StaffAccounts(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, StaffPage)
    @require_roles("title_office")
    @read_only
    def get(self, query, *, uow):
        """Every staff account of the directory, a page at a time (the title office; the development
        identity issuer signs staff in from it)."""
        return page_of(query, *directory.all_staff(uow, query["page"], query["per_page"]))


@blp.route("/staff/<subject>")
class StaffAccountBySubject(MethodView):
    @blp.response(200, StaffSchema)
    @read_only
    def get(self, subject: str, *, uow, principal):
        """One staff account: its organisation and role (the title office, or the account itself)."""
        return directory.staff_account(uow, principal, subject)
