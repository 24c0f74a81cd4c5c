"""Incidents: a step that raised inside the engine, kept visible until it is retried.

A step (engine/steps.py) is one path that changes an instance — a task completion, a
message, a timer, a start. When it raises (a script error, a bad expression, an
unknown message thrown), the transaction that ran it is rolled back, so the
instance stays exactly as last saved; the failure is then recorded in a
transaction of its own with what is needed to re-run the step, and the
instance is marked as having an open incident. Breaking a domain rule (a 4xx)
is not an incident, nor is a database outage (the caller retries those).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from services.review.engine import audit, definitions, ports, runtime
from services.review.engine.steps import Step, StepFailed
from services.review.models import Definition, Incident, Instance, Task
from shared.db import utcnow
from shared.errors import Conflict, NotFound
from shared.identity.principal import Principal
from shared.uow import UnitOfWork

# An incident is a failed step: its callers catch StepFailed and name the Step by this module too.
__all__ = ["Step", "StepFailed", "dismiss", "get", "guarded", "record", "record_apart", "retry"]

log = logging.getLogger(__name__)


def record(uow: UnitOfWork, failure: StepFailed) -> Incident:
    """Record a failure (in the caller's transaction, after the failed step was rolled back)."""
    key = (
        (Incident.status == "open")
        & (Incident.declaration_id == failure.declaration_id)
        & (Incident.source == failure.step.source)
    )
    existing = uow.session.scalar(
        select(Incident).where(key, Incident.element == failure.element, Incident.task_id == failure.step.task_id)
        if failure.step.task_id
        else select(Incident).where(key, Incident.element == failure.element)
    )
    # A start that failed saved no instance: its id would name nothing.
    instance_id = None if failure.step.source == "start" else failure.instance_id
    if existing is not None:
        existing.attempts += 1
        existing.error, existing.step = failure.error, failure.step.replay
        incident = existing
    else:
        incident = Incident(
            instance_id=instance_id,
            declaration_id=failure.declaration_id,
            source=failure.step.source,
            element=failure.element,
            task_id=failure.step.task_id,
            step=failure.step.replay,
            error=failure.error,
            status="open",
            attempts=1,
            created_at=utcnow(),
        )
        uow.session.add(incident)
    if instance_id:
        instance = uow.session.get(Instance, instance_id, with_for_update=True)
        if instance is not None and not instance.has_incident:
            instance.has_incident = True
    uow.session.flush()
    failure.incident_id = incident.id
    log.error(
        "process step failed; incident recorded",
        extra={
            "incident": incident.id,
            "declaration_id": failure.declaration_id,
            "element": failure.element,
            "error": failure.error,
        },
    )
    return incident


def record_apart(db: Any, failure: StepFailed) -> int:
    """Record a failure in a transaction of its own (the failed one is already rolled back)."""
    with db.uow() as uow:
        incident = record(uow, failure)
        uow.commit()
        return incident.id


def guarded(handlers: dict[str, Callable[..., None]]) -> dict[str, Callable[..., None]]:
    """Message handlers whose engine failures become incidents instead of poison.

    The handler runs in a savepoint: on failure it is rolled back and the incident
    is written in the consumer's transaction, with the inbox row, so the message
    is consumed once and its effect is the incident (retry re-delivers its payload).
    """

    def wrap(handler: Callable[..., None]) -> Callable[..., None]:
        def run(uow: UnitOfWork, envelope: Any, message: Any) -> None:
            try:
                with uow.session.begin_nested():
                    handler(uow, envelope, message)
            except StepFailed as failure:
                record(uow, failure)

        run.__name__ = getattr(handler, "__name__", "handler")
        return run

    return {message_type: wrap(handler) for message_type, handler in handlers.items()}


# -- listing and retrying ---------------------------------------------------------


def get(uow: UnitOfWork, incident_id: int, lock: bool = False) -> Incident:
    incident = uow.session.get(Incident, incident_id, with_for_update=lock or None)
    if incident is None:
        raise NotFound.on("incident_id", "exists", f"incident {incident_id} does not exist")
    return incident


def retry(uow: UnitOfWork, incident_id: int, operator: str) -> Incident:
    """Re-run the failed step. Raises StepFailed (to be recorded apart) if it fails again. A task or a
    review that never started is re-run by the service layer, through the engine's ports."""
    incident = _open(uow, incident_id)
    replay = incident.step
    if incident.source == "task":
        task = uow.session.get(Task, incident.task_id)
        if task is None:
            raise NotFound.on("task_id", "exists", f"task {incident.task_id} does not exist")
        if task.status in ("ready", "claimed"):
            ports.of(uow).complete_task(
                uow,
                Principal(replay["actor"], task.role, task.organisation),
                task.id,
                replay["decision"],
                replay.get("reason"),
            )
        # else a reviewer completed it again after the fix: nothing is left to re-run
    elif incident.source == "message":
        with runtime.locked(uow, instance_id=incident.instance_id) as (instance, workflow):
            if not runtime.deliver(
                uow,
                instance,
                workflow,
                replay["message"],
                replay["payload"],
                "retry",
                f"incident {incident.id} re-run by {operator}",
            ):
                raise Conflict.on(
                    "incident_id",
                    "waiting",
                    f"the process no longer waits for {replay['message']!r}; resolve it by hand",
                )
    elif incident.source == "timer":
        with runtime.locked(uow, instance_id=incident.instance_id) as (instance, workflow):
            runtime.fire_timers(uow, instance, workflow)
    elif incident.source == "start" and "submitted" in replay:
        # The review could not be prepared (no department chain, no process for the mode): prepare it
        # again from the declaration as submitted, now that the directory may have been put right.
        ports.of(uow).start_review(uow, replay["submitted"])
    elif incident.source == "start":
        if uow.session.scalar(select(Instance.id).where(Instance.declaration_id == incident.declaration_id)) is None:
            # No instance was saved, so there is no version to stay on: the fix of a start that
            # failed is a newer version of the process, and the retry starts on the latest one.
            failed_on = uow.session.get(Definition, replay["definition_id"])
            if failed_on is None:
                raise NotFound.on(
                    "incident_id",
                    "version",
                    f"the version {replay['definition_id']} the start failed on is not deployed",
                )
            definition = definitions.latest(uow, failed_on.process_id)
            runtime.start(uow, definition, incident.declaration_id, replay["applicant"], replay["data"])
    else:
        raise Conflict.on("incident_id", "retryable", f"incident source {incident.source!r} cannot be retried")
    _close(uow, incident, "resolved", operator)
    return incident


def dismiss(uow: UnitOfWork, incident_id: int, operator: str, reason: str) -> Incident:
    """Close an incident without re-running its step: the step can never succeed (the process no
    longer waits for its message, say) or was put right by other means. The operator's decision and
    reason go to the instance's audit log; the instance runs on from where it was last saved."""
    incident = _open(uow, incident_id)
    instance = uow.session.get(Instance, incident.instance_id, with_for_update=True) if incident.instance_id else None
    if instance is not None:
        audit.append(
            uow,
            instance,
            source="operator",
            actor=operator,
            element=incident.element,
            task_id=incident.task_id,
            decision="dismiss_incident",
            reason=reason,
            changes={"incident": incident.id, "step": incident.source, "error": incident.error},
        )
    _close(uow, incident, "dismissed", operator)
    return incident


def _open(uow: UnitOfWork, incident_id: int) -> Incident:
    """The incident, row-locked, if it is still open (a retry or dismissal acts once)."""
    incident = get(uow, incident_id, lock=True)
    if incident.status != "open":
        raise Conflict.on("incident_id", "open", f"incident {incident_id} is already {incident.status}")
    return incident


def _close(uow: UnitOfWork, incident: Incident, status: str, operator: str) -> None:
    """Mark it resolved or dismissed by the operator; the instance's flag clears with its last open incident."""
    incident.status, incident.resolved_at, incident.resolved_by = status, utcnow(), operator
    _clear_flag(uow, incident)


def _clear_flag(uow: UnitOfWork, incident: Incident) -> None:
    if not incident.instance_id:
        instance_id = uow.session.scalar(select(Instance.id).where(Instance.declaration_id == incident.declaration_id))
    else:
        instance_id = incident.instance_id
    uow.session.flush()
    others = uow.session.scalar(
        select(Incident.id)
        .where(Incident.declaration_id == incident.declaration_id, Incident.status == "open")
        .limit(1)
    )
    instance = uow.session.get(Instance, instance_id) if instance_id else None
    if instance is not None and others is None and instance.has_incident:
        instance.has_incident = False
