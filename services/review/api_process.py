"""The process side of the review API: a task in context, assignment, the process
view for a bpmn-js viewer, the audit log, and diagram versions."""

from __future__ import annotations

from flask.views import MethodView
from marshmallow import Schema, fields, validate
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from services.review import queues, service, snapshots
from services.review.api import REVIEWERS, TaskOut
from services.review.engine import audit, definitions, held, history, runtime, state, versions
from services.review.models import Definition, Task
from shared.errors import Forbidden
from shared.identity.flask_auth import require_roles
from shared.web.blueprint import Blueprint
from shared.web.views import read_only, transaction

blp = Blueprint(
    "review_process",
    __name__,
    url_prefix="/api/v1",
    description="Tasks in context, process views, audit log and diagram versions",
)


class TrailEntry(Schema):
    stage = fields.String()
    name = fields.String()
    organisation = fields.String(allow_none=True)
    actor = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    at = fields.DateTime(allow_none=True)


class TaskContext(Schema):
    task = fields.Nested(TaskOut)
    declaration = fields.Dict(allow_none=True, metadata={"description": "the declaration as submitted (申报内容)"})
    trail = fields.List(fields.Nested(TrailEntry), metadata={"description": "who decided what so far"})


class Assignment(Schema):
    assignee = fields.String(required=True, validate=validate.Length(min=1, max=64))


class HistoryEntry(Schema):
    seq = fields.Integer()
    at = fields.DateTime()
    source = fields.String()
    actor = fields.String(allow_none=True)
    element = fields.String(allow_none=True)
    task_id = fields.String(allow_none=True)
    decision = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    completed = fields.List(fields.String())
    changes = fields.Dict()
    hash = fields.String()
    prev_hash = fields.String()


class HeldOut(Schema):
    message_id = fields.String()
    type = fields.String()
    reason = fields.String(metadata={"description": "suspended, incident, or queued behind earlier ones"})
    arrived_at = fields.DateTime()


class CalledView(Schema):
    definition_id = fields.String()
    process_id = fields.String()
    bpmn = fields.String(metadata={"description": "the BPMN XML of the called process's version"})
    active = fields.List(fields.String(), metadata={"description": "its elements with a running task"})
    completed = fields.List(fields.String(), metadata={"description": "its elements already passed"})


class DecisionView(Schema):
    decision_id = fields.String()
    file_name = fields.String()
    dmn = fields.String(metadata={"description": "the DMN XML of the table as the version bundles it"})


class TimerOut(Schema):
    element = fields.String(
        metadata={
            "description": "the timer event's element id (an event-based gateway's timer is named by its catch event)"
        }
    )
    process_id = fields.String(
        metadata={"description": "the process whose diagram draws it (the mode's, or a called process's)"}
    )
    due_at = fields.DateTime(metadata={"description": "when it fires (the scheduler fires it once past this)"})


class ProcessView(Schema):
    instance_id = fields.String()
    declaration_id = fields.String()
    status = fields.String()
    suspended = fields.Boolean()
    has_incident = fields.Boolean()
    held_messages = fields.Integer(
        metadata={
            "description": "messages waiting for the process to run again (while suspended or with an open incident)"
        }
    )
    held = fields.List(fields.Nested(HeldOut), metadata={"description": "those messages, in arrival order"})
    definition_id = fields.String()
    process_id = fields.String()
    bpmn = fields.String(metadata={"description": "the BPMN XML of the version the instance runs on"})
    active = fields.List(fields.String(), metadata={"description": "ids of elements with a running task"})
    completed = fields.List(fields.String(), metadata={"description": "ids of elements already passed"})
    timers = fields.List(
        fields.Nested(TimerOut),
        metadata={
            "description": "the timers the process waits at, earliest first: publicity periods, the modification "
            "deadline, service levels"
        },
    )
    called = fields.List(
        fields.Nested(CalledView),
        metadata={
            "description": "the processes the version calls (call activities), each with its own XML and element "
            "ids, so a viewer can open the called diagram beside the mode's"
        },
    )
    decisions = fields.List(
        fields.Nested(DecisionView),
        metadata={
            "description": "the decision tables the version's business-rule tasks evaluate (its own and its called "
            "processes'), for a dmn-js viewer"
        },
    )
    history = fields.List(fields.Nested(HistoryEntry))


class AuditOut(Schema):
    intact = fields.Boolean()
    problems = fields.List(fields.Dict())
    entries = fields.List(fields.Nested(HistoryEntry))


class VersionOut(Schema):
    id = fields.String()
    process_id = fields.String()
    number = fields.Integer()
    label = fields.String()
    file_name = fields.String()
    deployed_at = fields.String()
    running_instances = fields.Integer()
    calls = fields.List(fields.String(), metadata={"description": "the versions of the processes it calls"})
    decisions = fields.List(
        fields.String(),
        metadata={"description": "the decision tables (DMN) it bundles: decision id (file, content hash prefix)"},
    )


class DiffQuery(Schema):
    old = fields.String(required=True, data_key="from", metadata={"description": "hash, prefix or process@N"})
    new = fields.String(required=True, data_key="to")


class DiffOut(Schema):
    added = fields.List(fields.Dict())
    removed = fields.List(fields.Dict())
    changed = fields.List(fields.Dict())


def trail(uow, declaration_id: str) -> list[dict]:
    rows = uow.session.scalars(
        select(Task)
        .where(Task.declaration_id == declaration_id, Task.status == "completed")
        .order_by(Task.completed_at, Task.id)
    )
    return [
        {
            "stage": t.stage or t.bpmn_id,
            "name": t.name,
            "organisation": t.organisation,
            "actor": t.completed_by,
            # A vote is secret: the trail shows that the expert voted, never how.
            "decision": "voted" if t.role == "expert" else t.decision,
            "reason": None if t.role == "expert" else t.reason,
            "at": t.completed_at,
        }
        for t in rows
    ]


@blp.route("/tasks/<task_id>/context")
class TaskInContext(MethodView):
    @blp.response(200, TaskContext)
    @require_roles(*REVIEWERS)
    @read_only
    def get(self, task_id: str, *, uow, principal):
        """A task with the declaration it is about (as of submission) and the trail so far."""
        task = service.task(uow, principal, task_id)
        return {"task": task, "declaration": snapshots.as_of(uow, task), "trail": trail(uow, task.declaration_id)}


@blp.route("/tasks/<task_id>/assign")
class Assign(MethodView):
    @blp.arguments(Assignment)
    @blp.response(200, TaskOut)
    @require_roles("unit", "department", "committee", "title_office")
    @transaction
    def post(self, data, task_id: str, *, uow, principal):
        """Assign a task to a colleague of the same organisation (指派); they alone may complete it."""
        return queues.assign(uow, principal, task_id, data["assignee"])


def _history(entries, full: bool) -> list[dict]:
    return [
        {
            "seq": e.seq,
            "at": e.at,
            "source": e.source,
            "actor": e.actor,
            "element": e.element,
            "task_id": e.task_id,
            "decision": e.decision,
            "reason": e.reason,
            "completed": e.completed,
            "changes": e.changes if full else {},
            "hash": e.hash,
            "prev_hash": e.prev_hash,
        }
        for e in entries
    ]


def _element_ids(tasks) -> dict[str, set[str]]:
    """Element ids by the process whose diagram draws them (the mode's own, or a called process's)."""
    out: dict[str, set[str]] = {}
    for task in tasks:
        if task.task_spec.bpmn_id:
            out.setdefault(task.workflow.spec.name, set()).add(task.task_spec.bpmn_id)
    return out


@blp.route("/processes/<declaration_id>/view")
class ProcessDiagram(MethodView):
    @blp.response(200, ProcessView)
    @read_only
    def get(self, declaration_id: str, *, uow, principal):
        """The diagram version's BPMN XML with active and completed element ids, and the history."""
        instance = service.instance_of(uow, principal, declaration_id)
        definition = uow.session.get_one(Definition, instance.definition_id)
        workflow = state.load(uow, instance)
        running = TaskState.READY | TaskState.WAITING | TaskState.STARTED | TaskState.ERROR
        active, completed = (
            _element_ids(workflow.get_tasks(state=running)),
            _element_ids(workflow.get_tasks(state=TaskState.COMPLETED)),
        )
        for process_id, passed in history.pruned(workflow).items():  # cut off the saved state
            completed.setdefault(process_id, set()).update(passed)
        called = [c for c in (uow.session.get(Definition, called_id) for called_id in definition.calls or []) if c]
        full = principal.role in ("title_office", "designer")
        waiting = held.pending(uow, instance.id)
        return {
            "instance_id": instance.id,
            "declaration_id": declaration_id,
            "status": instance.status,
            "suspended": instance.suspended,
            "has_incident": instance.has_incident,
            "held_messages": len(waiting),
            "held": waiting,
            "definition_id": definition.id,
            "process_id": definition.process_id,
            "bpmn": definition.bpmn,
            "active": sorted(set().union(*active.values())),
            "completed": sorted(set().union(*completed.values())),
            "timers": [
                {"element": element, "process_id": process_id, "due_at": due}
                for element, process_id, due in runtime.waiting_timers(workflow)
            ],
            "called": [
                {
                    "definition_id": c.id,
                    "process_id": c.process_id,
                    "bpmn": c.bpmn,
                    "active": sorted(active.get(c.process_id, ())),
                    "completed": sorted(completed.get(c.process_id, ())),
                }
                for c in called
            ],
            "decisions": [
                {"decision_id": decision_id, "file_name": file_name, "dmn": dmn}
                for decision_id, (file_name, dmn) in definitions.stored_decisions([definition, *called]).items()
            ],
            "history": _history(audit.entries(uow, instance.id), full),
        }


@blp.route("/processes/<declaration_id>/audit")
class AuditLog(MethodView):
    @blp.response(200, AuditOut)
    @require_roles("title_office", "designer")
    @read_only
    def get(self, declaration_id: str, *, uow, principal):
        """The instance's audit log, with the hash chain checked (tampering shows as problems)."""
        instance = service.instance_of(uow, principal, declaration_id)
        problems_found = audit.verify(uow, instance)
        return {
            "intact": not problems_found,
            "problems": problems_found,
            "entries": _history(audit.entries(uow, instance.id), True),
        }


@blp.route("/definitions/versions")
class Versions(MethodView):
    @blp.response(200, VersionOut(many=True))
    @read_only
    def get(self, *, uow):
        """Deployed versions, numbered per process, with how many instances run on each."""
        return versions.listing(uow)


@blp.route("/definitions/diff")
class VersionDiff(MethodView):
    @blp.arguments(DiffQuery, location="query")
    @blp.response(200, DiffOut)
    @read_only
    def get(self, query, *, uow, principal):
        """What changed between two versions, by element id (layout ignored), and in the decision
        tables they bundle, rule by rule (items with ``decision``, and ``row`` for a rule)."""
        if principal.role == "applicant":
            raise Forbidden.on("role", "staff", "diagram versions are for staff and designers")
        old, new = versions.resolve(uow, query["old"]), versions.resolve(uow, query["new"])
        return versions.diff_versions(uow, old, new).as_dict()
