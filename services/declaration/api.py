"""The declaration service's HTTP API: activities and the applicant's declarations."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from services.declaration import service
from shared.contracts.declaration import MODES
from shared.identity.flask_auth import current_principal, require_roles
from shared.web.app import database
from shared.web.schemas import PageQuery, page_of

blp = Blueprint("declarations", __name__, url_prefix="/api/v1", description="Review activities and declarations")

CATEGORIES = ("normal", "education_exception", "seniority_exception", "lateral_transfer",
              "civil_servant_transfer", "enterprise_direct")


class ActivityQuery(Schema):
    mode = fields.String(validate=validate.OneOf(MODES))
    series = fields.String()
    level = fields.String()
    specialty = fields.String()
    qualification_name = fields.String()
    category = fields.String(validate=validate.OneOf(CATEGORIES))


class ActivityOut(Schema):
    id = fields.String()
    name = fields.String()
    mode = fields.String()
    committee_code = fields.String()
    committee_name = fields.String()
    series = fields.String()
    levels = fields.List(fields.String())
    specialties = fields.List(fields.String())
    qualification_names = fields.List(fields.String())
    categories = fields.List(fields.String())
    opens_on = fields.Date()
    initial_deadline = fields.Date()
    modification_deadline = fields.Date()
    consultation_phone = fields.String()


class DeclarationIn(Schema):
    activity_id = fields.String(required=True)
    level = fields.String(required=True)
    specialty = fields.String(required=True)
    qualification_name = fields.String(required=True)
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))


class TrailOut(Schema):
    kind = fields.String()
    stage = fields.String(allow_none=True)
    stage_name = fields.String(allow_none=True)
    organisation = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    at = fields.DateTime()


class DeclarationOut(Schema):
    id = fields.String()
    activity_id = fields.String()
    mode = fields.String()
    series = fields.String()
    level = fields.String()
    specialty = fields.String()
    qualification_name = fields.String()
    category = fields.String()
    status = fields.String(metadata={"description": "preparing, draft, refused, submitted, in_review, returned, "
                                                    "completed"})
    refusal_reason = fields.String(allow_none=True)
    return_reason = fields.String(allow_none=True, metadata={"description": "why it was returned (退回原因)"})
    returned_at = fields.DateTime(allow_none=True)
    returned_by = fields.String(allow_none=True)
    snapshot = fields.Dict(allow_none=True)
    stage = fields.String(allow_none=True)
    stage_name = fields.String(allow_none=True)
    stage_organisation = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    created_at = fields.DateTime()
    submitted_at = fields.DateTime(allow_none=True)


class DeclarationDetail(DeclarationOut):
    trail = fields.List(fields.Nested(TrailOut))


class DeclarationPage(Schema):
    items = fields.List(fields.Nested(DeclarationOut))
    total = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


@blp.route("/activities")
class Activities(MethodView):
    @blp.arguments(ActivityQuery, location="query")
    @blp.response(200, ActivityOut(many=True))
    def get(self, filters):
        """Ongoing review activities (进行中的评审活动) matching the filters."""
        current_principal()
        with database().uow(readonly=True) as uow:
            return service.ongoing_activities(uow, filters)


@blp.route("/declarations")
class Declarations(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, DeclarationPage)
    @require_roles("applicant")
    def get(self, query):
        """My declarations (我的申报), newest first."""
        with database().uow(readonly=True) as uow:
            items, total = service.mine(uow, current_principal(), query["page"], query["per_page"])
            return page_of(items, total, query["page"], query["per_page"])

    @blp.arguments(DeclarationIn)
    @blp.response(202, DeclarationOut)
    @require_roles("applicant")
    def post(self, data):
        """Open a declaration; it becomes a draft once the profile snapshot arrives."""
        with database().uow() as uow:
            declaration = service.create(uow, current_principal(), data)
            uow.commit()
            return declaration


@blp.route("/declarations/<declaration_id>")
class DeclarationById(MethodView):
    @blp.response(200, DeclarationDetail)
    @require_roles("applicant")
    def get(self, declaration_id: str):
        """One of my declarations with its full review trail."""
        with database().uow(readonly=True) as uow:
            declaration = service.own(uow, current_principal(), declaration_id)
            detail = {name: getattr(declaration, name) for name in DeclarationOut().fields}
            detail["trail"] = service.trail(uow, declaration_id)
            return detail


@blp.route("/declarations/<declaration_id>/submit")
class Submit(MethodView):
    @blp.response(200, DeclarationOut)
    @require_roles("applicant")
    def post(self, declaration_id: str):
        """Submit a draft to the work unit (提交), or resubmit a returned one."""
        with database().uow() as uow:
            declaration = service.submit(uow, current_principal(), declaration_id)
            uow.commit()
            return declaration
