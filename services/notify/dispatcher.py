"""Sends pending deliveries over their channels, retrying failures with backoff (and releases
the defence notices whose day has come).

Each delivery row is claimed with a conditional UPDATE before sending, so
several dispatchers (processes or threads) never send one row at the same time.
A send that succeeded but whose "sent" mark was lost (a crash in between) is
sent again after the claim expires: e-mail and SMS are at-least-once.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update

from services.notify.channels import Channel, configured
from services.notify.models import Delivery, Message
from shared import clock, config
from shared.db import utcnow
from shared.uow import Database

log = logging.getLogger("titles.notify.dispatcher")
CLAIM = dt.timedelta(minutes=2)


def backoff() -> list[float]:
    """Seconds to wait after the 1st, 2nd, ... failure; after the last one the delivery is given up."""
    return list(config.settings().notify_retry_backoff_s)


@dataclass
class Outcome:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def dispatch_due(
    db: Database, channels: dict[str, Channel] | None = None, now: dt.datetime | None = None, batch: int = 50
) -> Outcome:
    channels = channels if channels is not None else configured()
    now = now or utcnow()
    # A claim is a lease, held for real minutes: moving the test clock must not end it early.
    lease = clock.real_now()
    outcome = Outcome()
    with db.uow(readonly=True) as uow:
        due = list(
            uow.session.scalars(
                select(Delivery.id)
                .where(
                    Delivery.status == "pending",
                    Delivery.next_attempt_at <= now,
                    or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < lease),
                )
                .order_by(Delivery.next_attempt_at)
                .limit(batch)
            )
        )
    for delivery_id in due:
        if not _claim(db, delivery_id, lease):
            continue  # another dispatcher has it
        with db.uow(readonly=True) as uow:
            delivery = uow.session.get_one(Delivery, delivery_id)
            message = uow.session.get_one(Message, delivery.message_id)
            channel, address = delivery.channel, delivery.address
            title, body = message.title, message.body
            short = delivery.short_text or _short(message)
        error = None
        try:
            sender = channels.get(channel)
            if sender is None:
                raise LookupError(f"no {channel} channel is configured")
            sender.send(address, title, body, short)
        except Exception as exc:  # noqa: BLE001 - every failure is recorded and retried
            error = f"{type(exc).__name__}: {exc}"
        with db.uow() as uow:
            delivery = uow.session.get_one(Delivery, delivery_id)
            delivery.attempts += 1
            delivery.claimed_until = None
            if error is None:
                delivery.status, delivery.sent_at, delivery.last_error = "sent", utcnow(), None
                outcome.sent += 1
            else:
                delivery.last_error = error[:2000]
                delays = backoff()
                if delivery.attempts > len(delays):
                    delivery.status = "failed"
                    outcome.failed += 1
                    log.error(
                        "giving up %s delivery %s after %d attempts: %s", channel, delivery_id, delivery.attempts, error
                    )
                else:
                    delivery.next_attempt_at = now + dt.timedelta(seconds=delays[delivery.attempts - 1])
                    outcome.retried += 1
                    log.warning(
                        "%s delivery %s failed (attempt %d), retrying at %s: %s",
                        channel,
                        delivery_id,
                        delivery.attempts,
                        delivery.next_attempt_at.isoformat(),
                        error,
                    )
            uow.commit()
    return outcome


def _claim(db: Database, delivery_id: str, lease: dt.datetime) -> bool:
    with db.uow() as uow:
        # An UPDATE's result is a cursor result, which counts the rows it changed.
        claimed = cast(
            CursorResult[Any],
            uow.session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery_id,
                    Delivery.status == "pending",
                    or_(Delivery.claimed_until.is_(None), Delivery.claimed_until < lease),
                )
                .values(claimed_until=lease + CLAIM)
            ),
        ).rowcount
        uow.commit()
    return claimed == 1


def _short(message: Message) -> str:
    text = f"【职称评审】{message.title}：{message.body}"
    return text if len(text) <= 140 else text[:139] + "…"


def run(db: Database, stop: threading.Event, interval: float = 2.0) -> None:
    """The dispatcher loop, for a process of its own (or a thread beside the consumer)."""
    from services.notify import defences

    channels = configured()
    while not stop.is_set():
        try:
            defences.release_due(db)
            dispatch_due(db, channels)
        except Exception:  # noqa: BLE001 - keep dispatching after a database hiccup
            log.exception("dispatch round failed")
        stop.wait(interval)


def main() -> None:
    """``python -m services.notify.dispatcher``: the dispatcher as a process of its own."""
    from services.notify.bootstrap import database
    from shared.process import until_signalled

    db = database()
    until_signalled("notify", lambda stop: run(db, stop))


if __name__ == "__main__":
    main()
