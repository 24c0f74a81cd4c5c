"""The review scheduler: fires instances' due timers and flags overdue tasks.

SpiffWorkflow never fires a timer by itself; the runtime stores each
instance's next due time, and this loop advances the due ones under the same
per-instance lock as every other path. A suspended instance's timers wait; an
instance with an open incident waits for its retry (so one broken step is one
incident, not one per tick).
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from services.review import sla
from services.review.engine import incidents, runtime
from services.review.models import Instance, Timer
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
            flag_overdue(db)
        except Exception:  # noqa: BLE001 - database down: try again next tick
            log.exception("scheduler tick failed")
        stop.wait(interval)
