"""Several writes in one round trip (shared/pipeline.py): on PostgreSQL the block's statements are sent
in psycopg's pipeline mode and their row counts read once the server answered; a failing write raises
what SQLAlchemy raises for it; on SQLite the block changes nothing."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import event, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from shared.pipeline import one_round_trip


def outbox_row(message_id: str) -> dict[str, Any]:
    return {"message_id": message_id, "type": "t", "exchange": "e", "routing_key": "t", "body": "{}"}


@contextlib.contextmanager
def pipelined_statements(db: Any) -> Iterator[list[tuple[str, bool]]]:
    """Each statement sent meanwhile, with whether the connection was in pipeline mode when it was."""
    sent: list[tuple[str, bool]] = []

    def seen(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        raw = conn.connection.dbapi_connection
        status = getattr(getattr(raw, "pgconn", None), "pipeline_status", 0)
        sent.append((statement.split()[0].upper(), bool(status)))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)


def test_the_writes_of_a_block_go_together_and_their_counts_are_read_after_it(dbs):
    db = dbs["certificate"]
    table = db.outbox_model.__table__
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    counts: list[int] = []
    with pipelined_statements(db) as sent:
        with db.uow() as uow:
            with one_round_trip(uow.session) as batch:
                uow.session.connection().execute(insert(table).inline(), [outbox_row(first), outbox_row(second)])
                hit = uow.session.connection().execute(
                    update(table).where(table.c.message_id == first).values(attempts=7)
                )
                missed = uow.session.connection().execute(
                    update(table).where(table.c.message_id == "no such message").values(attempts=7)
                )
                batch.after(lambda: counts.extend([batch.rowcount(hit), batch.rowcount(missed)]))
                assert counts == ([] if batch.pipelined else [1, 0])
            assert counts == [1, 0]
            uow.commit()
    postgres = db.engine.dialect.name == "postgresql"
    assert batch.pipelined is postgres
    assert [pipelined for verb, pipelined in sent if verb in ("INSERT", "UPDATE")] == [postgres] * 3
    with db.uow(readonly=True) as uow:
        attempts = dict(
            uow.session.execute(
                select(table.c.message_id, table.c.attempts).where(table.c.message_id.in_([first, second]))
            ).all()
        )
    assert attempts == {first: 7, second: 0}


def test_a_write_the_server_refuses_in_a_block_raises_as_sqlalchemy_would_and_leaves_nothing(dbs):
    db = dbs["certificate"]
    table = db.outbox_model.__table__
    twice, other = str(uuid.uuid4()), str(uuid.uuid4())
    checked: list[str] = []
    with db.uow() as uow:
        with pytest.raises(IntegrityError):
            with one_round_trip(uow.session) as batch:
                uow.session.connection().execute(insert(table).inline(), [outbox_row(other)])
                uow.session.connection().execute(insert(table).inline(), [outbox_row(twice)])
                uow.session.connection().execute(insert(table).inline(), [outbox_row(twice)])
                batch.after(lambda: checked.append("ran"))
        uow.rollback()
    assert checked == []  # the checks are for writes the server took
    with db.uow(readonly=True) as uow:
        found = uow.session.scalar(
            select(func.count()).select_from(table).where(table.c.message_id.in_([twice, other]))
        )
    assert found == 0
    with db.uow() as uow:  # the connection went back to the pool fit for the next unit of work
        uow.session.connection().execute(insert(table).inline(), [outbox_row(twice)])
        uow.commit()
