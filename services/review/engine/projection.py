"""What the database already shows of an instance: its open task rows and its timer row, as they
stood when the instance was loaded under its lock (or last projected in this transaction).

A step projects the process into rows (engine/runtime.py). Knowing what is there already, read off
the saved state it loaded rather than queried, the step writes only what changed: a task row for each
task that became ready, a cancellation for each that went, the timer row only when the next due
time moved. The rows are kept in step with the state by every step under the instance's lock, so
the state says what they hold. Where nothing was remembered (a path that did not load the instance
through ``runtime.locked``), the rows are queried and rewritten as before.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, event, inspect, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.util import identity_key

from services.review.models import Task, Timer
from shared.db import upsert_insert, utcnow
from shared.prepared import Prepared
from shared.uow import UnitOfWork

OPEN = ("ready", "claimed")
KEY = "titles_review_projected"  # Session.info: instance id -> Projected
NEW = "titles_review_new_tasks"  # Session.info: the rows of tasks projected in this transaction, not yet written


@dataclass(frozen=True)
class Projected:
    ready: frozenset[str]  # ids of the tasks with an open row
    due: dt.datetime | None  # the timer row's due time (None: no row)


def remember(uow: UnitOfWork, instance_id: str, ready: set[str] | frozenset[str], due: dt.datetime | None) -> None:
    uow.session.info.setdefault(KEY, {})[instance_id] = Projected(frozenset(ready), due)


def forget(uow: UnitOfWork, instance_id: str) -> None:
    """The rows were changed apart from a projection (e.g. a withdrawal ending the instance)."""
    uow.session.info.get(KEY, {}).pop(instance_id, None)


def _remembered(uow: UnitOfWork, instance_id: str) -> Projected | None:
    found: Projected | None = uow.session.info.get(KEY, {}).get(instance_id)
    return found


def open_task_ids(uow: UnitOfWork, instance_id: str) -> set[str]:
    known = _remembered(uow, instance_id)
    if known is not None:
        return set(known.ready)
    return set(uow.session.scalars(select(Task.id).where(Task.instance_id == instance_id, Task.status.in_(OPEN))))


def cancel_tasks(uow: UnitOfWork, task_ids: set[str]) -> None:
    """Close open rows whose task the process left; a row this transaction closed already (the task a
    completion completes) stays as it is."""
    for task_id in list(task_ids):
        held = uow.session.identity_map.get(identity_key(Task, task_id))
        if held is not None:
            task_ids.discard(task_id)
            if held.status in OPEN:
                held.status = "cancelled"
    if task_ids:
        uow.session.execute(
            update(Task).where(Task.id.in_(sorted(task_ids)), Task.status.in_(OPEN)).values(status="cancelled"),
            execution_options={"synchronize_session": "fetch"},
        )


def add_task(uow: UnitOfWork, values: dict[str, Any]) -> None:
    """A task that became ready, as its row's column values: ``write_tasks`` inserts it with the step's other
    rows. (Not an ORM object: making one, adding it to the session and reading it back for the statement
    cost more than the INSERT, and nothing reads the object before the row is written.)"""
    row = dict.fromkeys(_COLUMN_KEYS)
    row.update(values)
    uow.session.info.setdefault(NEW, []).append(row)


_COLUMN_KEYS = tuple(column.key for column in Task.__table__.columns)


def write_tasks(uow: UnitOfWork) -> None:
    """The step's task rows in one statement: the rows for tasks that became ready (``add_task``, or
    Task objects added to the session) and the row this step closed (the task a completion completes,
    locked with the instance) as one upsert, where the session's flush would write an UPDATE and an
    INSERT (at several times the CPU, through its unit of work). Only the columns the step changed are
    overwritten on the existing rows; new rows alone are a plain INSERT. Anything else is left to the
    flush."""
    session = uow.session
    added: list[dict[str, Any]] = session.info.get(NEW) or []
    new = [o for o in session.new if isinstance(o, Task)]
    # what a row had before this transaction set its attributes (one entry per attribute set, read at
    # no cost; walking every attribute's history cost as much as the statement)
    changed = [o for o in session.dirty if isinstance(o, Task) and inspect(o).committed_state]
    if not added and not new and not changed:
        return
    modified = tuple(sorted({key for o in changed for key in inspect(o).committed_state if key in _COLUMN_KEYS}))
    if (changed and not modified) or "id" in modified:
        # left to the flush, the rows added too
        session.add_all([Task(**row) for row in added])
        session.info.pop(NEW, None)
        return
    rows = [{key: getattr(o, key) for key in _COLUMN_KEYS} for o in [*changed, *new]] + added
    for row in rows:  # what the flush would default
        row["status"] = row["status"] or "ready"
        row["created_at"] = row["created_at"] or utcnow()
    connection = session.connection()
    _upsert(connection.dialect.name, modified).execute(connection, rows)  # one executemany
    session.info.pop(NEW, None)
    for o in [*changed, *new]:
        session.expunge(o)  # written: the flush must not write them again


@functools.lru_cache(maxsize=32)
def _upsert(dialect: str, modified: tuple[str, ...]) -> Prepared:
    """INSERT ... ON CONFLICT (id) DO UPDATE of ``modified`` (none: a plain INSERT) of whole rows, built
    and compiled once."""
    insert = upsert_insert(dialect)
    statement = insert(Task)
    if not modified:
        return Prepared(statement, _COLUMN_KEYS)
    return Prepared(
        statement.on_conflict_do_update(index_elements=["id"], set_={key: statement.excluded[key] for key in modified}),
        _COLUMN_KEYS,
    )


def set_timer(uow: UnitOfWork, instance_id: str, due: dt.datetime | None) -> None:
    """The timer row says ``due`` (none when None), written in the step's flush and only if it moved."""
    known = _remembered(uow, instance_id)
    session = uow.session
    if known is None:
        session.execute(delete(Timer).where(Timer.instance_id == instance_id))
        if due is not None:
            session.add(Timer(instance_id=instance_id, due_at=due))
        return
    if known.due == due:
        return
    row = _held_or_stub(session, instance_id, known.due)
    if row is None:
        session.add(Timer(instance_id=instance_id, due_at=due))
    elif due is None:
        session.delete(row)
    else:
        row.due_at = due


def _held_or_stub(session: Session, instance_id: str, due: dt.datetime | None) -> Any:
    """The session's timer row for the instance, else (when there is one) a stand-in for it that the
    session takes as loaded: changing or deleting it writes the row without reading it first."""
    held = session.identity_map.get(identity_key(Timer, instance_id))
    if held is not None:
        return held
    for pending in session.new:
        if isinstance(pending, Timer) and pending.instance_id == instance_id:
            return pending
    if due is None:
        return None
    stub = Timer(instance_id=instance_id, due_at=due)
    make_transient_to_detached(stub)
    session.add(stub)
    return stub


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: Any) -> None:
    # what was remembered may describe rows that were never written, and rows not written go with the step
    session.info.pop(KEY, None)
    session.info.pop(NEW, None)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.pop(KEY, None)
    session.info.pop(NEW, None)
