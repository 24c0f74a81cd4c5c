"""The review scheduler: fires instances' due timers.

SpiffWorkflow never fires a timer by itself; the runtime stores each
instance's next due time, and this loop advances the due ones, earliest first,
under the same per-instance lock as every other path, one instance per
transaction. Under the lock it looks again whether the timer is still due, so
two schedulers side by side fire each timer once, and a scheduler killed half
way through a batch leaves the rest due for the next one (what it committed is
no longer due; what it had not is). A suspended instance's timers wait; an
instance with an open incident waits for its retry (so one broken step is one
incident, not one per tick). Messages held for an instance that runs again
are delivered (a resume or retry does that itself; the tick catches leftovers).
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from typing import Any

from sqlalchemy import Select, bindparam, func, select

from services.review import service
from services.review.engine import incidents, runtime
from services.review.models import HeldMessage, Instance, Timer
from shared import clock
from shared.uow import Database, UnitOfWork

log = logging.getLogger(__name__)


BATCH = 50


def _of_running(query: Select[Any]) -> Select[Any]:
    """Over the timers of instances that run: a suspended instance's timers wait, and one with an open
    incident waits for its retry."""
    return query.join(Instance, Instance.id == Timer.instance_id).where(
        Instance.suspended.is_(False), Instance.has_incident.is_(False)
    )


# Built once: the scheduler looks at every tick and every move of the test clock.
_DUE = (
    _of_running(select(Timer.instance_id))
    .where(Timer.due_at < bindparam("now"))
    .order_by(Timer.due_at, Timer.instance_id)
    .limit(bindparam("batch"))
)
_HELD = (
    select(HeldMessage.declaration_id)
    .join(Instance, Instance.id == HeldMessage.instance_id)
    .where(Instance.suspended.is_(False), Instance.has_incident.is_(False))
    .distinct()
    .limit(bindparam("batch"))
)
_EARLIEST = _of_running(select(func.min(Timer.due_at)))


def fire_due(db: Database, batch: int = BATCH) -> int:
    """Advance every instance whose timer is due, earliest first; returns how many were advanced."""
    with db.uow(readonly=True) as uow:
        # Due once the clock is past it, as the engine judges (a deadline instant itself is still open).
        due = list(uow.session.scalars(_DUE, {"now": clock.now(), "batch": batch}))
    fired = 0
    for instance_id in due:
        try:
            with db.uow() as uow:
                with runtime.locked(uow, instance_id=instance_id) as (instance, workflow):
                    firing = not instance.suspended and _still_due(uow, instance_id)
                    if firing:
                        runtime.fire_timers(uow, instance, workflow)
                # Suspended, or fired or moved by a step after we looked (a task completed meanwhile): the
                # instance's lock let go by a commit of nothing all the same, not a rollback, after which
                # psycopg forgets every statement it prepared on the connection.
                uow.commit()
                fired += 1 if firing else 0
        except incidents.StepFailed as failure:
            incidents.record_apart(db, failure)
        except Exception:  # noqa: BLE001 - one broken instance must not stop the others
            log.exception("firing timers failed", extra={"instance_id": instance_id})
    return fired


def _still_due(uow: UnitOfWork, instance_id: str) -> bool:
    """Read under the instance's lock: a timer another scheduler fired meanwhile is gone or later."""
    timer = uow.session.get(Timer, instance_id)
    return timer is not None and timer.due_at < clock.now()


def release_held(db: Database, batch: int = 50) -> int:
    """Deliver messages still held for instances that run again (a resume or a retry delivers them
    itself; this catches any left behind, e.g. by a crash between two steps)."""
    with db.uow(readonly=True) as uow:
        waiting = list(uow.session.scalars(_HELD, {"batch": batch}))
    released = 0
    for declaration_id in waiting:
        try:
            with db.uow() as uow:
                released += service.release_held(uow, declaration_id, "recovery")
                uow.commit()
        except Exception:  # noqa: BLE001 - one broken instance must not stop the others
            log.exception("releasing held messages failed", extra={"declaration_id": declaration_id})
    return released


def earliest_due(db: Database) -> dt.datetime | None:
    """When the next timer of a running instance falls due (None: no timer)."""
    with db.uow(readonly=True) as uow:
        return uow.session.scalar(_EARLIEST)


def run(db: Database, stop: threading.Event, interval: float = 1.0, glance: float = 0.05) -> None:
    """A tick every ``interval`` seconds, and at once when the earliest timer it knows of falls due or the
    test clock moves (a glance every ``glance`` seconds costs a ``stat`` of the clock's file, no query):
    a publicity fast-forwarded in a demonstration ends as the clock moves, not up to a tick later."""
    log.info("review scheduler started")
    next_tick, offset, next_due = 0.0, None, None
    while not stop.is_set():
        current = clock.offset_seconds()
        if current != offset or time.monotonic() >= next_tick or (next_due is not None and clock.now() > next_due):
            offset = current
            next_tick = time.monotonic() + interval
            try:
                if fire_due(db, BATCH) == BATCH:
                    next_tick = 0.0  # more are due: the next batch at once
                release_held(db)
                next_due = earliest_due(db)
                if next_due is not None and next_due < clock.now():
                    next_due = None  # due but not fired (failing): retried at the next tick, not every glance
            except Exception:  # noqa: BLE001 - database down: try again next tick
                log.exception("scheduler tick failed")
                next_due = None
        stop.wait(glance)
