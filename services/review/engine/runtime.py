"""The process runtime: start, load (under the per-instance lock), advance and
save SpiffWorkflow instances, and project what they do into the database.

Every path that changes an instance — an HTTP task completion, a message
consumer, the timer scheduler — goes through ``locked()``: a row lock on
PostgreSQL (SQLite's BEGIN IMMEDIATE on the embedded default) plus a version
check on save, so two workers never run one instance at once.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.specs.mixins.events.end_event import EndEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm.util import identity_key

from services.review.engine import (
    audit,
    contract,
    definitions,
    history,
    loaded,
    ports,
    projection,
    state,
    steps,
    timers,
)
from services.review.engine.functions import FUNCTIONS
from services.review.engine.messages import OUTBOUND
from services.review.engine.steps import Step
from services.review.models import Definition, Instance, Task
from shared import clock
from shared.contracts import contract as contract_of
from shared.contracts.review import Completed, StageChanged
from shared.db import utcnow
from shared.errors import Conflict, DomainError, NotFound
from shared.expressions import CompilingEnvironment
from shared.observability import context
from shared.pipeline import one_round_trip
from shared.session import as_loaded
from shared.uow import UnitOfWork

# Timers judged by the system's clock (engine/timers.py), under SpiffWorkflow's own type names. This one
# writes a whole workflow, specs included; instances are stored without them (engine/state.py).
SERIALIZER = state.WHOLE
# Shown with every task so queues need no second lookup.
SUMMARY_KEYS = (
    "applicant_name",
    "activity_id",
    "mode",
    "series",
    "level",
    "specialty",
    "qualification_name",
    "category",
    "unit_code",
    "committee_code",
)


class ScriptEngine(PythonScriptEngine):
    """Runs the diagrams' expressions (with the functions of engine/functions.py), and their service
    tasks in-process (the operations the engine's ports give)."""

    def __init__(self, uow: UnitOfWork, declaration_id: str):
        super().__init__(environment=CompilingEnvironment(dict(FUNCTIONS)))
        self.uow = uow
        self.declaration_id = declaration_id

    def call_service(
        self, task: Any, operation_name: str | None = None, operation_params: dict[str, Any] | None = None, **_: Any
    ) -> str:
        # Overridden on the engine: 3.2.0's default error path is broken (docs/engine.md E7).
        operation = ports.of(self.uow).operations.get(operation_name or "")
        if operation is None:
            raise WorkflowTaskException(f"unknown service operation {operation_name!r}", task=task)
        params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
        return json.dumps(operation(self.uow, self.declaration_id, **params))


def _workflow(uow: UnitOfWork, definition: Definition) -> BpmnWorkflow:
    # The called processes' specs come from the versions deployed with this one; once started, the
    # instance's saved state carries every spec it runs (subprocess specs included), so it stays on them.
    spec, subprocess_specs = definitions.specs_of(uow, definition)
    return BpmnWorkflow(spec, subprocess_specs)


def start(
    uow: UnitOfWork, definition: Definition, declaration_id: str, applicant: str, data: dict[str, Any]
) -> Instance:
    workflow = _workflow(uow, definition)
    workflow.script_engine = ScriptEngine(uow, declaration_id)
    # Scripts do not see workflow.data; the start task's data is what they read (docs/engine.md E5).
    workflow.task_tree.data.update(data)
    instance = Instance(
        id=str(uuid.uuid4()),
        declaration_id=declaration_id,
        definition_id=definition.id,
        process_id=definition.process_id,
        applicant=applicant,
        state="",
        serializer_version=SERIALIZER.VERSION,
        mode=data.get("mode"),
        series=data.get("series"),
        level=data.get("level"),
    )
    uow.session.add(instance)
    uow.session.flush()
    projection.remember(uow, instance.id, set(), None)
    replay = {"definition_id": definition.id, "applicant": applicant, "data": data}
    with steps.step(
        instance.id,
        declaration_id,
        Step("start", actor=context.causation_id.get(), changes=data, replay=replay),
        workflow,
    ):
        advance(uow, instance, workflow)
    return instance


# FROM instances first: PostgreSQL locks a join's rows in FROM order, so the instance's row is locked
# before the task's, and a wait for it re-reads both rows as they are once it is ours; rows the session
# read before (an action's endpoint finds its task first) take the locked values. (Built once: a
# completion runs it every time.)
_BY_TASK = (
    select(Instance)
    .join_from(Instance, Task, Task.instance_id == Instance.id)
    .add_columns(Task)
    .where(Task.id == bindparam("task_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
# The same rows and locks in Core, for a session that holds neither object yet (a completion's): the
# ORM's loading of the row cost half as much again as the statement (bench/results.md, twelfth session).
_INSTANCE_COLUMNS = tuple(Instance.__table__.columns)
_TASK_COLUMNS = tuple(Task.__table__.columns)
_INSTANCE_KEYS = tuple(c.key for c in _INSTANCE_COLUMNS)
_TASK_KEYS = tuple(c.key for c in _TASK_COLUMNS)
_BY_TASK_ROW = (
    select(*_INSTANCE_COLUMNS, *_TASK_COLUMNS)
    .join_from(Instance.__table__, Task.__table__, Task.instance_id == Instance.id)
    .where(Task.id == bindparam("task_id"))
    .with_for_update()
)


def _instance_and_task(uow: UnitOfWork, task_id: str) -> tuple[Instance, Task] | None:
    """The instance and the task, both rows locked, as the session's objects (None: no such task)."""
    session = uow.session
    if identity_key(Task, task_id) not in session.identity_map:
        row = session.connection().execute(_BY_TASK_ROW, {"task_id": task_id}).first()
        if row is None:
            return None
        split = len(_INSTANCE_KEYS)
        instance_values = dict(zip(_INSTANCE_KEYS, row[:split], strict=True))
        if identity_key(Instance, instance_values["id"]) not in session.identity_map:
            return (
                as_loaded(session, Instance, instance_values),
                as_loaded(session, Task, dict(zip(_TASK_KEYS, row[split:], strict=True))),
            )
    # the session holds one of them already: the ORM's statement refreshes it with the locked row
    found = session.execute(_BY_TASK, {"task_id": task_id}).first()
    return None if found is None else (found[0], found[1])


_BY_ID = select(Instance).where(Instance.id == bindparam("instance_id")).with_for_update()
_BY_DECLARATION = select(Instance).where(Instance.declaration_id == bindparam("declaration_id")).with_for_update()


@contextlib.contextmanager
def locked(
    uow: UnitOfWork,
    *,
    instance_id: str | None = None,
    declaration_id: str | None = None,
    task_id: str | None = None,
) -> Iterator[tuple[Instance, BpmnWorkflow]]:
    """Load an instance under its lock; the caller advances it (or raises).

    By ``task_id``, the instance whose task that is: one statement locks the instance's row and then
    the task's (in that order, as every other path takes them) and leaves the task in the session,
    so the caller reads it with ``session.get`` at no cost."""
    instance: Instance | None
    if task_id is not None:
        pair = _instance_and_task(uow, task_id)
        if pair is None:
            raise NotFound.on("task_id", "exists", f"task {task_id} does not exist")
        instance = pair[0]
    else:
        instance = (
            uow.session.scalar(_BY_ID, {"instance_id": instance_id})
            if instance_id
            else uow.session.scalar(_BY_DECLARATION, {"declaration_id": declaration_id})
        )
        if instance is None:
            raise NotFound(f"no review process for {instance_id or declaration_id}")
    kept = loaded.LOADED.take(instance.id, instance.state)
    workflow, projected = kept if kept is not None else (state.load(uow, instance), None)
    # The script engine is not serialized: give the loaded instance ours.
    workflow.script_engine = ScriptEngine(uow, instance.declaration_id)
    if projected is None:
        found = open_tasks(workflow)
        projected = projection.Projected(frozenset(_ready_ids(workflow, found)), next_due(workflow, found))
    projection.remember(uow, instance.id, projected.ready, projected.due)
    yield instance, workflow


def run_task(uow: UnitOfWork, instance: Instance, workflow: BpmnWorkflow, task_id: str, data: dict[str, Any]) -> None:
    steps.ensure_running(instance)
    task = workflow.get_task_from_id(uuid.UUID(task_id))
    if task is None or task.state != TaskState.READY:
        raise Conflict.on("task_id", "ready", "the task is no longer open (任务已处理)")
    this = Step(
        "task",
        actor=data.get("decided_by"),
        element=task.task_spec.bpmn_id,
        task_id=task_id,
        decision=data.get("decision"),
        reason=data.get("reason"),
        changes=data,
        replay={"actor": data.get("decided_by"), "decision": data.get("decision"), "reason": data.get("reason")},
    )
    with steps.step(instance.id, instance.declaration_id, this, workflow):
        task.set_data(**data)
        _engine_call(task.run)
        advance(uow, instance, workflow)


def deliver(
    uow: UnitOfWork,
    instance: Instance,
    workflow: BpmnWorkflow,
    message_name: str,
    payload: dict[str, Any],
    decision: str | None = None,
    reason: str | None = None,
) -> bool:
    """Deliver a BPMN message to the instance; False if nothing waits for it. ``decision`` and
    ``reason`` go to the audit entry (a held message says it was delivered after a resume)."""
    steps.ensure_running(instance)
    for task in workflow.get_tasks(state=TaskState.WAITING):
        event_definition, element = _waits_for(task.task_spec, message_name)
        if event_definition is not None:
            this = Step(
                "message",
                actor=context.causation_id.get(),
                element=element,
                decision=decision,
                reason=reason,
                changes=payload,
                replay={"message": message_name, "payload": payload},
            )
            with steps.step(instance.id, instance.declaration_id, this, workflow):
                # Reuse the waiting task's own definition: definitions compare by class (docs/engine.md E4).
                _engine_call(workflow.send_event, BpmnEvent(event_definition, payload))
                advance(uow, instance, workflow)
            return True
    return False


def _waits_for(spec: Any, message_name: str) -> tuple[Any, str | None]:
    """The message definition a waiting task catches by that name, and the element that catches it.

    An event-based gateway holds its events' definitions itself (a MultipleEventDefinition; the
    catch events after it have none), so the gateway is what waits for, say, a resubmission."""
    definition = getattr(spec, "event_definition", None)
    if definition is not None and getattr(definition, "name", None) == message_name:
        return definition, spec.bpmn_id
    for index, inner in enumerate(getattr(definition, "event_definitions", None) or []):
        if getattr(inner, "name", None) == message_name:
            outputs = getattr(spec, "outputs", [])
            catcher = outputs[index] if index < len(outputs) else spec
            return inner, catcher.bpmn_id or spec.bpmn_id
    return None, None


def waiting_timers(workflow: BpmnWorkflow, found: list[Any] | None = None) -> list[tuple[str, str, dt.datetime]]:
    """The timers the instance waits at, earliest first: (element id, process id, due time). An
    event-based gateway's timer is named by its catch event (the gateway holds its time).
    ``found``: the tree's READY and WAITING tasks as ``open_tasks`` found them (else walked here)."""
    waiting = []
    for task in _waiting(workflow, found):
        due = timers.due_at(task)
        if due is not None:
            waiting.append((_timer_element(task.task_spec), task.workflow.spec.name, due))
    return sorted(waiting, key=lambda timer: (timer[2], timer[0]))


def _timer_element(spec: Any) -> str:
    element: str
    for index, inner in enumerate(getattr(spec.event_definition, "event_definitions", None) or []):
        if timers.is_timer(inner) and index < len(spec.outputs):
            element = spec.outputs[index].bpmn_id or spec.bpmn_id
            return element
    element = spec.bpmn_id or spec.name
    return element


def fire_timers(uow: UnitOfWork, instance: Instance, workflow: BpmnWorkflow) -> None:
    steps.ensure_running(instance)
    now = clock.now()
    due = sorted({element for element, _, at in waiting_timers(workflow) if at < now})
    with steps.step(
        instance.id, instance.declaration_id, Step("timer", actor="scheduler", element=",".join(due) or None), workflow
    ):
        workflow.refresh_timers()
        advance(uow, instance, workflow)


def advance(uow: UnitOfWork, instance: Instance, workflow: BpmnWorkflow) -> None:
    """Run what is automatic, then project tasks, messages, timers and outcome, and save."""
    left_open = run_engine(workflow)  # the tree does not change again until the prune below
    for event in workflow.get_events():
        message_type = OUTBOUND.get(event.event_definition.name)
        if message_type is None:
            raise RuntimeError(f"diagram threw unknown message {event.event_definition.name!r}")
        # the diagram's payload as it is, read strictly: the diagram must send the whole contract
        message = contract_of(message_type).message.load(dict(event.payload or {}), strict=True)
        uow.publish(message, correlation_id=instance.declaration_id)
    ready = _project_tasks(uow, instance, workflow, left_open)
    due = next_due(workflow, left_open)
    projection.set_timer(uow, instance.id, due)
    projection.remember(uow, instance.id, ready, due)
    instance.stage = current_stage(workflow, left_open)
    if workflow.is_completed() and instance.status != "completed":
        instance.status = "completed"
        instance.outcome = outcome = _outcome(workflow)
        announce_completed(uow, instance, outcome, utcnow())
    entry = _audit(uow, instance, workflow)
    history.prune(workflow)  # the state keeps what is live; the audit log has the rest
    instance.state = state.dump(workflow)
    instance.updated_at = utcnow()
    # The step's writes need no answer from each other: on PostgreSQL they go to the server together.
    with one_round_trip(uow.session) as batch:
        if entry is not None:
            audit.write(uow, entry)
        projection.write_tasks(uow)
        state.save(uow, instance, batch)  # the version is checked and bumped (compare-and-set)
        uow.write_outbox()
    uow.session.flush()
    loaded.saved(uow.session, instance.id, instance.state, workflow, projection.Projected(frozenset(ready), due))


def run_engine(workflow: BpmnWorkflow) -> list[Any]:
    """Run what is automatic until nothing is: ``do_engine_steps`` ends by refreshing the timers, so a
    timer that fell due while the step ran is left READY, neither run nor waiting, and no timer row
    would ever wake it (docs/engine.md E16). Another round runs them; it stops when a round leaves the
    same tasks READY (the engine would not run them) and after a hundred rounds at most. Returns the
    tasks left READY or WAITING (``open_tasks``): the round's one walk of the tree, which the step's
    projection reads instead of walking it again for each thing it projects."""
    left: set[Any] = set()
    found: list[Any] = []
    for _ in range(100):
        _engine_call(workflow.do_engine_steps)
        found = open_tasks(workflow)
        ready = {t.id for t in found if t.state == TaskState.READY and not t.task_spec.manual}
        if not ready or ready == left:
            break
        left = ready
    return found


def open_tasks(workflow: BpmnWorkflow) -> list[Any]:
    """The READY and WAITING tasks, in the tree's order, in one walk: with one mask the iterator takes
    the same path as for either state alone (both definite states; finished called processes not
    entered), so filtering this list gives what ``get_tasks(state=...)`` gives."""
    found: list[Any] = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)
    return found


def _human(workflow: BpmnWorkflow, found: list[Any] | None) -> list[Any]:
    """The READY human (manual) tasks, as ``get_tasks(state=READY, manual=True)`` lists them."""
    if found is None:
        found = open_tasks(workflow)
    return [t for t in found if t.state == TaskState.READY and t.task_spec.manual]


def _waiting(workflow: BpmnWorkflow, found: list[Any] | None) -> list[Any]:
    if found is None:
        found = open_tasks(workflow)
    return [t for t in found if t.state == TaskState.WAITING]


def announce_completed(uow: UnitOfWork, instance: Instance, outcome: str, at: dt.datetime) -> None:
    """review.completed.v1 with the instance's outcome, however the instance ended."""
    uow.publish(
        Completed(
            declaration_id=instance.declaration_id, applicant=instance.applicant, outcome=outcome, at=at.isoformat()
        ),
        correlation_id=instance.declaration_id,
    )


def _audit(uow: UnitOfWork, instance: Instance, workflow: BpmnWorkflow) -> audit.Entry | None:
    """The audit entry for the step under way, to write with the instance (which names it as its head,
    so the version moves once)."""
    this = steps.current_step()
    if this is None:
        return None
    done = [t for t in workflow.get_tasks(state=TaskState.COMPLETED) if str(t.id) not in this.completed_before]
    secret = "vote" in this.changes
    entry = audit.entry(
        uow,
        instance,
        source=this.source,
        actor=this.actor,
        element=this.element,
        task_id=this.task_id,
        decision="voted" if secret else this.decision,
        reason=None if secret else this.reason,
        changes=audit.redacted(this.changes),
        completed=[t.task_spec.bpmn_id for t in done if t.task_spec.bpmn_id],
    )
    this.completed_before.update(str(t.id) for t in done)  # a second advance in one step adds only news
    return entry


def _engine_call(function: Any, *args: Any) -> Any:
    """Surface a rule broken inside the engine (say, a pool too small) as itself."""
    try:
        return function(*args)
    except Exception as exc:
        cause: BaseException | None = exc
        while cause is not None:
            if isinstance(cause, DomainError):
                raise cause from exc
            cause = cause.__cause__ or cause.__context__
        raise


def _project_tasks(
    uow: UnitOfWork, instance: Instance, workflow: BpmnWorkflow, found: list[Any] | None = None
) -> set[str]:
    """Rows for the tasks that became ready, cancellations for those that went; returns the ready ids."""
    ready = {str(t.id): t for t in _human(workflow, found)}
    open_ids = projection.open_task_ids(uow, instance.id)
    # the process moved on without them (e.g. a boundary event); a completion closed its own already
    projection.cancel_tasks(uow, open_ids - ready.keys())
    announced: set[tuple[str, str | None]] = set()
    for task_id, task in ready.items():
        if task_id in open_ids:
            continue
        properties = task.task_spec.extensions.get("properties", {})
        evaluate = workflow.script_engine.evaluate
        organisation = evaluate(task, properties["organisation"]) if properties.get("organisation") else None
        assignee = evaluate(task, properties["assignee"]) if properties.get("assignee") else None
        role = contract.role_of_lane(task.task_spec.lane)
        # Found later by its stage and action (properties), never by its element id. An expert's task is
        # a secret ballot even on a version saved before the vote carried action=vote (as migration
        # 0010 says of the rows it found): a running instance must never show how an expert voted.
        action = properties.get("action") or ("vote" if role == "expert" else None)
        stage_id: str = properties.get("stage") or task.task_spec.bpmn_id
        name = task.task_spec.bpmn_name or task.task_spec.bpmn_id
        projection.add_task(
            uow,
            {
                "id": task_id,
                "instance_id": instance.id,
                "declaration_id": instance.declaration_id,
                "bpmn_id": task.task_spec.bpmn_id,
                "name": name,
                "role": role,
                "organisation": organisation,
                "assignee": assignee,
                "decisions": properties.get("decisions", "approve"),
                "action": action,
                "status": "ready",
                "summary": {key: task.data.get(key) for key in SUMMARY_KEYS},
                **_queue_columns(stage_id, task.data, timers.boundary_due_at(task)),
            },
        )
        stage = (stage_id, organisation)
        if stage not in announced:
            announced.add(stage)
            uow.publish(
                StageChanged(
                    declaration_id=instance.declaration_id,
                    applicant=instance.applicant,
                    stage=stage_id,
                    stage_name=name,
                    role=role,
                    organisation=organisation,
                    organisation_name=ports.of(uow).organisation_name(uow, organisation),
                    at=utcnow().isoformat(),
                ),
                correlation_id=instance.declaration_id,
            )
    return set(ready)


def _queue_columns(stage: str, data: dict[str, Any], due_at: dt.datetime | None) -> dict[str, Any]:
    """What a task row is filtered by in the queues, read from the process data when it is projected;
    ``due_at`` is its service-level timer's (None for a task the diagram gives no level)."""
    return {
        "stage": stage,
        "activity_id": data.get("activity_id"),
        "series": data.get("series"),
        "level": data.get("level"),
        "applicant": data.get("applicant"),
        "applicant_name": data.get("applicant_name"),
        "created_at": utcnow(),
        "due_at": due_at,
    }


def current_stage(workflow: Any, found: list[Any] | None = None) -> str | None:
    """The instance's stage for statistics: its open human task, else what it waits for. ``found``:
    the READY and WAITING tasks (``open_tasks``), else walked here."""
    if workflow.is_completed():
        return "completed"
    stage: str | None
    if found is None:
        found = open_tasks(workflow)
    for task in _human(workflow, found):
        stage = task.task_spec.extensions.get("properties", {}).get("stage") or task.task_spec.bpmn_id
        return stage
    for task in _waiting(workflow, found):
        if getattr(task.task_spec, "event_definition", None) is not None and task.task_spec.bpmn_id:
            stage = task.task_spec.bpmn_id
            return stage
    return None


def next_due(workflow: BpmnWorkflow, found: list[Any] | None = None) -> dt.datetime | None:
    """The instance's next due time (the scheduler's index), from every waiting timer: behind an
    event-based gateway too, where ``waiting_events()`` has no time (docs/engine.md E12)."""
    due = waiting_timers(workflow, found)
    return due[0][2] if due else None


def _ready_ids(workflow: BpmnWorkflow, found: list[Any] | None = None) -> set[str]:
    return {str(t.id) for t in _human(workflow, found)}


def _outcome(workflow: BpmnWorkflow) -> str:
    """The ``outcome`` property of the end event the process reached (engine/contract.py): of its own
    end events, not those of a sub-process or called process, nor an end marked as no outcome (an
    overdue flag's branch)."""
    outcomes = [
        contract.outcome_of(t.task_spec.extensions.get("properties", {}))
        for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if isinstance(t.task_spec, EndEvent) and t.workflow is workflow
    ]
    found = [outcome for outcome in outcomes if outcome]
    return found[-1] if found else "completed"
