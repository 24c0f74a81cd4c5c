"""The outbox rows of a unit of work: written when it commits, in publish order, and only for what a
rollback (of the unit, or of the savepoint a message was published in) did not take back."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import event, select

from shared.contracts.certificate import Issued
from shared.uow import UnitOfWork
from tests.integration.test_messaging import issued


def publish(uow: UnitOfWork, declaration_id: str, label: str) -> None:
    uow.publish(Issued(**{**issued(declaration_id), "number": label}), correlation_id=declaration_id)


def written(db: Any, declaration_id: str) -> list[str]:
    """The numbers of the declaration's messages in the outbox, in the outbox's order."""
    model = db.outbox_model
    with db.uow(readonly=True) as uow:
        rows = uow.session.execute(
            select(model.body).where(model.body.contains(declaration_id)).order_by(model.seq)
        ).scalars()
        return [Issued.load(json.loads(body)["data"]).number for body in rows]


def test_a_units_messages_are_written_at_commit_in_one_statement_in_publish_order(dbs):
    db, declaration_id = dbs["certificate"], str(uuid.uuid4())
    inserts: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO OUTBOX"):
            inserts.append(statement)

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        with db.uow() as uow:
            for label in ("TJZC1", "TJZC2", "TJZC3"):
                publish(uow, declaration_id, label)
            uow.session.flush()
            assert inserts == []  # nothing before the commit
            assert written(db, declaration_id) == []
            uow.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
    assert len(inserts) == 1
    assert written(db, declaration_id) == ["TJZC1", "TJZC2", "TJZC3"]


def test_a_rolled_back_savepoint_takes_the_messages_published_within_it(dbs):
    db, declaration_id = dbs["certificate"], str(uuid.uuid4())
    with db.uow() as uow:
        publish(uow, declaration_id, "before")
        savepoint = uow.session.begin_nested()
        publish(uow, declaration_id, "rolled back")
        inner = uow.session.begin_nested()
        publish(uow, declaration_id, "released, then rolled back with its savepoint")
        inner.commit()
        savepoint.rollback()
        with uow.session.begin_nested():
            publish(uow, declaration_id, "released")
        publish(uow, declaration_id, "after")
        uow.commit()
    assert written(db, declaration_id) == ["before", "released", "after"]


def test_a_rolled_back_or_abandoned_unit_writes_nothing(dbs):
    db, declaration_id = dbs["certificate"], str(uuid.uuid4())
    with db.uow() as uow:
        publish(uow, declaration_id, "rolled back")
        uow.rollback()
        publish(uow, declaration_id, "after the rollback")
        uow.commit()
    with db.uow() as uow:
        publish(uow, declaration_id, "never committed")
    assert written(db, declaration_id) == ["after the rollback"]


def test_a_commit_made_on_the_session_itself_writes_them_too(dbs):
    db, declaration_id = dbs["certificate"], str(uuid.uuid4())
    with db.uow() as uow:
        publish(uow, declaration_id, "direct")
        uow.session.commit()
    assert written(db, declaration_id) == ["direct"]
