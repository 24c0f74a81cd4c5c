"""An engine's pool hands out the connection used last first (shared/db.py): a few connections serve a few
threads at a time and stay warm, on both databases."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import db
from tests.conftest import POSTGRES


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        if not POSTGRES:
            pytest.skip("PostgreSQL's pool: TEST_POSTGRES_URL")
        return POSTGRES
    return f"sqlite:///{tmp_path / 'pool.db'}"


def test_the_connection_used_last_is_handed_out_first(url: str) -> None:
    engine = db.make_engine(url)
    try:
        first, second = engine.connect(), engine.connect()
        used_first, used_last = first.connection.dbapi_connection, second.connection.dbapi_connection
        first.close()
        second.close()  # back in the pool last
        with engine.connect() as again:
            assert again.connection.dbapi_connection is used_last
        with engine.connect() as again, engine.connect() as other:
            assert {again.connection.dbapi_connection, other.connection.dbapi_connection} == {used_first, used_last}
    finally:
        engine.dispose()
