"""A step: one path that changes an instance (a task completion, a message, a timer, a start, an
operator's migration), who or what takes it, how to take it again, and what its failure is.

The runtime runs every change inside ``step()``: the audit log reads the step under way, and an
exception the engine raises (not a broken rule, not a database error) becomes ``StepFailed``, which
the caller records as an incident (engine/incidents.py).
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy.exc import SQLAlchemyError

from services.review.models import Instance
from shared.errors import Conflict, DomainError


@dataclass
class Step:
    """Who or what is changing an instance, and how to do it again."""

    source: str  # task, message, timer, start, operator
    actor: str | None = None  # a subject, or the id of the message that caused the step
    element: str | None = None
    task_id: str | None = None
    decision: str | None = None
    reason: str | None = None
    changes: dict[str, Any] = field(default_factory=dict)
    replay: dict[str, Any] = field(default_factory=dict)
    completed_before: set[str] = field(default_factory=set)


class StepFailed(DomainError):
    """A step raised inside the engine; rendered as 500 once the incident is recorded."""

    status = 500
    title = "A process step failed (流程步骤出错); an incident was recorded"

    def __init__(self, step: Step, instance_id: str | None, declaration_id: str, element: str | None, error: str):
        super().__init__(f"step {step.source} failed at {element or '-'}: {error}")
        self.step, self.instance_id, self.declaration_id = step, instance_id, declaration_id
        self.element, self.error = element, error
        self.incident_id: int | None = None


class Suspended(Conflict):
    pass


_current: contextvars.ContextVar[Step | None] = contextvars.ContextVar("review_step", default=None)


def current_step() -> Step | None:
    return _current.get()


@contextlib.contextmanager
def step(instance_id: str | None, declaration_id: str, this: Step, workflow: Any = None) -> Iterator[Step]:
    """Run one step: the audit log reads it, and an engine failure becomes StepFailed."""
    if workflow is not None:
        this.completed_before = completed_ids(workflow)
    token = _current.set(this)
    try:
        yield this
    except (DomainError, SQLAlchemyError):
        raise  # a broken rule answers the caller; a database error is retried by the caller
    except Exception as exc:  # noqa: BLE001 - anything else the engine raised is an incident
        raise StepFailed(
            this,
            instance_id,
            declaration_id,
            failing_element(exc) or this.element,
            f"{type(exc).__name__}: {exc}"[:4000],
        ) from exc
    finally:
        _current.reset(token)


def completed_ids(workflow: Any) -> set[str]:
    return {str(t.id) for t in workflow.get_tasks(state=TaskState.COMPLETED)}


def failing_element(exc: BaseException) -> str | None:
    cause: BaseException | None = exc
    while cause is not None:
        task = getattr(cause, "task", None)
        spec = getattr(task, "task_spec", None) or getattr(cause, "task_spec", None)
        element: str | None = getattr(spec, "bpmn_id", None) if spec is not None else None
        if element:
            return element
        cause = cause.__cause__ or cause.__context__
    return None


def ensure_running(instance: Instance) -> None:
    if instance.suspended:
        raise Suspended.on(
            "instance",
            "not_suspended",
            f"the review process {instance.id} is suspended (流程已挂起); try again after it resumes",
        )
