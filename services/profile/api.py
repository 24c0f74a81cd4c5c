"""The profile service's HTTP API: the applicant's own profile and the directory."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from services.profile import service
from shared.identity.flask_auth import current_principal, require_roles
from shared.web.app import database

blp = Blueprint("profile", __name__, url_prefix="/api/v1", description="Applicant profiles and the directory")


class WorkExperienceIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(service.WORK_STATUSES),
                           metadata={"description": "current, former or part_time (在职, 曾任职, 兼职)"})
    unit_code = fields.String(load_default=None, validate=validate.Length(equal=18),
                              metadata={"description": "unified social credit code of a registered unit"})
    unit_name = fields.String(load_default=None, validate=validate.Length(max=200))
    start_date = fields.Date(required=True)
    end_date = fields.Date(load_default=None)


class WorkExperienceOut(Schema):
    id = fields.Integer()
    status = fields.String()
    unit_code = fields.String(allow_none=True)
    unit_name = fields.String()
    start_date = fields.Date()
    end_date = fields.Date(allow_none=True)


class ProfileOut(Schema):
    subject = fields.String()
    name = fields.String()
    id_number = fields.String()
    work_experiences = fields.List(fields.Nested(WorkExperienceOut))


class OrganisationSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(equal=18))
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    kind = fields.String(required=True, validate=validate.OneOf(service.ORG_KINDS))
    parent = fields.String(load_default=None, attribute="parent_code", allow_none=True)


@blp.route("/profile")
class MyProfile(MethodView):
    @blp.response(200, ProfileOut)
    @require_roles("applicant")
    def get(self):
        """My profile (created on first use from the verified identity)."""
        principal = current_principal()
        with database().uow() as uow:
            profile = service.profile_for(uow, principal)
            result = {"subject": profile.subject, "name": profile.name, "id_number": profile.id_number,
                      "work_experiences": service.work_experiences(uow, profile.subject)}
            uow.commit()
            return result


@blp.route("/profile/work-experiences")
class MyWorkExperiences(MethodView):
    @blp.arguments(WorkExperienceIn)
    @blp.response(201, WorkExperienceOut)
    @require_roles("applicant")
    def post(self, data):
        """Add a work experience (工作经历); a current one must name a registered unit."""
        with database().uow() as uow:
            record = service.add_work_experience(uow, current_principal(), data)
            uow.commit()
            return record


@blp.route("/organisations")
class Organisations(MethodView):
    @blp.response(200, OrganisationSchema(many=True))
    def get(self):
        """The directory of registered organisations."""
        current_principal()
        with database().uow(readonly=True) as uow:
            return service.organisations(uow)

    @blp.arguments(OrganisationSchema)
    @blp.response(201, OrganisationSchema)
    @require_roles("title_office")
    def post(self, data):
        """Register an organisation (title office only)."""
        with database().uow() as uow:
            service.register_organisation(uow, data["code"], data["name"], data["kind"], data["parent_code"])
            uow.commit()
            return service.organisation(uow, data["code"])


@blp.route("/organisations/<code>")
class OrganisationByCode(MethodView):
    @blp.response(200, OrganisationSchema)
    def get(self, code: str):
        """One registered organisation."""
        current_principal()
        with database().uow(readonly=True) as uow:
            return service.organisation(uow, code)
