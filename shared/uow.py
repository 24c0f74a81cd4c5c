"""A service's database and the unit of work that commits explicitly.

Everything a command changes, and every message it emits, is written in one
transaction: the messages go to the outbox table and a relay publishes them
after commit. Nothing is half written and no message is lost.
"""

from __future__ import annotations

import functools
from typing import Any, NamedTuple

from sqlalchemy import Table, bindparam, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

from shared.contracts import Message, contract
from shared.db import make_engine, ping, read_options, utcnow
from shared.messaging import wake
from shared.messaging.envelope import Envelope
from shared.observability import context
from shared.prepared import Prepared
from shared.session import KeyedSession


class Database:
    """One service's engine, session factory and messaging tables."""

    def __init__(self, service: str, url: str, metadata: Any, outbox_model: type[Any], inbox_model: type[Any]):
        self.service = service
        self.url = url
        self.metadata = metadata
        self.engine: Engine = make_engine(url)
        self.sessions = sessionmaker(self.engine, class_=KeyedSession, expire_on_commit=False)
        # A read-only unit of work's sessions connect with the read options (shared/db.py) when they first
        # run a statement, as the others do: a view that reads nothing (the clock's, for anyone but the
        # title office) checks out no connection and begins nothing, which was a third of such a request.
        self.read_sessions = sessionmaker(
            self.engine.execution_options(**read_options(self.engine)), class_=KeyedSession, expire_on_commit=False
        )
        for sessions in (self.sessions, self.read_sessions):
            event.listen(sessions, "before_commit", _before_commit)
            event.listen(sessions, "after_soft_rollback", _drop_outbox)
        self.outbox_model = outbox_model
        self.inbox_model = inbox_model
        # Rung after a commit that wrote outbox rows, so the relay publishes them now rather than at
        # its next poll (SQLite; PostgreSQL's outbox trigger notifies the relay itself).
        self.relay_bell = wake.outbox_bell(url)

    def uow(self, readonly: bool = False) -> UnitOfWork:
        return UnitOfWork(self, readonly=readonly)

    def ping(self) -> None:
        ping(self.engine)

    def outbox_backlog(self) -> int:
        with self.read_sessions() as session:
            model = self.outbox_model
            return session.scalar(select(func.count()).select_from(model).where(model.published_at.is_(None))) or 0

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    session: Session

    def __init__(self, db: Database, readonly: bool = False):
        self.db = db
        self.readonly = readonly
        self._published = False  # outbox rows written since the last commit or rollback

    def __enter__(self) -> UnitOfWork:
        # Reads need no write lock on SQLite (WAL readers run beside a writer), and on PostgreSQL no
        # transaction (shared/db.py READ_ONLY).
        self.session = (self.db.read_sessions if self.readonly else self.db.sessions)()
        return self

    def __exit__(self, *exc: Any) -> None:
        # Whatever was not committed explicitly is thrown away. close() rolls
        # back without expiring loaded objects, so views can still render them.
        self.session.close()

    def commit(self) -> None:
        _write_outbox(self.session)
        self.session.commit()
        if self._published:
            self._published = False
            if self.db.relay_bell is not None:
                wake.ring(self.db.relay_bell)

    def write_outbox(self) -> None:
        """Insert the messages published so far now rather than at the commit: where the transaction's
        other writes go to the server together (shared/pipeline.py). A savepoint rolled back later
        takes them with it, in the database."""
        _write_outbox(self.session)

    def rollback(self) -> None:
        self.session.rollback()
        self.session.info.pop(OUTBOX, None)  # also where the session had no transaction to roll back yet
        self._published = False

    def publish(self, message: Message, correlation_id: str | None = None) -> Envelope:
        """Write a message to the outbox, in this transaction (its data checked strictly)."""
        envelope = Envelope(
            type=message.TYPE,
            source=self.db.service,
            data=message.dump(),
            correlation_id=correlation_id or context.correlation_id.get(),
            causation_id=context.causation_id.get(),
        )
        row = {
            "message_id": envelope.id,
            "type": message.TYPE,
            "exchange": contract(message.TYPE).exchange,
            "routing_key": message.routing_key(),
            "body": envelope.to_json(),
            "created_at": utcnow(),
            "published_at": None,
            "attempts": 0,
            "last_error": None,
        }
        # Written when its transaction commits, with the others in one INSERT (_write_outbox); the
        # savepoint it was published in, if any, decides whether it goes with a rollback.
        pending = self.session.info.setdefault(OUTBOX, _Pending(self.db.outbox_model.__table__, []))
        pending.rows.append((self.session.get_nested_transaction(), row))
        self._published = True
        return envelope

    # The inbox in Core statements on the session's connection: a consumer's bookkeeping is three
    # small statements a delivery, and the ORM's identity map and flush would cost more than they do.

    def seen(self, message_id: str, handler: str) -> bool:
        found = _inbox_statements(self.db.inbox_model.__table__).seen
        return (
            self.session.connection().execute(found, {"key_id": message_id, "key_handler": handler}).first() is not None
        )

    def remember(self, envelope: Envelope, handler: str) -> None:
        """The message's inbox row, inserted at once: on PostgreSQL a concurrent duplicate fails here
        (IntegrityError), before the effect."""
        _inbox_statements(self.db.inbox_model.__table__).remember.execute(
            self.session.connection(),
            {"message_id": envelope.id, "handler": handler, "type": envelope.type, "processed_at": utcnow()},
        )

    def committing(self, message_id: str, handler: str) -> None:
        """Stamp the inbox row just before the commit: the end of the message's lag (bench/README.md)."""
        _inbox_statements(self.db.inbox_model.__table__).committing.execute(
            self.session.connection(), {"key_id": message_id, "key_handler": handler, "at": utcnow()}
        )


# -- the outbox rows of a transaction ----------------------------------------------------------
# Plain rows in Core, held in the session until its transaction commits and then inserted in one
# statement: as ORM objects, a transaction's messages cost a flush of their own (identity map, RETURNING
# of keys nobody reads), about a tenth of a millisecond each. Each row remembers the savepoint it was
# published in, so rolling a savepoint back drops the rows published within it, as it would the objects.

OUTBOX = "titles_outbox_pending"  # Session.info key


class _Pending(NamedTuple):
    table: Table
    rows: list[tuple[SessionTransaction | None, dict[str, Any]]]  # (savepoint published in, row)


def _within(transaction: SessionTransaction | None, outer: SessionTransaction) -> bool:
    while transaction is not None:
        if transaction is outer:
            return True
        transaction = transaction.parent
    return False


def _write_outbox(session: Session) -> None:
    """Insert the rows the transaction published, in one statement: by ``UnitOfWork.commit`` before the
    commit, and (for a commit made on the session itself) by the session's ``before_commit``."""
    pending: _Pending | None = session.info.get(OUTBOX)
    if not pending or not pending.rows:
        return
    rows = [row for _, row in pending.rows]
    pending.rows.clear()
    _outbox_insert(pending.table, tuple(rows[0])).execute(session.connection(), rows)


@functools.lru_cache(maxsize=16)
def _outbox_insert(outbox: Table, columns: tuple[str, ...]) -> Prepared:
    """The outbox's INSERT of the columns ``publish`` fills (its rows' keys), built and compiled once per table
    (a transaction that published writes its rows with it); its ids are not fetched back (no RETURNING)."""
    return Prepared(outbox.insert().inline(), columns)


def _before_commit(session: Session) -> None:
    # A savepoint's release keeps its rows pending (its enclosing transaction may still roll back).
    if session.get_nested_transaction() is None:
        _write_outbox(session)


def _drop_outbox(session: Session, previous_transaction: SessionTransaction) -> None:
    """A rollback takes the rows published in what it rolled back (a savepoint: those published within it)."""
    pending: _Pending | None = session.info.get(OUTBOX)
    if not pending:
        return
    if not previous_transaction.nested:
        pending.rows.clear()
        return
    pending.rows[:] = [(s, r) for s, r in pending.rows if not _within(s, previous_transaction)]


class _InboxStatements(NamedTuple):
    seen: Any
    remember: Prepared
    committing: Prepared


@functools.lru_cache(maxsize=16)
def _inbox_statements(inbox: Table) -> _InboxStatements:
    """The inbox's three statements, built once per table: every delivery runs two or three of them, and
    building one (its cache key included) cost about as much as running it on SQLite."""
    key = (inbox.c.message_id == bindparam("key_id")) & (inbox.c.handler == bindparam("key_handler"))
    return _InboxStatements(
        seen=select(inbox.c.message_id).where(key),
        remember=Prepared(inbox.insert(), ("message_id", "handler", "type", "processed_at")),
        committing=Prepared(inbox.update().where(key).values(committed_at=bindparam("at"))),
    )
