"""The review API's flow actions: publicity and objections, expert panels (recusal,
defence, attendance, votes, tally)."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from services.review import panels, publicity
from services.review.api import TaskOut
from shared.identifiers import ID_TYPES
from shared.identity.flask_auth import require_roles
from shared.web.blueprint import Blueprint
from shared.web.views import read_only, transaction

blp = Blueprint(
    "review_flows", __name__, url_prefix="/api/v1", description="Publicity, objections, expert panels, votes"
)


class PublicityStart(Schema):
    kind = fields.String(
        required=True,
        validate=validate.OneOf(publicity.KINDS),
        metadata={"description": "unit (单位公示) or result (评审结果公示)"},
    )
    starts_on = fields.Date(load_default=None, metadata={"description": "default today"})
    evidence = fields.String(
        load_default=None,
        validate=validate.Length(max=500),
        metadata={"description": "reference of the uploaded notice (公示材料)"},
    )


class ObjectionOut(Schema):
    id = fields.Integer()
    content = fields.String()
    report_reference = fields.String(allow_none=True)
    recorded_at = fields.DateTime()
    status = fields.String()
    upheld = fields.Boolean(allow_none=True)
    resolution = fields.String(allow_none=True)
    resolved_at = fields.DateTime(allow_none=True)


class PublicityOut(Schema):
    id = fields.Integer()
    declaration_id = fields.String()
    kind = fields.String()
    organisation = fields.String()
    starts_on = fields.Date()
    ends_on = fields.Date()
    working_days = fields.Integer()
    evidence = fields.String(allow_none=True)
    status = fields.String()
    objections = fields.List(fields.Nested(ObjectionOut))


class ObjectionIn(Schema):
    content = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class Resolution(Schema):
    upheld = fields.Boolean(required=True)
    resolution = fields.String(required=True, validate=validate.Length(min=1, max=4000))


class ConflictIn(Schema):
    id_number = fields.String(
        required=True,
        validate=validate.Length(min=1, max=30),
        metadata={"description": "the applicant's ID number (证件号码)"},
    )
    id_type = fields.String(
        load_default="resident_id",
        validate=validate.OneOf(ID_TYPES),
        metadata={"description": "a resident ID number must pass its GB 11643 check"},
    )
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class ConflictOut(Schema):
    id_number = fields.String()
    reason = fields.String(allow_none=True)
    declared_at = fields.DateTime()
    withdrawn_at = fields.DateTime(allow_none=True)
    withdraw_reason = fields.String(allow_none=True)


class WithdrawIn(Schema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class RecusalIn(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class AttendanceIn(Schema):
    present = fields.List(fields.String(), required=True, metadata={"description": "experts present (出席专家)"})


class DefenceIn(Schema):
    at = fields.AwareDateTime(required=True)
    place = fields.String(required=True, validate=validate.Length(min=1, max=200))


class VoteOut(Schema):
    declaration_id = fields.String()
    choice = fields.String()
    cast_at = fields.DateTime()


class TallyOut(Schema):
    declaration_id = fields.String()
    members = fields.Integer()
    present = fields.Integer()
    agree = fields.Integer()
    disagree = fields.Integer()
    abstain = fields.Integer()
    not_voted = fields.Integer(
        metadata={
            "description": "present, but no vote when voting closed at the end of the "
            "meeting day: counted as not agreeing (未投票)"
        }
    )
    outcome = fields.String(allow_none=True)


class PanelOut(Schema):
    declaration_id = fields.String()
    committee_code = fields.String()
    seed = fields.String(allow_none=True)
    pool = fields.List(fields.String(), allow_none=True)
    panel = fields.List(fields.String())
    recused = fields.List(fields.String())
    drawn_at = fields.DateTime()
    attendance = fields.List(fields.Dict())
    defences = fields.List(fields.Dict())


def _publicity_out(item: tuple) -> dict:
    found, objections = item
    out = {c.key: getattr(found, c.key) for c in found.__table__.columns}
    out["objections"] = objections
    return out


@blp.route("/declarations/<declaration_id>/publicities")
class Publicities(MethodView):
    @blp.response(200, PublicityOut(many=True))
    @require_roles("unit", "department", "committee", "title_office")
    @read_only
    def get(self, declaration_id: str, *, uow):
        """The declaration's publicities with their objections."""
        return [_publicity_out(i) for i in publicity.of_declaration(uow, declaration_id)]

    @blp.arguments(PublicityStart)
    @blp.response(201, PublicityOut)
    @require_roles("unit", "committee")
    @transaction
    def post(self, data, declaration_id: str, *, uow, principal):
        """Start the publicity the process waits for (公示): at least the activity's working days."""
        found = publicity.start(uow, principal, declaration_id, data["kind"], data["starts_on"], data["evidence"])
        return _publicity_out((found, []))


@blp.route("/publicities/<int:publicity_id>/objections")
class Objections(MethodView):
    @blp.arguments(ObjectionIn)
    @blp.response(201, ObjectionOut)
    @require_roles("unit", "committee")
    @transaction
    def post(self, data, publicity_id: int, *, uow, principal):
        """Record an objection raised during the publicity (异议)."""
        return publicity.record_objection(uow, principal, publicity_id, data["content"])


@blp.route("/objections/<int:objection_id>/resolve")
class Resolve(MethodView):
    @blp.arguments(Resolution)
    @blp.response(200, ObjectionOut)
    @require_roles("unit", "committee")
    @transaction
    def post(self, data, objection_id: int, *, uow, principal):
        """Resolve an objection: upheld (成立) or not, with the answer."""
        return publicity.resolve(uow, principal, objection_id, data["upheld"], data["resolution"])


@blp.route("/conflicts")
class Conflicts(MethodView):
    @blp.arguments(ConflictIn)
    @blp.response(201, ConflictOut)
    @require_roles("expert")
    @transaction
    def post(self, data, *, uow, principal):
        """Declare a conflict of interest with an applicant (回避): later draws leave me out."""
        return panels.declare_conflict(uow, principal, data["id_number"], data["reason"], data["id_type"])

    @blp.response(200, ConflictOut(many=True))
    @require_roles("expert")
    @read_only
    def get(self, *, uow, principal):
        """The conflicts I declared, withdrawn ones with who withdrew them and why."""
        return panels.conflicts_of(uow, principal)


@blp.route("/conflicts/<id_number>/withdraw")
class ConflictWithdrawal(MethodView):
    @blp.arguments(WithdrawIn)
    @blp.response(200, ConflictOut)
    @require_roles("expert")
    @transaction
    def post(self, data, id_number: str, *, uow, principal):
        """Withdraw a conflict I declared (撤回回避), with the reason: later draws may pick me again."""
        return panels.withdraw_conflict(uow, principal, id_number, data["reason"])


@blp.route("/declarations/<declaration_id>/panel")
class Panel(MethodView):
    @blp.response(200, PanelOut)
    @require_roles("committee", "expert")
    @read_only
    def get(self, declaration_id: str, *, uow, principal):
        """The drawn panel (the seed and pool for the committee office), recusals, meetings, defences."""
        return panels.panel_view(uow, principal, declaration_id)


@blp.route("/declarations/<declaration_id>/panel/recusal")
class Recusal(MethodView):
    @blp.arguments(RecusalIn)
    @blp.response(201, RecusalIn)
    @require_roles("expert")
    @transaction
    def post(self, data, declaration_id: str, *, uow, principal):
        """Recuse from a declaration on my panel before the meeting (回避)."""
        return {"reason": panels.recuse(uow, principal, declaration_id, data["reason"]).reason}


@blp.route("/declarations/<declaration_id>/panel/attendance")
class AttendanceView(MethodView):
    @blp.arguments(AttendanceIn)
    @blp.response(200, TaskOut)
    @require_roles("committee")
    @transaction
    def post(self, data, declaration_id: str, *, uow, principal):
        """Record who of the panel attended the meeting; voting opens if two thirds are present."""
        return panels.record_attendance(uow, principal, declaration_id, data["present"])


@blp.route("/declarations/<declaration_id>/defence")
class DefenceView(MethodView):
    @blp.arguments(DefenceIn)
    @blp.response(200, TaskOut)
    @require_roles("committee")
    @transaction
    def post(self, data, declaration_id: str, *, uow, principal):
        """Schedule the defence (答辩); the applicant is notified a week ahead and the day before."""
        return panels.schedule_defence(uow, principal, declaration_id, data["at"], data["place"])


@blp.route("/declarations/<declaration_id>/votes/mine")
class MyVote(MethodView):
    @blp.response(200, VoteOut)
    @require_roles("expert")
    @read_only
    def get(self, declaration_id: str, *, uow, principal):
        """My own vote on a declaration (votes are secret: nobody else's)."""
        return panels.my_vote(uow, principal, declaration_id)


@blp.route("/declarations/<declaration_id>/tally")
class Tally(MethodView):
    @blp.response(200, TallyOut)
    @require_roles("committee")
    @read_only
    def get(self, declaration_id: str, *, uow, principal):
        """The tally, for the committee office once voting has closed (计票结果)."""
        return panels.tally(uow, principal, declaration_id)
