"""A read-only unit of work commits nothing, on both backends (shared/uow.py, shared/db.py READ_ONLY).

On PostgreSQL it runs its reads outside a transaction (no BEGIN or ROLLBACK round trips); a write in it,
a defect, first opens the transaction that closing the unit of work rolls back.
"""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, insert, select, text

from services.notify.models import Contact
from tests.conftest import POSTGRES


def _contacts(db) -> list[str]:
    with db.uow(readonly=True) as uow:
        return list(uow.session.scalars(select(Contact.subject).order_by(Contact.subject)))


@pytest.mark.skipif(not POSTGRES, reason="SQLite's readers take a DEFERRED transaction (no lock, no round trip)")
def test_reads_take_no_transaction_on_postgresql(dbs):
    db = dbs["notify"]
    sent: list[str] = []
    listener = lambda *args: sent.append(args[2].strip().upper())  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    try:
        with db.uow(readonly=True) as uow:
            uow.session.scalars(select(Contact)).all()
            uow.session.scalars(select(Contact)).all()
    finally:
        event.remove(db.engine, "before_cursor_execute", listener)
    assert len(sent) == 2 and all(s.startswith("SELECT") for s in sent)
    with db.engine.connect() as conn:  # the connection went back to the pool fit for a transaction
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_a_write_in_a_read_only_unit_of_work_is_rolled_back(dbs):
    db = dbs["notify"]
    flushed, inserted = f"flushed-{uuid.uuid4()}", f"inserted-{uuid.uuid4()}"
    with db.uow(readonly=True) as uow:
        uow.session.scalars(select(Contact)).all()  # a read first, outside any transaction
        uow.session.add(Contact(subject=flushed))
        uow.session.flush()
        uow.session.execute(insert(Contact).values(subject=inserted))
        # within the unit of work, its own writes are visible (one transaction)
        assert {flushed, inserted} <= set(uow.session.scalars(select(Contact.subject)))
    assert flushed not in _contacts(db) and inserted not in _contacts(db)
    # and the pooled connection is as good as new: a unit of work that commits still commits
    with db.uow() as uow:
        uow.session.add(Contact(subject=flushed))
        uow.commit()
    assert flushed in _contacts(db)


def test_a_read_only_unit_of_work_takes_a_connection_only_when_it_reads(dbs):
    db = dbs["notify"]
    checkouts: list[object] = []
    listener = lambda *args: checkouts.append(args[0])  # noqa: E731
    event.listen(db.engine.pool, "checkout", listener)
    try:
        with db.uow(readonly=True):
            pass  # a view that reads nothing (the clock's, for most people)
        assert checkouts == []
        with db.uow(readonly=True) as uow:
            uow.session.scalars(select(Contact)).all()
            uow.session.scalars(select(Contact)).all()
        assert len(checkouts) == 1
    finally:
        event.remove(db.engine.pool, "checkout", listener)


@pytest.mark.skipif(bool(POSTGRES), reason="SQLite's write lock: PostgreSQL's readers never wait for writers")
def test_on_sqlite_a_read_only_unit_of_work_reads_beside_a_writer_holding_the_lock(dbs):
    db = dbs["notify"]
    subject = f"written-{uuid.uuid4()}"
    with db.uow() as writer:
        writer.session.add(Contact(subject=subject))
        writer.session.flush()  # BEGIN IMMEDIATE: this unit of work holds the file's write lock
        # a reader beginning IMMEDIATE would wait here for the lock (30 s) and fail
        assert subject not in _contacts(db)
        writer.commit()
    assert subject in _contacts(db)
