"""The review API: every reviewer's task queue, and the processes behind it."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from services.review import listings, queues, service
from shared.identity.flask_auth import require_roles
from shared.web.blueprint import Blueprint
from shared.web.schemas import Page, PageQuery, page_of
from shared.web.views import read_only, transaction

blp = Blueprint("review", __name__, url_prefix="/api/v1", description="Reviewers' task queues and processes")
REVIEWERS = ("unit", "department", "committee", "expert", "title_office")


class TaskQuery(PageQuery):
    stage = fields.String(metadata={"description": "the task's stage, e.g. unit_check"})
    declaration_id = fields.String()
    status = fields.List(fields.String(validate=validate.OneOf(("ready", "claimed", "completed", "cancelled"))))
    activity_id = fields.String(metadata={"description": "the review activity (评审活动)"})
    series = fields.String(metadata={"description": "系列"})
    level = fields.String(metadata={"description": "层级"})
    applicant = fields.String(metadata={"description": "the applicant's subject, or part of their name"})
    due_before = fields.Date(metadata={"description": "service-level deadline on or before this day (Beijing)"})
    overdue = fields.Boolean(metadata={"description": "only tasks past (true) or within (false) their level"})
    sort = fields.String(load_default="created", validate=validate.OneOf(("created", "due")))


class TaskOut(Schema):
    id = fields.String()
    declaration_id = fields.String()
    stage = fields.Function(lambda t: t.stage or t.bpmn_id)  # the diagram's stage property, never the element id
    action = fields.String(
        allow_none=True,
        metadata={
            "description": "the endpoint that completes the task: "
            "publicity:unit, publicity:result, defence, "
            "attendance, vote (README, Diagram contract)"
        },
    )
    name = fields.String()
    role = fields.String()
    organisation = fields.String(allow_none=True)
    decisions = fields.Function(lambda t: t.decisions.split(","))
    status = fields.String()
    claimed_by = fields.String(allow_none=True)
    summary = fields.Dict()
    created_at = fields.DateTime()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)


class QueuedTask(TaskOut):
    activity_id = fields.String(allow_none=True)
    series = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    applicant_name = fields.String(allow_none=True)
    due_at = fields.DateTime(allow_none=True, metadata={"description": "end of the service level (办理时限)"})
    overdue = fields.Function(lambda t: t.overdue_at is not None)
    escalated_to = fields.String(allow_none=True, metadata={"description": "the level above, once overdue"})


class TaskPage(Page):
    items = fields.List(fields.Nested(QueuedTask))


class Completion(Schema):
    decision = fields.String(required=True, metadata={"description": "one of the task's decisions (审核意见)"})
    reason = fields.String(load_default=None, validate=validate.Length(max=2000))


class InstanceOut(Schema):
    id = fields.String()
    declaration_id = fields.String()
    process_id = fields.String()
    definition_id = fields.String(metadata={"description": "the diagram version (content hash) it runs on"})
    status = fields.String()
    outcome = fields.String(allow_none=True)
    suspended = fields.Boolean()
    has_incident = fields.Boolean()
    held_messages = fields.Integer(metadata={"description": "messages waiting for the process to run again"})
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class InstanceQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(("running", "completed")))
    process_id = fields.String(metadata={"description": "the mode, e.g. social_review"})
    suspended = fields.Boolean()
    has_incident = fields.Boolean()


class InstanceListed(Schema):
    id = fields.String()
    declaration_id = fields.String()
    process_id = fields.String()
    definition_id = fields.String()
    status = fields.String()
    outcome = fields.String(allow_none=True)
    stage = fields.String(allow_none=True, metadata={"description": "where it stands now"})
    series = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    suspended = fields.Boolean()
    has_incident = fields.Boolean()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class InstancePage(Page):
    items = fields.List(fields.Nested(InstanceListed))


class DefinitionOut(Schema):
    id = fields.String()
    process_id = fields.String()
    file_name = fields.String()
    deployed_at = fields.DateTime()


@blp.route("/tasks")
class Tasks(MethodView):
    @blp.arguments(TaskQuery, location="query")
    @blp.response(200, TaskPage)
    @require_roles(*REVIEWERS)
    @read_only
    def get(self, query, *, uow, principal):
        """My task queue: open tasks of my organisation and role (an expert's own), filtered and paginated."""
        return page_of(query, *queues.queue(uow, principal, query, query["page"], query["per_page"]))


@blp.route("/tasks/<task_id>")
class TaskById(MethodView):
    @blp.response(200, TaskOut)
    @require_roles(*REVIEWERS)
    @read_only
    def get(self, task_id: str, *, uow, principal):
        """One task of my queue."""
        return service.task(uow, principal, task_id)


@blp.route("/tasks/<task_id>/claim")
class Claim(MethodView):
    @blp.response(200, TaskOut)
    @require_roles(*REVIEWERS)
    @transaction
    def post(self, task_id: str, *, uow, principal):
        """Claim a task so colleagues see it is being handled (认领)."""
        return service.claim(uow, principal, task_id)


@blp.route("/tasks/<task_id>/unclaim")
class Unclaim(MethodView):
    @blp.response(200, TaskOut)
    @require_roles(*REVIEWERS)
    @transaction
    def post(self, task_id: str, *, uow, principal):
        """Release a task I claimed."""
        return service.unclaim(uow, principal, task_id)


@blp.route("/tasks/<task_id>/complete")
class Complete(MethodView):
    @blp.arguments(Completion)
    @blp.response(200, TaskOut)
    @require_roles(*REVIEWERS)
    @transaction
    def post(self, data, task_id: str, *, uow, principal):
        """Complete a task with a decision; records who, when and why."""
        return service.complete(uow, principal, task_id, data["decision"], data["reason"])


@blp.route("/processes")
class Processes(MethodView):
    @blp.arguments(InstanceQuery, location="query")
    @blp.response(200, InstancePage)
    @require_roles("title_office", "designer")
    @read_only
    def get(self, query, *, uow):
        """Review processes, most recently changed first (the title office and designers: the console's list
        of declarations whose diagram can be opened)."""
        return page_of(query, *listings.processes(uow, query, query["page"], query["per_page"]))


@blp.route("/processes/<declaration_id>")
class ProcessByDeclaration(MethodView):
    @blp.response(200, InstanceOut)
    @read_only
    def get(self, declaration_id: str, *, uow, principal):
        """The review process of a declaration, with the diagram version it follows."""
        return service.instance_state(uow, service.instance_of(uow, principal, declaration_id))


@blp.route("/definitions")
class Definitions(MethodView):
    @blp.response(200, DefinitionOut(many=True))
    @read_only
    def get(self, *, uow):
        """Deployed diagram versions."""
        return listings.definitions(uow)
