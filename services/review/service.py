"""The review service layer: starting reviews, task queues, completing tasks,
messages from other services, and the directory replica."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from services.review import claims, directory, queues
from services.review.engine import audit, definitions, held, projection, runtime, state, steps, timers, versions
from services.review.engine.messages import INBOUND_BY_TYPE
from services.review.meetings import after_defence
from services.review.models import Expert, Instance, Organisation, Task, Timer, Vote
from shared.contracts.profile import OrganisationRegistered
from shared.contracts.review import DecisionRecorded, TaskClaimed
from shared.db import utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identity.principal import Principal
from shared.observability import context
from shared.prepared import Prepared
from shared.uow import UnitOfWork

# -- the directory replica ------------------------------------------------------


def organisation_registered(uow: UnitOfWork, registered: OrganisationRegistered) -> None:
    org = uow.session.get(Organisation, registered.code)
    if org is None:
        org = Organisation(code=registered.code)
        uow.session.add(org)
    org.name, org.kind, org.parent_code = registered.name, registered.kind, registered.parent
    directory.forget(registered.code)


def department_chain(uow: UnitOfWork, unit_code: str) -> list[str]:
    """The competent departments above a unit, level by level, read from the directory."""
    unit = uow.session.get(Organisation, unit_code)
    if unit is None:
        # The directory event may still be on its way: failing lets the consumer retry.
        raise LookupError(f"unit {unit_code} is not (yet) in the review service's directory")
    chain: list[str] = []
    parent = unit.parent_code
    while parent is not None:
        if parent in chain:
            raise ValueError(f"the directory has a cycle above unit {unit_code}")
        org = uow.session.get(Organisation, parent)
        if org is None:
            raise LookupError(f"department {parent} is not (yet) in the review service's directory")
        chain.append(org.code)
        parent = org.parent_code
    if not chain:
        raise ValueError(f"unit {unit_code} has no competent department in the directory")
    return chain


def title_office_code(uow: UnitOfWork) -> str:
    code = uow.session.scalar(select(Organisation.code).where(Organisation.kind == "title_office"))
    if code is None:
        raise LookupError("the title office is not (yet) in the review service's directory")
    return code


# -- starting and advancing reviews ------------------------------------------------

START_KEYS = (
    "declaration_id",
    "applicant",
    "applicant_name",
    "id_number",
    "unit_code",
    "activity_id",
    "committee_code",
    "committee_name",
    "mode",
    "series",
    "level",
    "specialty",
    "qualification_name",
    "category",
    "modification_deadline",
)


def activity_settings(data: dict[str, Any]) -> dict[str, Any]:
    """The activity's own settings, named as the decision tables in bpmn/ take them (None: the
    activity sets none). The diagrams' business-rule tasks decide from them, the regulation's floors
    and the plan's defaults being in the tables: an activity may be stricter, never looser."""
    given = dict(data.get("settings") or {})

    def pair(*names: str) -> list[int] | None:
        for name in names:  # the declaration service says vote_threshold_numerator; older producers vote_numerator
            numerator, denominator = given.get(f"{name}_numerator"), given.get(f"{name}_denominator")
            if numerator is not None and denominator is not None:
                return [int(numerator), int(denominator)]
        return None

    return {
        "activity_quorum": pair("attendance"),
        "activity_pass_threshold": pair("vote_threshold", "vote"),
        "activity_defence_levels": list(given["defence_levels"]) if given.get("defence_levels") else None,
        "activity_panel_size": data.get("panel_size"),
        "activity_publicity_working_days": given.get("publicity_working_days"),
        "activity_service_levels": dict(given["service_levels"]) if given.get("service_levels") else None,
    }


def start_review(uow: UnitOfWork, data: dict[str, Any]) -> Instance | None:
    """Start the mode's process for a submitted declaration (once)."""
    existing = uow.session.scalar(select(Instance).where(Instance.declaration_id == data["declaration_id"]))
    if existing is not None:
        return None
    # What the directory or the modes cannot give is a stuck declaration, not a poison message: an
    # incident names it for the title office, and retrying it (once the directory is put right) starts
    # the review. A replica still on its way (LookupError) is left to the consumer's redelivery.
    try:
        process_id = definitions.PROCESS_OF_MODE.get(data["mode"])
        if process_id is None:
            raise ValueError(f"no process is defined for mode {data['mode']!r}")
        chain = department_chain(uow, data["unit_code"])
    except ValueError as exc:
        raise steps.StepFailed(
            steps.Step("start", replay={"submitted": data}), None, data["declaration_id"], None, f"{exc}"
        ) from exc
    definition = definitions.latest(uow, process_id)
    start_data = {key: data.get(key) for key in START_KEYS}
    start_data["settings"] = dict(data.get("settings") or {})  # as the activity gave them
    start_data.update(activity_settings(data))
    start_data["departments"] = chain
    # (versions deployed before the department chain was a called process read it under its old name)
    start_data["department_chain"] = chain
    start_data["title_office_code"] = title_office_code(uow)
    unit = uow.session.get(Organisation, data["unit_code"])
    start_data["unit_name"] = unit.name if unit else data["unit_code"]
    return runtime.start(uow, definition, data["declaration_id"], data["applicant"], start_data)


def message_arrived(
    uow: UnitOfWork, message_type: str, declaration_id: str, payload: dict[str, Any], message_id: str | None = None
) -> None:
    """Route another service's message to the instance waiting for it (held while it cannot take it)."""
    message_id = message_id or context.causation_id.get() or str(uuid.uuid4())
    with runtime.locked(uow, declaration_id=declaration_id) as (instance, workflow):
        if instance.status == "completed":
            return  # a late duplicate: the process has moved on
        if held.hold_if_needed(uow, instance, message_id, message_type, payload):
            return
        if not apply_message(uow, instance, workflow, message_type, payload, message_id):
            raise LookupError(f"instance {instance.id} does not wait for {message_type} (yet)")


@contextlib.contextmanager
def locked_for_message(uow: UnitOfWork, declaration_id: str) -> Iterator[Callable[[str, dict[str, Any], str], bool]]:
    """Hold a declaration's instance lock for a change that may end in a message of the review's own
    (the last open objection resolved): ``deliver`` gives it to the process if it waits for it, holds
    it while the process cannot take it (suspended, an open incident), and otherwise returns False
    (the process has not reached that wait, or has ended)."""
    with runtime.locked(uow, declaration_id=declaration_id) as (instance, workflow):

        def deliver(message_type: str, payload: dict[str, Any], message_id: str) -> bool:
            if instance.status == "completed":
                return False
            if held.hold_if_needed(uow, instance, message_id, message_type, payload):
                return True
            return apply_message(uow, instance, workflow, message_type, payload, message_id)

        yield deliver


def withdrawn(uow: UnitOfWork, declaration_id: str, payload: dict[str, Any], message_id: str | None = None) -> None:
    """The applicant withdrew: the diagram ends it where it waits for that (at the first check, or
    while returned); anywhere else the declaration service's word stands and the instance is ended."""
    if uow.session.scalar(select(Instance.id).where(Instance.declaration_id == declaration_id)) is None:
        return  # withdrawn before the review started (the submitted event will find it withdrawn)
    message_arrived(uow, "declaration.withdrawn.v1", declaration_id, payload, message_id)


def for_engine(message_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    """What of a message the process gets. A resubmission brings the declaration's names and deadline
    (START_KEYS), not its content: the content is kept per submission for the task views
    (services/review/snapshots.py), and in the process state every completed return would keep
    copies of it for good (about 28 KiB a return with a modest declaration)."""
    if message_type == "declaration.resubmitted.v1":
        return {key: payload.get(key) for key in START_KEYS if key in payload}
    return payload


def apply_message(
    uow: UnitOfWork,
    instance: Instance,
    workflow: Any,
    message_type: str,
    payload: dict[str, Any],
    message_id: str,
    decision: str | None = None,
    reason: str | None = None,
) -> bool:
    """Deliver a message to the locked instance now; False if it does not wait for it."""
    if runtime.deliver(
        uow, instance, workflow, INBOUND_BY_TYPE[message_type], for_engine(message_type, payload), decision, reason
    ):
        return True
    if message_type == "declaration.withdrawn.v1":
        _end_withdrawn(uow, instance, workflow, payload, message_id, reason)
        return True
    return False


def _end_withdrawn(
    uow: UnitOfWork, instance: Instance, workflow: Any, payload: dict[str, Any], message_id: str, note: str | None
) -> None:
    """End an instance the applicant withdrew where its diagram has no withdrawal path: cancel its open
    tasks and timers, audit it, and announce the outcome as the diagram would."""
    steps.ensure_running(instance)
    stage_before = instance.stage
    open_tasks = list(
        uow.session.scalars(select(Task).where(Task.instance_id == instance.id, Task.status.in_(("ready", "claimed"))))
    )
    timer = uow.session.get(Timer, instance.id)
    projection.forget(uow, instance.id)  # the rows are closed here, not by a projection
    workflow.cancel()
    for row in open_tasks:
        row.status = "cancelled"
    if timer is not None:
        uow.session.delete(timer)
    now = utcnow()
    instance.status, instance.outcome, instance.stage = "completed", "withdrawn", "completed"
    reason = (
        f"withdrawn by the applicant while the process was at {stage_before or '-'}, where the diagram "
        f"does not wait for a withdrawal: the process is ended (申报人撤回，流程终止)"
    )
    audit.append(
        uow,
        instance,
        source="message",
        actor=message_id,
        decision="withdrawn",
        reason=f"{reason}; {note}" if note else reason,
        changes={
            "message": "declaration.withdrawn.v1",
            **payload,
            "stage": stage_before,
            "cancelled_tasks": sorted(f"{t.bpmn_id}:{t.id}" for t in open_tasks),
            "cancelled_timer": timer.due_at.isoformat() if timer is not None else None,
        },
    )
    # As the diagrams' own withdrawal paths: the outcome only. The declaration service recorded the
    # withdrawal (it sent it), and notify tells the applicant the result once.
    runtime.announce_completed(uow, instance, "withdrawn", now)
    instance.state = state.dump(workflow)
    instance.updated_at = now
    uow.session.flush()


def release_held(uow: UnitOfWork, declaration_id: str, occasion: str) -> int:
    """Deliver what was held for a declaration's instance, if it can take it now (after a resume or retry)."""
    instance_id = uow.session.scalar(select(Instance.id).where(Instance.declaration_id == declaration_id))
    return held.release(uow, instance_id, occasion, apply_message) if instance_id else 0


def instance_state(uow: UnitOfWork, instance: Instance) -> dict[str, Any]:
    """An instance's columns and how many messages are held for it (what the instance API shows)."""
    state: dict[str, Any] = {column.key: getattr(instance, column.key) for column in Instance.__table__.columns}
    state["held_messages"] = held.count(uow, instance.id)
    return state


def set_suspended(uow: UnitOfWork, principal: Principal, ref: str, suspended: bool, reason: str | None) -> Instance:
    """Suspend or resume an instance (by its id or its declaration's); a resume delivers what was held."""
    instance = uow.session.get(Instance, ref, with_for_update=True) or uow.session.scalar(
        select(Instance).where(Instance.declaration_id == ref).with_for_update()
    )
    if instance is None:
        raise NotFound.on("instance_id", "exists", f"no review process {ref}")
    if instance.status != "running":
        raise Conflict.on("instance_id", "running", f"the process is {instance.status}")
    if instance.suspended == suspended:
        raise Conflict.on(
            "instance_id",
            "suspended" if not suspended else "not_suspended",
            f"the process is already {'suspended' if suspended else 'running'}",
        )
    instance.suspended = suspended
    instance.updated_at = utcnow()
    versions.audit_operator(
        uow, instance, principal.subject, "suspend" if suspended else "resume", reason, {"suspended": suspended}
    )
    if not suspended:
        held.release(uow, instance.id, "resume", apply_message)
    return instance


# -- tasks -----------------------------------------------------------------------------


def task(uow: UnitOfWork, principal: Principal, task_id: str, lock: bool = False) -> Task:
    """A task of the caller's queue (queues.task)."""
    return queues.task(uow, principal, task_id, lock)


# The applicant alone: the whole row would bring the instance's state (10-60 KiB) for one name (built once). Read
# only for a task projected without the applicant (rows older than the queue's applicant column).
_APPLICANT = select(Instance.applicant).where(Instance.id == bindparam("instance_id"))


def claim(uow: UnitOfWork, principal: Principal, task_id: str) -> Task:
    found = task(uow, principal, task_id, lock=True)
    claims.ensure_not_claimed_by_another(found, principal.subject)
    if found.status not in ("ready", "claimed"):
        raise Conflict.on("task_id", "open", f"the task is {found.status}")
    if found.status == "ready":
        # The declaration service ends the applicant's right to withdraw once the unit claimed.
        # The task's own copy (projected from the process data, which the instance was started with): a statement
        # less a claim.
        applicant = found.applicant or uow.session.scalar(_APPLICANT, {"instance_id": found.instance_id})
        uow.publish(
            TaskClaimed(
                declaration_id=found.declaration_id,
                applicant=applicant or "",
                stage=found.stage or found.bpmn_id,
                organisation=found.organisation,
                actor=principal.subject,
                at=utcnow().isoformat(),
            ),
            correlation_id=found.declaration_id,
        )
    _held_by(uow, found, "claimed", principal.subject)
    return found


def unclaim(uow: UnitOfWork, principal: Principal, task_id: str) -> Task:
    found = task(uow, principal, task_id, lock=True)
    if found.status != "claimed" or found.claimed_by != principal.subject:
        raise Conflict.on("task_id", "claimed_by_you", "only the person who claimed the task can release it")
    _held_by(uow, found, "ready", None)
    return found


# (Built once: every claim writes it.)
_HOLD = Prepared(
    update(Task)
    .where(Task.id == bindparam("task_id"))
    .values(status=bindparam("new_status"), claimed_by=bindparam("new_claimed_by"))
)


def _held_by(uow: UnitOfWork, found: Task, status: str, claimed_by: str | None) -> None:
    """The task's status and who holds it, written at once in Core and taken by the object as loaded: the
    flush at the commit wrote the two columns through the ORM's unit of work, a seventh of a claim."""
    if (found.status, found.claimed_by) == (status, claimed_by):
        return
    _HOLD.execute(uow.session.connection(), {"task_id": found.id, "new_status": status, "new_claimed_by": claimed_by})
    set_committed_value(found, "status", status)
    set_committed_value(found, "claimed_by", claimed_by)


def task_properties(workflow: Any, task_id: str) -> dict[str, str]:
    """The user task's properties in the diagram (organisation, decisions, stage, action)."""
    spiff_task = workflow.get_task_from_id(uuid.UUID(task_id))
    if spiff_task is None:
        raise Conflict.on("task_id", "ready", "the task is no longer open (任务已处理)")
    return dict(spiff_task.task_spec.extensions.get("properties", {}))


def complete(
    uow: UnitOfWork,
    principal: Principal,
    task_id: str,
    decision: str,
    reason: str | None,
    action: str | None = None,
    before: Callable[[Task, dict[str, Any]], dict[str, Any]] | None = None,
) -> Task:
    """Complete a task with a decision; the process moves on in the same transaction.

    A task whose diagram names an ``action`` (start a publicity, record attendance, schedule a
    defence) is completed by that action's endpoint, whose ``before`` records it (given the task and
    the process data, under the instance lock) and returns data for the process."""
    # One statement locks the instance's row and then the task's, in the order the scheduler and message
    # deliveries take them (instance, then the task rows they project): the other order deadlocks on
    # PostgreSQL. The task is then in the session: reading it costs no query.
    with runtime.locked(uow, task_id=task_id) as (instance, workflow):
        found = task(uow, principal, task_id)
        claims.ensure_not_claimed_by_another(found, principal.subject)
        if found.status not in ("ready", "claimed"):
            raise Conflict.on("task_id", "already_done", f"the task is already {found.status} (任务已处理)")
        allowed = found.decisions.split(",")
        if decision not in allowed:
            raise DomainError.on(
                "decision",
                "allowed_decision",
                f"decision must be one of {', '.join(allowed)} at this stage (审核意见)",
            )
        now = utcnow()
        data: dict[str, Any] = {
            "decision": decision,
            "reason": reason,
            "decided_by": principal.subject,
            "decided_at": now.astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(),
            "decided_stage": found.stage,
            "decided_stage_name": found.name,
            "decided_organisation": found.organisation,
        }
        properties = task_properties(workflow, task_id)
        closes = timers.boundary_due_at(workflow.get_task_from_id(uuid.UUID(task_id)), interrupting_only=True)
        if closes is not None and now >= closes:
            # Its deadline (voting closed at the end of the meeting, say) has passed: the scheduler is about
            # to end the task, and a decision now would beat the deadline by the length of a poll.
            raise Conflict.on("task_id", "closed", f"the task closed at {closes.isoformat()} (办理时限已截止)")
        vote = found.action == "vote"  # a secret ballot, completed here by the expert it is for
        if found.action and not vote and found.action != action:
            raise DomainError.on(
                "task_id",
                "use_action",
                f"this task is completed by its action ({found.action}), e.g. starting "
                f"the publicity or recording the attendance (请通过对应功能办理)",
            )
        guard = GUARDS.get(properties.get("guard") or "")
        if guard is not None:  # (validate refuses an unknown one; a version of old named the publicity there)
            guard(uow, found, decision, reason)
        if vote:
            after_defence(uow, found.declaration_id, "vote")
            _record_vote(uow, found, principal, decision)
        if before is not None:
            data.update(before(found, workflow.get_task_from_id(uuid.UUID(task_id)).data))
        found.status, found.completed_at, found.completed_by = "completed", now, principal.subject
        found.decision = decision
        found.reason = reason
        # A vote is secret: the trail says that the expert voted, never how.
        uow.publish(
            DecisionRecorded(
                declaration_id=found.declaration_id,
                applicant=instance.applicant,
                stage=found.stage or found.bpmn_id,
                stage_name=found.name,
                decision="voted" if vote else decision,
                reason=None if vote else reason,
                actor=principal.subject,
                organisation=found.organisation,
                organisation_name=directory.organisation_name(uow, found.organisation),
                at=now.isoformat(),
            ),
            correlation_id=found.declaration_id,
        )
        if vote:
            data.pop("decision")  # kept in the votes table, not in the process data
        runtime.run_task(uow, instance, workflow, task_id, data)
    return found


def _record_vote(uow: UnitOfWork, found: Task, principal: Principal, choice: str) -> None:
    if uow.session.get(Vote, (found.declaration_id, principal.subject)) is not None:
        raise Conflict.on("task_id", "one_vote", "you have already voted on this declaration (每人每份申报限投一票)")
    uow.session.add(Vote(declaration_id=found.declaration_id, expert=principal.subject, choice=choice))


def _check_own_staff(uow: UnitOfWork, found: Task, decision: str, reason: str | None = None) -> None:
    """Guard ``own_staff``: approving accepts only staff of the organisation the committee belongs to
    (independent review)."""
    if decision != "approve":
        return
    committee = uow.session.get(Organisation, found.organisation) if found.organisation else None
    if committee is None or committee.parent_code is None:
        return  # the directory does not say whose committee it is; the declaration service checked at creation
    code: str | None = (found.summary or {}).get("unit_code")
    seen: set[str] = set()
    while code is not None and code not in seen:
        if code == committee.parent_code:
            return
        seen.add(code)
        org = uow.session.get(Organisation, code)
        code = org.parent_code if org else None
    raise DomainError.on(
        "decision",
        "own_staff",
        "independent review accepts only staff of the committee's own organisation (自主评审仅受理本单位人员)",
    )


def _check_reason_given(uow: UnitOfWork, found: Task, decision: str, reason: str | None = None) -> None:
    """Guard ``reason_required``: every decision gives its reason (the re-examination's is published to the
    applicant)."""
    if not (reason or "").strip():
        raise DomainError.on(
            "reason", "required", f"the decision {decision!r} at this stage needs its reason (须填写理由)"
        )


# A user task's ``guard`` property -> the check run when the task is completed (engine/contract.py GUARDS
# names and describes them; titles-bpmn validate refuses any other).
GUARDS: dict[str, Callable[[UnitOfWork, Task, str, str | None], None]] = {
    "own_staff": _check_own_staff,
    "reason_required": _check_reason_given,
}


def instance_of(uow: UnitOfWork, principal: Principal, declaration_id: str) -> Instance:
    found = uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))
    if found is None:
        raise NotFound.on("declaration_id", "exists", f"no review process for declaration {declaration_id}")
    # Whose queue a task was in (an expert's own tasks only, as in queues.visible_to).
    involved = uow.session.scalar(
        select(Task.id)
        .where(
            Task.declaration_id == declaration_id, or_(Task.assignee == principal.subject, queues.visible_to(principal))
        )
        .limit(1)
    )
    if principal.role not in ("title_office", "designer") and involved is None:
        raise Forbidden.on("declaration_id", "involved", "only organisations the declaration passed through see it")
    return found


def add_expert(uow: UnitOfWork, committee_code: str, subject: str, name: str) -> None:
    if uow.session.get(Expert, (committee_code, subject)) is None:
        uow.session.add(Expert(committee_code=committee_code, subject=subject, name=name))
