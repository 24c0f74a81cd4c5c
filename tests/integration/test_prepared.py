"""The hot writes run through the driver's SQL (shared/prepared.py): a row is stored exactly as the Core
statement would store it, the engine's cursor events see each statement, errors are SQLAlchemy's, and a
statement that needs more of Core runs as Core. On the suite's backend (SQLite or PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest
from sqlalchemy import event, insert, select, update
from sqlalchemy.exc import IntegrityError

from services.review.models import AuditEntry
from shared.pipeline import one_round_trip
from shared.prepared import Prepared

COLUMNS = tuple(c.key for c in AuditEntry.__table__.columns if c.key != "id")
STORED = "SELECT at, changes, completed, actor, reason FROM audit_log WHERE instance_id = :i ORDER BY seq"


def entry(instance_id: str, seq: int, **changed: Any) -> dict[str, Any]:
    return {
        "instance_id": instance_id,
        "seq": seq,
        "declaration_id": str(uuid.uuid4()),
        "at": dt.datetime(2026, 12, 6, 9, 30, 15, 123456, tzinfo=dt.timezone(dt.timedelta(hours=8))),
        "source": "task",
        "actor": "单位审核员",
        "element": "unit_check",
        "task_id": None,
        "decision": "approve",
        "reason": None,
        "changes": {"decision": "approve", "意见": "同意", "n": 1.5, "none": None},
        "completed": ["unit_check"],
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
        **changed,
    }


def stored(connection: Any, instance_id: str) -> list[tuple[Any, ...]]:
    """The rows as the database holds them (text, as the driver reads it back without SQLAlchemy's types)."""
    return [tuple(row) for row in connection.exec_driver_sql(*_raw(connection, instance_id)).all()]


def _raw(connection: Any, instance_id: str) -> tuple[str, Any]:
    if connection.dialect.name == "postgresql":
        sql = "SELECT at::text, changes::text, completed::text, actor, reason FROM audit_log WHERE instance_id = %(i)s"
        return sql + " ORDER BY seq", {"i": instance_id}
    return STORED.replace(":i", "?"), (instance_id,)


def test_a_row_is_stored_as_the_core_statement_stores_it(dbs):
    db = dbs["review"]
    core, prepared = str(uuid.uuid4()), str(uuid.uuid4())
    statement = insert(AuditEntry).inline()
    with db.uow() as uow:
        connection = uow.session.connection()
        connection.execute(
            statement, [entry(core, 1), entry(core, 2, reason="理由", at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))]
        )
        Prepared(statement, COLUMNS).execute(
            connection,
            [entry(prepared, 1), entry(prepared, 2, reason="理由", at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))],
        )
        uow.commit()
    with db.engine.connect() as connection:
        assert stored(connection, prepared) == stored(connection, core)
        assert len(stored(connection, core)) == 2
    with db.uow(readonly=True) as uow:  # and the ORM reads them back with their types
        entries = uow.session.scalars(
            select(AuditEntry).where(AuditEntry.instance_id == prepared).order_by(AuditEntry.seq)
        ).all()
        assert [e.at for e in entries] == [entry(prepared, 1)["at"], dt.datetime(2027, 1, 1, tzinfo=dt.UTC)]
        assert entries[0].changes == {"decision": "approve", "意见": "同意", "n": 1.5, "none": None}


def test_each_statement_goes_through_the_engines_cursor_events(dbs):
    db = dbs["review"]
    seen: list[tuple[str, bool]] = []

    def sent(_conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, many: bool) -> None:
        seen.append((statement.split()[0], many))

    instance_id = str(uuid.uuid4())
    event.listen(db.engine, "before_cursor_execute", sent)
    try:
        with db.uow() as uow:
            connection = uow.session.connection()
            Prepared(insert(AuditEntry).inline(), COLUMNS).execute(
                connection, [entry(instance_id, 1), entry(instance_id, 2)]
            )
            bump = Prepared(
                update(AuditEntry).where(AuditEntry.instance_id == instance_id).values(decision="return")
            ).execute(connection, {})
            assert bump.rowcount == 2
            uow.commit()
    finally:
        event.remove(db.engine, "before_cursor_execute", sent)
    assert [s for s in seen if s[0] in ("INSERT", "UPDATE")] == [("INSERT", True), ("UPDATE", False)]


def test_a_constraint_broken_raises_sqlalchemys_error(dbs):
    db = dbs["review"]
    instance_id = str(uuid.uuid4())
    prepared = Prepared(insert(AuditEntry).inline(), COLUMNS)
    with db.uow() as uow:
        prepared.execute(uow.session.connection(), entry(instance_id, 1))
        with pytest.raises(IntegrityError):
            prepared.execute(uow.session.connection(), entry(instance_id, 1))  # the same (instance, seq)
        uow.rollback()


def test_a_value_missing_is_refused_by_name(dbs):
    db = dbs["review"]
    values = entry(str(uuid.uuid4()), 1)
    del values["hash"]
    with db.uow() as uow, pytest.raises(ValueError, match="'hash'"):
        Prepared(insert(AuditEntry).inline(), COLUMNS).execute(uow.session.connection(), values)


def test_a_statement_that_needs_a_python_default_runs_as_core(dbs):
    db = dbs["review"]
    outbox = db.outbox_model.__table__
    keys = ("message_id", "type", "exchange", "routing_key", "body")  # created_at: the column's utcnow
    prepared = Prepared(outbox.insert().inline(), keys)
    assert prepared.form(db.engine.dialect) is None
    message_id = str(uuid.uuid4())
    with db.uow() as uow:
        prepared.execute(
            uow.session.connection(),
            {"message_id": message_id, "type": "t", "exchange": "e", "routing_key": "t", "body": "{}"},
        )
        uow.commit()
    with db.engine.connect() as connection:
        row = connection.execute(outbox.select().where(outbox.c.message_id == message_id)).one()
    assert row.created_at is not None and row.attempts == 0


def test_a_pipelined_update_reports_its_rows_after_the_round_trip(dbs):
    db = dbs["review"]
    instance_id = str(uuid.uuid4())
    counts: list[int] = []
    with db.uow() as uow:
        Prepared(insert(AuditEntry).inline(), COLUMNS).execute(uow.session.connection(), entry(instance_id, 1))
        with one_round_trip(uow.session) as batch:
            written = Prepared(
                update(AuditEntry).where(AuditEntry.instance_id == instance_id).values(decision="return")
            ).execute(uow.session.connection(), {})
            batch.after(lambda: counts.append(batch.rowcount(written)))
        assert counts == [1]
        uow.commit()
