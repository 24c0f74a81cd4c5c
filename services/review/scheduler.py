"""The review scheduler: fires instances' due timers and flags overdue tasks.

SpiffWorkflow never fires a timer by itself; the runtime stores each
instance's next due time, and this loop advances the due ones under the same
per-instance lock as every other path. A suspended instance's timers wait; an
instance with an open incident waits for its retry (so one broken step is one
incident, not one per tick). Messages held for an instance that runs again
are delivered (a resume or retry does that itself; the tick catches leftovers).
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from services.review import service, sla
from services.review.engine import incidents, runtime
from services.review.models import HeldMessage, Instance, Timer
from shared.db import utcnow
from shared.uow import Database

log = logging.getLogger(__name__)


def fire_due(db: Database, batch: int = 50) -> int:
    """Advance every instance whose timer is due; returns how many were advanced."""
    with db.uow(readonly=True) as uow:
        due = list(uow.session.scalars(
            select(Timer.instance_id).join(Instance, Instance.id == Timer.instance_id)
            .where(Timer.due_at <= utcnow(), Instance.suspended.is_(False), Instance.has_incident.is_(False))
            .order_by(Timer.due_at).limit(batch)))
    fired = 0
    for instance_id in due:
        try:
            with db.uow() as uow:
                with runtime.locked(uow, instance_id=instance_id) as (instance, workflow):
                    if instance.suspended:
                        continue  # suspended after we looked
                    runtime.fire_timers(uow, instance, workflow)
                uow.commit()
                fired += 1
        except incidents.StepFailed as failure:
            incidents.record_apart(db, failure)
        except Exception:  # noqa: BLE001 - one broken instance must not stop the others
            log.exception("firing timers failed", extra={"instance_id": instance_id})
    return fired


def release_held(db: Database, batch: int = 50) -> int:
    """Deliver messages still held for instances that run again (a resume or a retry delivers them
    itself; this catches any left behind, e.g. by a crash between two steps)."""
    with db.uow(readonly=True) as uow:
        waiting = list(uow.session.scalars(
            select(HeldMessage.declaration_id).join(Instance, Instance.id == HeldMessage.instance_id)
            .where(Instance.suspended.is_(False), Instance.has_incident.is_(False)).distinct().limit(batch)))
    released = 0
    for declaration_id in waiting:
        try:
            with db.uow() as uow:
                released += service.release_held(uow, declaration_id, "recovery")
                uow.commit()
        except Exception:  # noqa: BLE001 - one broken instance must not stop the others
            log.exception("releasing held messages failed", extra={"declaration_id": declaration_id})
    return released


def flag_overdue(db: Database) -> int:
    with db.uow() as uow:
        flagged = sla.flag_overdue(uow)
        uow.commit()
    return flagged


def run(db: Database, stop: threading.Event, interval: float = 1.0) -> None:
    log.info("review scheduler started")
    while not stop.is_set():
        try:
            fire_due(db)
            release_held(db)
            flag_overdue(db)
        except Exception:  # noqa: BLE001 - database down: try again next tick
            log.exception("scheduler tick failed")
        stop.wait(interval)
