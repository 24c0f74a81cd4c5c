"""PostgreSQL compresses the services' large values (a review's state, written at every step) with lz4, and a
server that refuses the setting keeps its default and still serves (shared/db.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from shared import db
from tests.conftest import POSTGRES

pytestmark = pytest.mark.skipif(not POSTGRES, reason="TOAST compression is PostgreSQL's (TEST_POSTGRES_URL)")

LARGE = "一份申报的评审状态 " * 2_000  # about 30 KB: stored compressed, out of the row


def _stored_with(engine: object) -> str:
    with engine.connect() as conn:  # type: ignore[attr-defined]
        conn.execute(text("CREATE TEMPORARY TABLE large_values (value text)"))
        conn.execute(text("INSERT INTO large_values VALUES (:value)"), {"value": LARGE})
        method = conn.execute(text("SELECT pg_column_compression(value) FROM large_values")).scalar_one()
        assert conn.execute(text("SELECT value FROM large_values")).scalar_one() == LARGE
        conn.rollback()
    return str(method)


def test_a_large_value_is_compressed_with_lz4() -> None:
    engine = db.make_engine(POSTGRES or "")
    try:
        with engine.connect() as conn:
            if conn.execute(text("SHOW default_toast_compression")).scalar_one() != "lz4":
                pytest.skip("this PostgreSQL was built without lz4")
        assert _stored_with(engine) == "lz4"
    finally:
        engine.dispose()


def test_a_server_that_refuses_the_setting_keeps_its_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(db, "TOAST_COMPRESSION", "no-such-method")
    engine = db.make_engine(POSTGRES or "")
    try:
        assert _stored_with(engine) == "pglz"
    finally:
        engine.dispose()
