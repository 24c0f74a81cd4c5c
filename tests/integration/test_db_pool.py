"""The PostgreSQL pool checks a connection before use only when it rested: a connection the server
dropped while it rested is replaced, not handed to a request (shared/db.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shared import db
from tests.conftest import POSTGRES

pytestmark = pytest.mark.skipif(not POSTGRES, reason="the pool's ping is PostgreSQL's (TEST_POSTGRES_URL)")


def test_a_connection_dropped_while_it_rested_is_replaced(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = db.make_engine(POSTGRES or "")
    admin = db.make_engine(POSTGRES or "")
    try:
        with engine.connect() as conn:
            dropped = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        with admin.connect() as conn:  # the server ends the pooled connection while it rests
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
            conn.commit()
        monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.0)  # it has rested long enough to be checked
        with engine.connect() as conn:
            serving = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        assert serving != dropped
    finally:
        engine.dispose()
        admin.dispose()


def _prepared_on_the_connection_used_last(engine: object) -> int:
    """Statements psycopg prepared on the pool's connection used last (a statement run six times first)."""
    with engine.connect() as conn:  # type: ignore[attr-defined]
        for _ in range(6):  # psycopg prepares a statement at its fifth run on a connection
            conn.execute(text("SELECT 1 + 1"))
        conn.commit()
        prepared = int(conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one())
        conn.commit()
    assert prepared >= 1
    return prepared


def _prepared_now(engine: object) -> int:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar_one())


def test_a_rested_connection_checked_before_use_keeps_its_prepared_statements(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The check ends its transaction with a commit: psycopg forgets what it prepared at a rollback."""
    engine = db.make_engine(POSTGRES or "")
    try:
        prepared = _prepared_on_the_connection_used_last(engine)
        monkeypatch.setattr(db, "IDLE_BEFORE_PING", 0.0)  # it has rested long enough to be checked
        assert _prepared_now(engine) == prepared
    finally:
        engine.dispose()


def test_a_readiness_ping_keeps_the_connections_prepared_statements() -> None:
    """The probe runs outside a transaction: none is rolled back when its connection goes back to the pool."""
    engine = db.make_engine(POSTGRES or "")
    try:
        prepared = _prepared_on_the_connection_used_last(engine)
        db.ping(engine)  # on the same connection: the pool hands out the one used last
        assert _prepared_now(engine) == prepared
    finally:
        engine.dispose()
