"""Several writes in one round trip to PostgreSQL (psycopg's pipeline mode).

A review step writes four rows (its audit entry, its tasks, the instance, its messages): as separate
statements that is four round trips to the server, each waited for although none needs the one before
it. Inside ``one_round_trip`` the statements executed on the session's connection are sent together
and the server's answers read once, at the end of the block. What the block may hold: writes whose
results nobody reads before the block ends (no SELECT, no RETURNING; a write's row count is read with
``Batch.rowcount`` in a check registered with ``after``). A block inside another ends with its own round
trip. On SQLite the statements run one by one as usual, and the checks right away.

An error the server gives for any statement in the block is raised at its end, as SQLAlchemy would
have raised it for that statement (an ``IntegrityError`` stays one), and the transaction is then
aborted as after any failed statement: the caller rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session


class Batch:
    def __init__(self, pipelined: bool):
        self.pipelined = pipelined
        self._checks: list[Callable[[], None]] = []

    def after(self, check: Callable[[], None]) -> None:
        """Run ``check`` once the server has answered every statement before it (at once when the block
        is not pipelined): where a write's row count is looked at."""
        if self.pipelined:
            self._checks.append(check)
        else:
            check()

    def rowcount(self, result: CursorResult[Any]) -> int:
        """The rows a write in this block touched, in a check: pipelined, read from its cursor
        (SQLAlchemy takes the count when the statement is sent, before the server answered: -1)."""
        count: int = result.context.cursor.rowcount if self.pipelined else result.rowcount
        return count

    def _run_checks(self) -> None:
        for check in self._checks:
            check()


@contextmanager
def one_round_trip(session: Session) -> Iterator[Batch]:
    connection = session.connection()
    raw = connection.connection.dbapi_connection
    if connection.dialect.name != "postgresql" or connection.dialect.driver != "psycopg" or raw is None:
        yield Batch(pipelined=False)
        return
    import psycopg

    batch = Batch(pipelined=True)
    try:
        with raw.pipeline():
            yield batch
    except psycopg.Error as exc:
        # what SQLAlchemy raises for the driver's error when a statement fails on its own
        raise DBAPIError.instance(None, None, exc, psycopg.Error) from exc
    batch._run_checks()
