"""The declaration service's HTTP API: activities and the applicant's declarations."""

from __future__ import annotations

import datetime as dt

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate

from services.declaration import activities, catalogue, clock, content, integrity, re_examination, service, specialty
from shared.contracts.declaration import MODES
from shared.identity.flask_auth import require_roles
from shared.web.blueprint import Blueprint
from shared.web.schemas import Page, PageQuery, page_of
from shared.web.views import read_only, transaction

blp = Blueprint("declarations", __name__, url_prefix="/api/v1", description="Review activities and declarations")

CATEGORIES = (
    "normal",
    "education_exception",
    "seniority_exception",
    "lateral_transfer",
    "civil_servant_transfer",
    "enterprise_direct",
)


class ActivityQuery(Schema):
    mode = fields.String(validate=validate.OneOf(MODES))
    series = fields.String()
    level = fields.String()
    specialty = fields.String()
    qualification_name = fields.String()
    category = fields.String(validate=validate.OneOf(CATEGORIES))


class Deadline(fields.Field):
    """In: a date (closing 23:59:59 Beijing time that day) or a time with its offset; out: Beijing time."""

    def _serialize(self, value, attr, obj, **kwargs):  # noqa: ANN001, ANN202
        return None if value is None else clock.beijing(value)

    def _deserialize(self, value, attr, data, **kwargs):  # noqa: ANN001, ANN202
        try:
            if isinstance(value, str) and len(value) == 10:
                return dt.date.fromisoformat(value)
            parsed = dt.datetime.fromisoformat(value)
        except (TypeError, ValueError):
            raise ValidationError("must be a date YYYY-MM-DD or a time with its offset") from None
        if parsed.tzinfo is None:
            raise ValidationError("a time needs its UTC offset, e.g. +08:00")
        return parsed


class FieldSpec(Schema):
    name = fields.String(required=True)
    label = fields.String(load_default=None)
    required = fields.Boolean(load_default=False)


ItemType = Schema.from_dict(
    {  # a dict: "fields" is one of the keys
        "code": fields.String(required=True),
        "name": fields.String(required=True),
        "fields": fields.List(fields.Nested(FieldSpec), load_default=list),
        "min": fields.Integer(load_default=0, validate=validate.Range(min=0)),
        "max": fields.Integer(load_default=None, validate=validate.Range(min=1)),
        "representative": fields.Boolean(load_default=False, metadata={"description": "may be marked 代表作"}),
        "attachments_required": fields.Boolean(load_default=False),
    },
    name="ItemType",
)


Material = Schema.from_dict(
    {  # a dict: "fields" is one of the keys
        "code": fields.String(required=True),
        "name": fields.String(required=True),
        "fields": fields.List(fields.Nested(FieldSpec), load_default=list),
        "required": fields.Boolean(load_default=True),
        "attachments_required": fields.Boolean(load_default=False),
    },
    name="Material",
)


class Condition(Schema):
    code = fields.String(required=True)
    text = fields.String(required=True)


class ActivityIn(Schema):
    """A review activity as the committee office sets it up (§6). The committee must be registered in the
    directory, and series, levels and specialties must lie within the scope the title office authorised
    for it (422 ``authorised_scope`` naming the field and the value outside it)."""

    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    mode = fields.String(required=True, validate=validate.OneOf(MODES[:2]))
    committee_name = fields.String(
        load_default=None,
        metadata={"description": "optional: the committee's name comes from the directory; if given it must match"},
    )
    owner_organisation = fields.String(
        load_default=None,
        metadata={
            "description": "independent review: the organisation whose staff declare comes from the directory (the "
            "committee's registered organisation); if given it must match. Social review: none"
        },
    )
    series = fields.String(required=True)
    levels = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    specialties = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    qualification_names = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    categories = fields.List(
        fields.String(validate=validate.OneOf(CATEGORIES)), required=True, validate=validate.Length(min=1)
    )
    opens_on = fields.Date(required=True)
    initial_deadline = Deadline(required=True)
    modification_deadline = Deadline(required=True)
    consultation_phone = fields.String(required=True)
    panel_size = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={"description": "experts on a panel; none: as bpmn/panel_size.dmn says"},
    )
    policy_documents = fields.List(fields.Dict(), load_default=list)
    schedule = fields.List(fields.Dict(), load_default=list)
    exception_conditions = fields.Dict(
        keys=fields.String(validate=validate.OneOf(CATEGORIES)),
        values=fields.List(fields.Nested(Condition)),
        load_default=dict,
    )
    item_types = fields.List(fields.Nested(ItemType), load_default=list)
    required_materials = fields.List(fields.Nested(Material), load_default=list)
    defence_levels = fields.List(fields.String(), load_default=list)
    service_levels = fields.Dict(
        keys=fields.String(), values=fields.Integer(validate=validate.Range(min=1)), load_default=None
    )
    publicity_working_days = fields.Integer(
        load_default=None,
        metadata={"description": "at least what bpmn/publicity_days.dmn says (5 working days); none: that"},
    )
    vote_numerator = fields.Integer(
        load_default=None,
        validate=validate.Range(min=1),
        metadata={
            "description": "with vote_denominator, a pass threshold at least bpmn/pass_threshold.dmn's (two thirds); "
            "none: that"
        },
    )
    vote_denominator = fields.Integer(load_default=None, validate=validate.Range(min=1))
    specialty_relation = fields.String(
        load_default="warn",
        validate=validate.OneOf(specialty.ENFORCEMENTS),
        metadata={
            "description": "a current specialty (现从事专业) that bpmn/specialty_relation.dmn finds unrelated to the "
            'declared one: "warn" (the default) shows the unit a warning in the eligibility result and '
            'the task; "refuse" refuses the submission (422 qualification.specialty, '
            "specialty_related: 专业不相关)"
        },
    )


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
    initial_deadline = Deadline()
    modification_deadline = Deadline()
    consultation_phone = fields.String()
    owner_organisation = fields.String(allow_none=True)
    panel_size = fields.Integer()
    policy_documents = fields.List(fields.Dict(), allow_none=True)
    schedule = fields.List(fields.Dict(), allow_none=True)
    exception_conditions = fields.Dict(allow_none=True)
    item_types = fields.List(fields.Dict(), allow_none=True)
    required_materials = fields.List(fields.Dict(), allow_none=True)
    defence_levels = fields.List(fields.String(), allow_none=True)
    service_levels = fields.Dict(allow_none=True)
    publicity_working_days = fields.Integer()
    vote_numerator = fields.Integer()
    vote_denominator = fields.Integer()
    specialty_relation = fields.String(metadata={"description": "warn or refuse an unrelated current specialty"})


class DeclarationIn(Schema):
    activity_id = fields.String(load_default=None, metadata={"description": "absent for independent appointment"})
    mode = fields.String(load_default=None, validate=validate.OneOf(MODES))
    series = fields.String(load_default=None, metadata={"description": "independent appointment only"})
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


ATTACHMENT_HELP = (
    'An attachment is {"id": "<id of a file uploaded to your profile>", "name": ...}. '
    "A file known to be someone else's is refused when saved (own_attachment); at submission "
    "every file must be known here as yours (known_attachment: a file uploaded moments ago may "
    "still be on its way)."
)


class DraftIn(Schema):
    """Save the draft (暂存): only the parts given change."""

    snapshot = fields.Dict(metadata={"description": "edits to this declaration's own copy of the profile"})
    category = fields.String(validate=validate.OneOf(CATEGORIES))
    exception_claims = fields.List(fields.Dict(), metadata={"description": "[{code, proof: [attachment]}]"})
    employer_proof = fields.Dict(allow_none=True, metadata={"description": "{attachments: [attachment], note}"})
    sections = fields.Dict(
        metadata={"description": "school_teacher / health sections (each may have attachments: [attachment])"}
    )
    materials = fields.Dict(metadata={"description": "code -> {fields, attachments: [attachment]}"})


ItemIn = Schema.from_dict(
    {  # a dict: "fields" is one of the keys
        "item_type": fields.String(required=True),
        "fields": fields.Dict(load_default=dict),
        "attachments": fields.List(fields.Dict(), load_default=list, metadata={"description": ATTACHMENT_HELP}),
        "representative": fields.Boolean(load_default=False),
    },
    name="ItemIn",
)


ItemOut = Schema.from_dict(
    {  # a dict: "fields" is one of the keys
        "id": fields.String(),
        "item_type": fields.String(),
        "fields": fields.Dict(),
        "attachments": fields.List(fields.Dict()),
        "representative": fields.Boolean(),
    },
    name="ItemOut",
)


class DeclarationOut(Schema):
    id = fields.String()
    activity_id = fields.String(allow_none=True)
    mode = fields.String()
    series = fields.String()
    level = fields.String()
    specialty = fields.String()
    qualification_name = fields.String()
    category = fields.String()
    status = fields.String(
        metadata={
            "description": "preparing, draft, refused, submitted, in_review, returned, completed, withdrawn, discarded"
        }
    )
    applicant = fields.String()
    withdrawable: fields.Field = fields.Function(
        service.withdrawable,
        metadata={"description": "撤回 is possible: submitted and the unit has not started on it (claimed or decided)"},
    )
    eligibility = fields.Dict(allow_none=True)
    exception_claims = fields.List(fields.Dict(), allow_none=True)
    employer_proof = fields.Dict(allow_none=True)
    sections = fields.Dict(allow_none=True)
    materials = fields.Dict(allow_none=True)
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
    re_examination_open_until = fields.DateTime(
        allow_none=True,
        metadata={"description": "the experts' vote failed: re-examination (复查) may be requested until then"},
    )
    re_examination_requestable: fields.Field = fields.Function(
        re_examination.requestable,
        metadata={"description": "复查 may be requested now: offered, not yet requested, the period runs"},
    )
    re_examination_requested_at = fields.DateTime(allow_none=True)
    re_examination_reason = fields.String(allow_none=True, metadata={"description": "the applicant's reason"})
    re_examination_decision = fields.String(
        allow_none=True,
        metadata={"description": "the committee office's: uphold (not passed) or overturn (the review goes on)"},
    )
    re_examination_decision_reason = fields.String(allow_none=True)
    re_examination_decided_at = fields.DateTime(allow_none=True)


COMPUTED = ("withdrawable", "re_examination_requestable")
# The stored attributes a detail shows, named once (a schema instance per request copied every field).
STORED = tuple(name for name in DeclarationOut._declared_fields if name not in COMPUTED)


class DeclarationDetail(DeclarationOut):
    trail = fields.List(fields.Nested(TrailOut))
    items = fields.List(fields.Nested(ItemOut))
    withdrawable = fields.Boolean()
    re_examination_requestable = fields.Boolean()


class ReExaminationIn(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "why the result should be re-examined (复查理由)"},
    )


class EligibilityCheck(Schema):
    rule = fields.String(metadata={"description": "education_years, annual_assessment, continuing_education"})
    passed = fields.Boolean()
    years = fields.List(
        fields.Integer(),
        metadata={"description": "the years the rule looked at (since the current title, at most the table's window)"},
    )
    failures = fields.List(fields.String(), metadata={"description": "what fails, year by year"})


class EligibilityOut(Schema):
    eligible = fields.Boolean()
    rule = fields.String(allow_none=True)
    failures = fields.List(fields.String(), metadata={"description": "every failure of every check"})
    checks = fields.List(fields.Nested(EligibilityCheck), load_default=list)
    checked_on = fields.String()
    exception_categories = fields.Dict(metadata={"description": "the activity's exception conditions by category"})
    specialty = fields.Dict(
        metadata={
            "description": "the current specialty against the declared one "
            "(bpmn/specialty_relation.dmn): {declared_specialty, "
            "current_specialty, related: directly/related/unrelated (None: "
            "not given), reason, passed, enforcement: warn/refuse}"
        }
    )
    warnings = fields.List(
        fields.String(),
        metadata={
            "description": "what the unit is warned of: an unrelated "
            "current specialty where the activity warns "
            "(专业不相关)"
        },
    )


class DeclarationPage(Page):
    items = fields.List(fields.Nested(DeclarationOut))


@blp.route("/activities")
class Activities(MethodView):
    @blp.arguments(ActivityQuery, location="query")
    @blp.response(200, ActivityOut(many=True))
    @read_only
    def get(self, filters, *, uow, principal):
        """Ongoing review activities (进行中的评审活动) matching the filters."""
        return activities.ongoing(uow, principal, filters)

    @blp.arguments(ActivityIn)
    @blp.response(201, ActivityOut)
    @require_roles("committee")
    @transaction
    def post(self, data, *, uow, principal):
        """Set up a review activity of my committee (评审活动设置). The committee must be registered in the
        directory (registered_committee), its series, levels and specialties within the scope the title office
        authorised (authorised_scope, naming the field and the value outside it); an independent review
        belongs to the organisation the directory records for the committee (committee_owner)."""
        return activities.create(uow, principal, data)


@blp.route("/activities/mine")
class MyActivities(MethodView):
    @blp.response(200, ActivityOut(many=True))
    @require_roles("committee")
    @read_only
    def get(self, *, uow, principal):
        """Every activity of my committee, ongoing or not."""
        return activities.mine(uow, principal)


@blp.route("/activities/<other_than(mine):activity_id>")
class ActivityById(MethodView):
    @blp.response(200, ActivityOut)
    @read_only
    def get(self, activity_id: str, *, uow, principal):
        """One activity with everything an applicant needs to see."""
        return activities.get_visible(uow, principal, activity_id)

    @blp.arguments(ActivityIn)
    @blp.response(200, ActivityOut)
    @require_roles("committee")
    @transaction
    def put(self, data, activity_id: str, *, uow, principal):
        """Change one of my committee's activities (checked against the committee's current authorisation)."""
        return activities.update(uow, principal, activity_id, data)


@blp.route("/declarations")
class Declarations(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, DeclarationPage)
    @require_roles("applicant")
    @read_only
    def get(self, query, *, uow, principal):
        """My declarations (我的申报), newest first."""
        return page_of(query, *service.mine(uow, principal, query["page"], query["per_page"]))

    @blp.arguments(DeclarationIn)
    @blp.response(202, DeclarationOut)
    @require_roles("applicant")
    @transaction
    def post(self, data, *, uow, principal):
        """Open a declaration; it becomes a draft once the profile snapshot arrives."""
        return service.create(uow, principal, data)


@blp.route("/declarations/at-my-organisation")
class AtMyOrganisation(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, DeclarationPage)
    @require_roles("unit", "department", "committee", "title_office")
    @read_only
    def get(self, query, *, uow, principal):
        """Declarations at, or having passed through, my organisation (staff only), most recently changed
        first; each opens with GET /declarations/{id} under the same rule."""
        return page_of(query, *service.at_my_organisation(uow, principal, query["page"], query["per_page"]))


def _detail(uow, declaration) -> dict:  # noqa: ANN001
    detail = {name: getattr(declaration, name) for name in STORED}
    detail["withdrawable"] = service.withdrawable(declaration)
    detail["re_examination_requestable"] = re_examination.requestable(declaration)
    detail["trail"] = service.trail(uow, declaration.id)
    detail["items"] = content.items(uow, declaration.id)
    return detail


@blp.route('/declarations/<other_than("at-my-organisation"):declaration_id>')
class DeclarationById(MethodView):
    @blp.response(200, DeclarationDetail)
    @require_roles("applicant", "unit", "department", "committee", "title_office")
    @read_only
    def get(self, declaration_id: str, *, uow, principal):
        """A declaration with its content and full review trail: the applicant's own, or one that is at or
        has passed through the caller's organisation."""
        return _detail(uow, service.visible(uow, principal, declaration_id))

    @blp.arguments(DraftIn)
    @blp.response(200, DeclarationDetail)
    @require_roles("applicant")
    @transaction
    def patch(self, data, declaration_id: str, *, uow, principal):
        """Save the draft (暂存); editable while a draft or after a return."""
        return _detail(uow, service.save_draft(uow, principal, declaration_id, data))

    @blp.response(200, DeclarationOut)
    @require_roles("applicant")
    @transaction
    def delete(self, declaration_id: str, *, uow, principal):
        """Discard a draft (废弃)."""
        return service.discard(uow, principal, declaration_id)


@blp.route("/declarations/<declaration_id>/eligibility")
class Eligibility(MethodView):
    @blp.response(200, EligibilityOut)
    @require_roles("applicant")
    @transaction
    def get(self, declaration_id: str, *, uow, principal):
        """The normal category's eligibility check from the rule table: education and years, annual
        assessments (称职及以上) and continuing education (90 hours a year, 2/3 specialist) for each year
        since the current title (at most the table's window), with the rule and the year that fail; and the
        current specialty against the declared one (bpmn/specialty_relation.dmn): unrelated is a warning, or
        a failure where the activity refuses it."""
        return service.eligibility_of(uow, principal, declaration_id)


@blp.route("/declarations/<declaration_id>/items")
class Items(MethodView):
    @blp.arguments(ItemIn)
    @blp.response(201, ItemOut)
    @require_roles("applicant")
    @transaction
    def post(self, data, declaration_id: str, *, uow, principal):
        """Add one ability or achievement item of one of the activity's item types."""
        declaration, chosen = service.editable(uow, principal, declaration_id)
        return content.save_item(uow, declaration, chosen, data)


@blp.route("/declarations/<declaration_id>/items/<item_id>")
class ItemById(MethodView):
    @blp.arguments(ItemIn)
    @blp.response(200, ItemOut)
    @require_roles("applicant")
    @transaction
    def put(self, data, declaration_id: str, item_id: str, *, uow, principal):
        declaration, chosen = service.editable(uow, principal, declaration_id)
        return content.save_item(uow, declaration, chosen, data, item_id)

    @blp.response(204)
    @require_roles("applicant")
    @transaction
    def delete(self, declaration_id: str, item_id: str, *, uow, principal):
        content.delete_item(uow, service.editable(uow, principal, declaration_id)[0], item_id)


@blp.route("/declarations/<declaration_id>/withdraw")
class Withdraw(MethodView):
    @blp.response(200, DeclarationOut)
    @require_roles("applicant")
    @transaction
    def post(self, declaration_id: str, *, uow, principal):
        """Withdraw (撤回) while the work unit has not started its check."""
        return service.withdraw(uow, principal, declaration_id)


@blp.route("/declarations/<declaration_id>/re-examination")
class ReExamination(MethodView):
    @blp.arguments(ReExaminationIn)
    @blp.response(200, DeclarationDetail)
    @require_roles("applicant")
    @transaction
    def post(self, data, declaration_id: str, *, uow, principal):
        """Ask for re-examination (复查) of a failed vote, with a reason: once, while the period the
        declaration shows (re_examination_open_until) runs; the committee office decides it."""
        return _detail(uow, re_examination.request(uow, principal, declaration_id, data["reason"]))


@blp.route("/declarations/<declaration_id>/submit")
class Submit(MethodView):
    @blp.response(200, DeclarationOut)
    @require_roles("applicant")
    @transaction
    def post(self, declaration_id: str, *, uow, principal):
        """Submit a draft to the work unit (提交), or resubmit a returned one."""
        return service.submit(uow, principal, declaration_id)


# -- the integrity record (诚信档案) -------------------------------------------------


class IntegrityQuery(PageQuery):
    running = fields.Boolean(
        load_default=None,
        allow_none=True,
        metadata={"description": "true: only records still barring; false: ended or lifted"},
    )
    subject = fields.String(load_default=None)


class IntegrityRecordOut(Schema):
    id = fields.String()
    subject = fields.String()
    holder_name = fields.String()
    certificate_number = fields.String()
    certificate_id = fields.String()
    declaration_id = fields.String()
    qualification_name = fields.String()
    reason = fields.String(metadata={"description": "the revocation's reason"})
    starts_at = Deadline(metadata={"description": "the revocation (Beijing time)"})
    ends_at = Deadline(metadata={"description": "the bar ends (3 years after the revocation)"})
    running = fields.Function(
        lambda r: integrity.running(r), metadata={"description": "the person cannot declare while true"}
    )
    recorded_by = fields.String()
    recorded_at = fields.DateTime()
    lifted_at = fields.DateTime(allow_none=True)
    lifted_by = fields.String(allow_none=True)
    lift_reason = fields.String(allow_none=True)


class IntegrityPage(Page):
    items = fields.List(fields.Nested(IntegrityRecordOut))


class LiftIn(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "why the record is lifted early (解除原因)"},
    )


@blp.route("/integrity-records")
class IntegrityRecords(MethodView):
    @blp.arguments(IntegrityQuery, location="query")
    @blp.response(200, IntegrityPage)
    @require_roles("title_office")
    @read_only
    def get(self, query, *, uow, principal):
        """The integrity record (诚信档案): people whose certificate was revoked for fraud, each barred from
        declaring for 3 years from the revocation (title office only), newest first."""
        return page_of(query, *integrity.listed(uow, principal, query, query["page"], query["per_page"]))


@blp.route("/integrity-records/<record_id>")
class IntegrityRecordById(MethodView):
    @blp.response(200, IntegrityRecordOut)
    @require_roles("title_office")
    @read_only
    def get(self, record_id: str, *, uow, principal):
        """One record, with who lifted it, when and why."""
        return integrity.get(uow, principal, record_id)


@blp.route("/integrity-records/<record_id>/lift")
class LiftIntegrityRecord(MethodView):
    @blp.arguments(LiftIn)
    @blp.response(200, IntegrityRecordOut)
    @require_roles("title_office")
    @transaction
    def post(self, data, record_id: str, *, uow, principal):
        """Lift a running record early (解除), with the reason; the person may declare again. Recorded on the
        record (lifted_by, lifted_at, lift_reason)."""
        return integrity.lift(uow, principal, record_id, data["reason"])


# -- the catalogue ----------------------------------------------------------------


class TermOut(Schema):
    code = fields.String()
    name = fields.String()


class LevelEntry(Schema):
    level = fields.String(required=True, validate=validate.OneOf(catalogue.LEVELS))
    qualification_names = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class Appointable(Schema):
    level = fields.String(required=True)
    specialties = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class SeriesIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=40))
    levels = fields.List(fields.Nested(LevelEntry), required=True, validate=validate.Length(min=1))
    specialties = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    appointable = fields.List(fields.Nested(Appointable), load_default=list)


class SeriesOut(Schema):
    name = fields.String()
    code = fields.String()
    levels = fields.List(fields.Dict())
    specialties = fields.List(fields.String())
    appointable = fields.List(fields.Dict())


class CatalogueOut(Schema):
    modes = fields.List(fields.Nested(TermOut))
    categories = fields.List(fields.Nested(TermOut))
    series = fields.List(fields.Nested(SeriesOut))


@blp.route("/catalogue")
class Catalogue(MethodView):
    @blp.response(200, CatalogueOut)
    @read_only
    def get(self, *, uow):
        """The catalogue: modes, series with level ladders and specialties, categories (目录)."""
        return catalogue.whole(uow)


@blp.route("/catalogue/series/<name>")
class CatalogueSeries(MethodView):
    @blp.arguments(SeriesIn)
    @blp.response(200, SeriesOut)
    @require_roles("title_office")
    @transaction
    def put(self, data, name: str, *, uow):
        """Create or replace a series (the city title office)."""
        return catalogue.save_series(uow, {**data, "name": name})

    @blp.response(204)
    @require_roles("title_office")
    @transaction
    def delete(self, name: str, *, uow):
        catalogue.delete_series(uow, name)
