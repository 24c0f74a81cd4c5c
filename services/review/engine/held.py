"""Held messages: what arrives for an instance that cannot take it now waits here, in order.

A message for a suspended instance, or for one with an open incident, is not
bounced back to the broker (which would retry it a few times and dead-letter
it): the consumer stores it here and acknowledges it. When the instance runs
again — the title office resumes it, or an operator's retry clears its last
incident — the held messages are delivered in arrival order under the same
per-instance lock as every other path, each with an audit entry saying it was
delivered after the resume (or the retry). A message that arrives while others
are held waits behind them, so the order stays the order of arrival.

Delivering stops at the first held message whose step fails: that message
becomes an incident (retry re-delivers it), and the ones after it stay held
until the retry succeeds. A held message the process no longer waits for (it
moved on, or ended) is passed over, tried again after the next one delivered,
and in the end not delivered; its audit entry says so (with the message).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.review.engine import audit, incidents, runtime
from services.review.engine.messages import INBOUND_BY_TYPE
from services.review.engine.steps import Step, StepFailed
from services.review.models import HeldMessage, Instance
from shared.db import utcnow
from shared.errors import DomainError
from shared.observability import context
from shared.uow import UnitOfWork

# (uow, instance, workflow, message type, data, message id, decision, reason) -> delivered?
Apply = Callable[[UnitOfWork, Instance, Any, str, dict[str, Any], str, str | None, str | None], bool]

WHY = {
    "suspended": "the process is suspended (流程已挂起)",
    "incident": "the process has an open incident (流程异常待处理)",
    "queued": "earlier messages for the process are still held (排在先到的消息之后)",
}


def pending(uow: UnitOfWork, instance_id: str) -> list[HeldMessage]:
    return list(
        uow.session.scalars(
            select(HeldMessage)
            .where(HeldMessage.instance_id == instance_id)
            .order_by(HeldMessage.arrived_at, HeldMessage.id)
        )
    )


def count(uow: UnitOfWork, instance_id: str) -> int:
    return (
        uow.session.scalar(select(func.count()).select_from(HeldMessage).where(HeldMessage.instance_id == instance_id))
        or 0
    )


def reason_to_hold(uow: UnitOfWork, instance: Instance) -> str | None:
    """Why a message for this (locked) instance must wait, or None if it can be delivered now."""
    if instance.suspended:
        return "suspended"
    if instance.has_incident:
        return "incident"
    if count(uow, instance.id):
        return "queued"
    return None


def hold_if_needed(
    uow: UnitOfWork, instance: Instance, message_id: str, message_type: str, data: dict[str, Any]
) -> bool:
    """Hold the message if the (locked) instance cannot take it now; a redelivery is held once."""
    reason = reason_to_hold(uow, instance)
    if reason is None:
        return False
    exists = uow.session.scalar(
        select(HeldMessage.id).where(HeldMessage.instance_id == instance.id, HeldMessage.message_id == message_id)
    )
    if exists is not None:
        return True
    try:
        with uow.session.begin_nested():  # a redelivery racing this one holds it once (the unique key)
            uow.session.add(
                HeldMessage(
                    instance_id=instance.id,
                    declaration_id=instance.declaration_id,
                    message_id=message_id,
                    type=message_type,
                    data=data,
                    reason=reason,
                    arrived_at=utcnow(),
                )
            )
    except IntegrityError:
        return True
    audit.append(
        uow,
        instance,
        source="message",
        actor=message_id,
        decision="held",
        reason=WHY[reason],
        changes={"message": message_type, **data},
    )
    instance.updated_at = utcnow()
    return True


def release(uow: UnitOfWork, instance_id: str, occasion: str, apply: Apply) -> int:
    """Deliver the instance's held messages in arrival order while it can take them; how many were.

    ``occasion`` (resume, retry, recovery) names what let them go, in each one's audit entry. A message
    the process does not wait for yet is passed over and tried again after each later one delivered
    (as the broker's retries would); what is never awaited is audited as not delivered and dropped."""
    delivered = 0
    passed_over: list[int] = []
    while True:
        with runtime.locked(uow, instance_id=instance_id) as (instance, workflow):
            if instance.suspended or instance.has_incident:
                return delivered
            held = next((h for h in pending(uow, instance_id) if h.id not in passed_over), None)
            if held is None:
                for left in pending(uow, instance_id):
                    _not_delivered(
                        uow,
                        instance,
                        left,
                        occasion,
                        "the process does not wait for it (流程未在等待该消息)"
                        if instance.status != "completed"
                        else "the process has ended (流程已结束)",
                    )
                return delivered
            if instance.status == "completed":
                passed_over.append(held.id)
                continue
            try:
                with uow.session.begin_nested(), context.bound(instance.declaration_id, held.message_id):
                    if not apply(
                        uow,
                        instance,
                        workflow,
                        held.type,
                        held.data,
                        held.message_id,
                        f"delivered_after_{occasion}",
                        _note(held, occasion),
                    ):
                        raise LookupError
            except LookupError:
                passed_over.append(held.id)
                continue
            except StepFailed as failure:
                _failed(uow, held, failure)
                return delivered
            except DomainError as exc:  # a broken rule: an incident too, so an operator sees it
                _failed(
                    uow,
                    held,
                    StepFailed(
                        Step(
                            "message",
                            actor=held.message_id,
                            replay={"message": _bpmn_name(held.type), "payload": held.data},
                        ),
                        instance_id,
                        held.declaration_id,
                        None,
                        f"{type(exc).__name__}: {exc}",
                    ),
                )
                return delivered
            uow.session.delete(held)
            uow.session.flush()
            delivered += 1
            passed_over.clear()  # the process moved on: what it did not wait for may be awaited now


def _note(held: HeldMessage, occasion: str) -> str:
    return (
        f"held since {held.arrived_at.isoformat()} because {WHY.get(held.reason, held.reason)}; "
        f"delivered after the {occasion}"
    )


def _bpmn_name(message_type: str) -> str:
    return INBOUND_BY_TYPE.get(message_type, message_type)


def _not_delivered(uow: UnitOfWork, instance: Instance, held: HeldMessage, occasion: str, why: str) -> None:
    note = _note(held, occasion).replace("delivered after", "released after")
    audit.append(
        uow,
        instance,
        source="message",
        actor=held.message_id,
        decision="not_delivered",
        reason=f"{why}; {note}",
        changes={"message": held.type, **held.data},
    )
    instance.updated_at = utcnow()
    uow.session.delete(held)
    uow.session.flush()


def _failed(uow: UnitOfWork, held: HeldMessage, failure: StepFailed) -> None:
    """The step was rolled back to its savepoint: the incident carries the message from now on."""
    incidents.record(uow, failure)
    uow.session.delete(held)
    uow.session.flush()
