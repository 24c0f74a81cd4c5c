"""The title office's side of the review API: incidents, suspending instances,
statistics, and overdue tasks (each organisation's own and those escalated to it)."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from services.review import listings, queues, service, stats
from services.review.api import REVIEWERS
from services.review.engine import incidents
from shared.identity.flask_auth import require_roles
from shared.web.blueprint import Blueprint
from shared.web.schemas import Page, PageQuery, page_of
from shared.web.views import read_only, transaction

blp = Blueprint(
    "review_office", __name__, url_prefix="/api/v1", description="Incidents, suspension, statistics and overdue tasks"
)
OPERATORS = ("title_office", "designer")


class IncidentOut(Schema):
    id = fields.Integer()
    instance_id = fields.String(allow_none=True)
    declaration_id = fields.String()
    source = fields.String(metadata={"description": "task, message, timer or start"})
    element = fields.String(allow_none=True, metadata={"description": "the BPMN element that failed"})
    task_id = fields.String(allow_none=True)
    error = fields.String()
    status = fields.String()
    attempts = fields.Integer()
    created_at = fields.DateTime()
    resolved_at = fields.DateTime(allow_none=True)
    resolved_by = fields.String(allow_none=True)


class IncidentQuery(PageQuery):
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "resolved", "dismissed", "all")))
    declaration_id = fields.String()


class IncidentPage(Page):
    items = fields.List(fields.Nested(IncidentOut))


class Dismissal(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "why the step is not re-run (处理说明): kept in the instance's audit log"},
    )


class Suspension(Schema):
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class InstanceState(Schema):
    id = fields.String()
    declaration_id = fields.String()
    status = fields.String()
    suspended = fields.Boolean()
    has_incident = fields.Boolean()
    definition_id = fields.String()
    held_messages = fields.Integer(metadata={"description": "messages waiting for the process to run again"})


class StatsQuery(Schema):
    mode = fields.String()
    series = fields.String()
    level = fields.String()


class StatsOut(Schema):
    scope = fields.String(metadata={"description": "all (title office) or the organisation's code"})
    declarations = fields.Integer()
    by_stage = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_mode = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_series = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_level = fields.Dict(keys=fields.String(), values=fields.Integer())
    by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    pass_rates = fields.Dict(metadata={"description": "decided, passed and rate, overall and by mode/series/level"})
    time_in_stage = fields.Dict(metadata={"description": "per stage: tasks, median_hours, p90_hours"})


class QueueItem(Schema):
    id = fields.String()
    declaration_id = fields.String()
    stage = fields.Function(lambda t: t.stage or t.bpmn_id)
    name = fields.String()
    role = fields.String()
    organisation = fields.String(allow_none=True)
    status = fields.String()
    claimed_by = fields.String(allow_none=True)
    applicant_name = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    overdue_at = fields.DateTime(allow_none=True)
    escalated_to = fields.String(allow_none=True)


class OverduePage(Page):
    items = fields.List(fields.Nested(QueueItem))


@blp.route("/incidents")
class Incidents(MethodView):
    @blp.arguments(IncidentQuery, location="query")
    @blp.response(200, IncidentPage)
    @require_roles(*OPERATORS)
    @read_only
    def get(self, query, *, uow):
        """Failed process steps (流程异常), newest first."""
        return page_of(
            query,
            *listings.incidents(uow, query["status"], query.get("declaration_id"), query["page"], query["per_page"]),
        )


@blp.route("/incidents/<int:incident_id>")
class IncidentById(MethodView):
    @blp.response(200, IncidentOut)
    @require_roles(*OPERATORS)
    @read_only
    def get(self, incident_id: int, *, uow):
        """One incident, with its error."""
        return incidents.get(uow, incident_id)


@blp.route("/incidents/<int:incident_id>/retry")
class IncidentRetry(MethodView):
    @blp.response(200, IncidentOut)
    @require_roles(*OPERATORS)
    @transaction
    def post(self, incident_id: int, *, uow, principal):
        """Re-run the failed step (after the diagram or data was fixed)."""
        incident = incidents.retry(uow, incident_id, principal.subject)
        # Messages held while the incident was open follow, in arrival order, if nothing else holds them.
        service.release_held(uow, incident.declaration_id, "retry")
        return incident


@blp.route("/incidents/<int:incident_id>/dismiss")
class IncidentDismiss(MethodView):
    @blp.arguments(Dismissal)
    @blp.response(200, IncidentOut)
    @require_roles(*OPERATORS)
    @transaction
    def post(self, data, incident_id: int, *, uow, principal):
        """Close an incident without re-running its step (it can never succeed, or was put right by hand);
        the reason goes to the audit log and messages held behind it are delivered."""
        incident = incidents.dismiss(uow, incident_id, principal.subject, data["reason"])
        service.release_held(uow, incident.declaration_id, "dismissal")
        return incident


@blp.route("/instances/<instance_id>/suspend")
class Suspend(MethodView):
    @blp.arguments(Suspension)
    @blp.response(200, InstanceState)
    @require_roles("title_office")
    @transaction
    def post(self, data, instance_id: str, *, uow, principal):
        """Suspend a process (by instance or declaration id): tasks refuse completion, timers wait."""
        return service.instance_state(uow, service.set_suspended(uow, principal, instance_id, True, data["reason"]))


@blp.route("/instances/<instance_id>/resume")
class Resume(MethodView):
    @blp.arguments(Suspension)
    @blp.response(200, InstanceState)
    @require_roles("title_office")
    @transaction
    def post(self, data, instance_id: str, *, uow, principal):
        """Resume a suspended process; messages held while it was suspended are delivered in arrival order."""
        return service.instance_state(uow, service.set_suspended(uow, principal, instance_id, False, data["reason"]))


@blp.route("/statistics")
class Statistics(MethodView):
    @blp.arguments(StatsQuery, location="query")
    @blp.response(200, StatsOut)
    @require_roles("unit", "department", "committee", "title_office")
    @read_only
    def get(self, query, *, uow, principal):
        """Declarations by stage, mode, series and level, pass rates, time in each stage (median, p90).

        The title office sees everything; an organisation sees the declarations that passed through it.
        """
        return stats.statistics(uow, principal, query)


@blp.route("/tasks/overdue")
class Overdue(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, OverduePage)
    @require_roles(*REVIEWERS)
    @read_only
    def get(self, query, *, uow, principal):
        """Open tasks past their service level (超期): my organisation's and those escalated to it."""
        return page_of(query, *queues.overdue(uow, principal, query["page"], query["per_page"]))
