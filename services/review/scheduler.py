"""The review scheduler: fires instances' due timers.

SpiffWorkflow never fires a timer by itself; the runtime stores each
instance's next due time, and this loop advances the due ones under the same
per-instance lock as every other path.
"""
from __future__ import annotations

import logging
import threading

from sqlalchemy import select

from services.review.engine import runtime
from services.review.models import Timer
from shared.db import utcnow
from shared.uow import Database

log = logging.getLogger(__name__)


def fire_due(db: Database, batch: int = 50) -> int:
    """Advance every instance whose timer is due; returns how many were advanced."""
    with db.uow(readonly=True) as uow:
        due = list(uow.session.scalars(select(Timer.instance_id).where(Timer.due_at <= utcnow())
                                       .order_by(Timer.due_at).limit(batch)))
    fired = 0
    for instance_id in due:
        try:
            with db.uow() as uow:
                with runtime.locked(uow, instance_id=instance_id) as (instance, workflow):
                    runtime.fire_timers(uow, instance, workflow)
                uow.commit()
                fired += 1
        except Exception:  # noqa: BLE001 - one broken instance must not stop the others
            log.exception("firing timers failed", extra={"instance_id": instance_id})
    return fired


def run(db: Database, stop: threading.Event, interval: float = 1.0) -> None:
    log.info("review scheduler started")
    while not stop.is_set():
        try:
            fire_due(db)
        except Exception:  # noqa: BLE001 - database down: try again next tick
            log.exception("scheduler tick failed")
        stop.wait(interval)
