"""The audit log: one append-only entry per transition of an instance, hash-chained.

Each entry stores the sha256 of the entry before it (per instance) and its own,
computed over a canonical JSON of its fields; the instance keeps the hash of its
last entry. Editing, removing or reordering any entry breaks the chain, and
``verify`` says where. Chains are per instance so that appending needs only the
per-instance lock every step already holds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import func, insert, select

from services.review.models import AuditEntry, Instance
from shared.db import utcnow
from shared.prepared import Prepared
from shared.uow import UnitOfWork

GENESIS = "0" * 64
SECRET = "(secret)"  # how an expert's vote appears in the log (投票保密)


@dataclasses.dataclass
class Entry:
    """An entry being appended: its row's values, written by ``write`` (a stored one is an ``AuditEntry``).
    Not an ORM object: making one set each of its fourteen attributes through the mapper's instrumentation,
    and a step appends one, for a row nothing reads back in the same step."""

    instance_id: str
    seq: int
    declaration_id: str
    at: dt.datetime
    source: str
    actor: str | None
    element: str | None
    task_id: str | None
    decision: str | None
    reason: str | None
    changes: dict[str, Any]
    completed: list[Any]
    prev_hash: str
    hash: str = ""


def canonical(entry: AuditEntry | Entry) -> str:
    body = {
        "instance_id": entry.instance_id,
        "seq": entry.seq,
        "declaration_id": entry.declaration_id,
        "at": entry.at.astimezone(dt.UTC).isoformat(),
        "source": entry.source,
        "actor": entry.actor,
        "element": entry.element,
        "task_id": entry.task_id,
        "decision": entry.decision,
        "reason": entry.reason,
        "changes": entry.changes,
        "completed": entry.completed,
        "prev_hash": entry.prev_hash,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(entry: AuditEntry | Entry) -> str:
    return hashlib.sha256(canonical(entry).encode("utf-8")).hexdigest()


def _plain(value: Any) -> Any:
    # What is stored must be what was hashed: round-trip through JSON first.
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def append(uow: UnitOfWork, instance: Instance, **fields: Any) -> Entry:
    """One entry (``entry``'s fields) made and written at once."""
    made = entry(uow, instance, **fields)
    write(uow, made)
    return made


def entry(
    uow: UnitOfWork,
    instance: Instance,
    *,
    source: str,
    actor: str | None = None,
    element: str | None = None,
    task_id: str | None = None,
    decision: str | None = None,
    reason: str | None = None,
    changes: dict[str, Any] | None = None,
    completed: list[str] | None = None,
) -> Entry:
    """The next entry, chained to the instance's head (which it becomes); the caller holds the instance's
    lock and writes it with ``write`` in the same transaction. The instance counts its entries, so the
    next number needs no query."""
    if not instance.audit_seq and instance.audit_head is not None:
        # entries written without the count (a row stored before it, put back as it was): count them once
        with uow.session.no_autoflush:
            counted = uow.session.scalar(select(func.max(AuditEntry.seq)).where(AuditEntry.instance_id == instance.id))
            instance.audit_seq = counted or 0
    instance.audit_seq = (instance.audit_seq or 0) + 1
    made = Entry(
        instance_id=instance.id,
        seq=instance.audit_seq,
        declaration_id=instance.declaration_id,
        at=utcnow(),
        source=source,
        actor=actor,
        element=element,
        task_id=task_id,
        decision=decision,
        reason=reason,
        changes=_plain(changes or {}),
        completed=_plain(completed or []),
        prev_hash=instance.audit_head or GENESIS,
    )
    made.hash = digest(made)
    instance.audit_head = made.hash
    return made


def write(uow: UnitOfWork, made: Entry) -> None:
    """The entry's row, in Core: the ORM's flush would fetch back its id and sort it among the step's
    other rows, for an entry nobody reads in the same step."""
    _INSERT.execute(uow.session.connection(), {c: getattr(made, c) for c in _COLUMNS})


_COLUMNS = tuple(c.key for c in AuditEntry.__table__.columns if c.key != "id")  # Entry's fields, in order
_INSERT = Prepared(insert(AuditEntry).inline(), _COLUMNS)  # the id is not fetched back (no RETURNING)


def redacted(changes: dict[str, Any]) -> dict[str, Any]:
    """A vote's choice never enters the log (nor its opinion): only that the expert voted."""
    if "vote" not in changes:
        return changes
    return {key: (SECRET if key in ("vote", "decision", "reason") else value) for key, value in changes.items()}


def entries(uow: UnitOfWork, instance_id: str) -> list[AuditEntry]:
    return list(
        uow.session.scalars(select(AuditEntry).where(AuditEntry.instance_id == instance_id).order_by(AuditEntry.seq))
    )


def verify(uow: UnitOfWork, instance: Instance) -> list[dict[str, Any]]:
    """Problems found in an instance's chain (empty when intact)."""
    problems: list[dict[str, Any]] = []
    previous = GENESIS
    for expected_seq, entry in enumerate(entries(uow, instance.id), start=1):
        if entry.seq != expected_seq:
            problems.append({"seq": entry.seq, "problem": f"entry {expected_seq} is missing"})
        if entry.prev_hash != previous:
            problems.append({"seq": entry.seq, "problem": "does not follow the entry before it"})
        if digest(entry) != entry.hash:
            problems.append({"seq": entry.seq, "problem": "its content does not match its hash (edited)"})
        previous = entry.hash
    if previous != (instance.audit_head or GENESIS):
        problems.append({"seq": None, "problem": "the last entry is not the one the instance recorded (removed)"})
    return problems
