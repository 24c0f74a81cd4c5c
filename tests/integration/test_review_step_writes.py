"""A review step writes each row it changes once, in Core (services/review/engine/projection.py and
state.py): the task rows in one statement, whether the step closes a task, opens some or both, and
the instance's row in one compare-and-set UPDATE; the ORM's flush is left nothing to write."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.integration.review_flow_helpers import UNIT, act, open_stages, resubmit, review_db, start


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


@contextlib.contextmanager
def statements(db: Any) -> Iterator[list[str]]:
    from sqlalchemy import event

    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(" ".join(statement.split()).upper())

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def writes_to(sent: list[str], table: str) -> list[str]:
    return [s for s in sent if s.startswith((f"INSERT INTO {table} ", f"UPDATE {table} ", f"DELETE FROM {table} "))]


def test_a_step_that_closes_a_task_and_opens_none_writes_the_task_row_once(review, clients, auth):
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    with statements(review) as sent:
        act(clients["review"], auth, "unit", declaration_id, "unit_check", "return", "附件不清晰")
    assert open_stages(review, declaration_id) == []  # returned: waiting for the applicant
    [tasks] = writes_to(sent, "TASKS")
    assert tasks.startswith("INSERT INTO TASKS ") and "ON CONFLICT (ID) DO UPDATE" in tasks
    assert len(writes_to(sent, "INSTANCES")) == 1


def test_a_step_that_opens_a_task_and_closes_none_writes_one_insert(review, clients, auth):
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    act(clients["review"], auth, "unit", declaration_id, "unit_check", "return", "附件不清晰")
    with statements(review) as sent:
        resubmit(review, data)
    assert open_stages(review, declaration_id) == [("unit_check", UNIT)]
    [tasks] = writes_to(sent, "TASKS")
    assert tasks.startswith("INSERT INTO TASKS ") and "ON CONFLICT" not in tasks
    assert len(writes_to(sent, "INSTANCES")) == 1


def test_a_step_that_closes_one_task_and_opens_the_next_writes_one_upsert(review, clients, auth):
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    with statements(review) as sent:
        act(clients["review"], auth, "unit", declaration_id, "unit_check", "approve", "同意")
    assert open_stages(review, declaration_id) == [("unit_recommendation", UNIT)]
    [tasks] = writes_to(sent, "TASKS")
    assert "ON CONFLICT (ID) DO UPDATE" in tasks
    assert len(writes_to(sent, "INSTANCES")) == 1


def test_a_steps_writes_go_to_postgresql_together(review, clients, auth):
    """The audit entry, the task rows, the instance and the step's messages need no answer from each
    other: on PostgreSQL they are sent in one pipeline (shared/pipeline.py), one round trip."""
    from tests.integration.test_pipeline import pipelined_statements

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    with pipelined_statements(review) as sent:
        act(clients["review"], auth, "unit", declaration_id, "unit_check", "approve", "同意")
    assert open_stages(review, declaration_id) == [("unit_recommendation", UNIT)]
    writes = [(verb, pipelined) for verb, pipelined in sent if verb in ("INSERT", "UPDATE", "DELETE")]
    assert len(writes) == 4  # audit_log, tasks, instances, outbox
    assert {pipelined for _, pipelined in writes} == {review.engine.dialect.name == "postgresql"}


def _columns(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns}


def test_a_completion_reads_the_instance_and_task_as_the_orm_would_and_a_held_task_is_read_again(review):
    """``runtime.locked`` by task: on a fresh session the locked row is read in Core and made the session's
    objects (``as_loaded``), with every column as the ORM's statement loads it; a session that holds the
    task already gets it refreshed from the locked row, as ``populate_existing`` does."""
    from sqlalchemy import select, update

    from services.review.engine import runtime
    from services.review.models import Task

    data, _ = start(review)
    with review.uow(readonly=True) as uow:
        task_id = uow.session.scalar(
            select(Task.id).where(Task.declaration_id == data["declaration_id"], Task.status == "ready")
        )
    with review.uow() as uow:
        instance, task = runtime._instance_and_task(uow, task_id)
        assert uow.session.get(Task, task_id) is task and not uow.session.dirty
        made = (_columns(instance), _columns(task))
        uow.rollback()
    with review.uow() as uow:
        loaded = uow.session.execute(runtime._BY_TASK, {"task_id": task_id}).first()
        assert (_columns(loaded[0]), _columns(loaded[1])) == made
        uow.rollback()

    with review.uow() as uow:
        held = uow.session.get(Task, task_id)
        uow.commit()  # the session keeps the object (its transaction over: SQLite's lock is free)
        with review.engine.begin() as other:  # another writer changed the row since the session read it
            other.execute(update(Task).where(Task.id == task_id).values(claimed_by="someone"))
        instance, task = runtime._instance_and_task(uow, task_id)
        assert task is held and task.claimed_by == "someone"
        uow.rollback()
