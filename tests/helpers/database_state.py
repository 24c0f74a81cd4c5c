"""The test databases put back into a known state between tests, touching only what a test wrote.

Two states are known for each service's database: ``empty`` (as migrated) and ``demo`` (the
demonstration data of ``titles seed`` and the deployed diagrams, seeded once per run and recorded
row by row). Every statement this process sends is watched (an engine event on every engine, so
the engines the code under test opens itself count too) for the tables it writes. Before a test,
each database is brought to the state the test asks for by emptying and refilling only the tables
written since the last time, and the tables in which the two states differ. A database the
previous test never wrote costs nothing.

Writes from other processes (a subprocess of ``titles``) are not seen: such a test carries the
marker ``other_processes_write`` and every table is restored after it. ``TITLES_TEST_CHECK_RESTORE=1``
compares every table with the state after each restore, to find a writer that was not seen.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Table, event, func, select, text
from sqlalchemy.engine import Connection, Engine

EMPTY = "empty"
DEMO = "demo"

# The table a data-changing statement writes. A SELECT (also one ``FOR UPDATE``) writes nothing.
_WRITES = re.compile(
    r"\b(?:INSERT\s+(?:OR\s+\w+\s+)?INTO|UPDATE|DELETE\s+FROM|TRUNCATE(?:\s+TABLE)?)"
    r"\s+(?:ONLY\s+)?\"?(\w+)\"?",
    re.IGNORECASE,
)

Rows = dict[str, list[dict[str, Any]]]  # table name -> rows


class WrittenTables:
    """Names of the tables written per database URL since they were last taken."""

    def __init__(self) -> None:
        self._written: dict[str, set[str]] = {}
        self._lock = threading.Lock()

    def watch(self) -> None:
        event.listen(Engine, "before_cursor_execute", self._statement)

    def unwatch(self) -> None:
        event.remove(Engine, "before_cursor_execute", self._statement)

    def _statement(self, conn: Connection, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip()[:6].upper() in ("SELECT", "PRAGMA"):
            return
        tables = _WRITES.findall(statement)
        if tables:
            key = str(conn.engine.url)
            with self._lock:
                self._written.setdefault(key, set()).update(t.lower() for t in tables)

    def take(self, url: str) -> set[str]:
        with self._lock:
            return self._written.pop(url, set())


class RestorableDatabase:
    """One service's database as the tests use it: its known states and the one it is in now."""

    def __init__(self, db: Any, written: WrittenTables):
        self.db = db
        self.url = str(db.engine.url)
        self.written = written
        self.tables: dict[str, Table] = {t.name: t for t in db.metadata.sorted_tables}
        self.states: dict[str, Rows] = {EMPTY: {}}
        self.state = EMPTY
        self.everything_written = False

    def record(self, name: str) -> None:
        """Keep what the database holds now as the state ``name``; the database stays as it is."""
        with self.db.engine.connect() as conn:
            rows = {t.name: [dict(r) for r in conn.execute(t.select()).mappings()] for t in self.tables.values()}
        self.states[name] = {table: kept for table, kept in rows.items() if kept}
        self.state = name
        self.written.take(self.url)

    def bring_to(self, name: str) -> None:
        """Restore the tables written since the last call, and those the two states hold differently."""
        written = set(self.tables) if self.everything_written else self.written.take(self.url) & set(self.tables)
        self.everything_written = False
        target = self.states[name]
        if name != self.state:
            current = self.states[self.state]
            written |= {t for t in set(current) | set(target) if current.get(t) != target.get(t)}
        if written:
            self._restore(self._with_referencing(written), target)
            self.written.take(self.url)  # the restore's own statements
        self.state = name
        if os.environ.get("TITLES_TEST_CHECK_RESTORE") == "1":
            self._check(target)

    def _check(self, rows: Rows) -> None:
        with self.db.engine.connect() as conn:
            for table in self.tables.values():
                found = sorted(map(repr, conn.execute(table.select()).mappings()))
                expected = sorted(repr(r) for r in rows.get(table.name, []))
                assert found == expected, f"{self.db.service}.{table.name} was written unseen: {found[:3]}"

    def _with_referencing(self, names: set[str]) -> list[Table]:
        """The tables and every table that refers to them (whose rows would stop a DELETE), in
        dependency order."""
        wanted = set(names)
        grown = True
        while grown:
            referencing = {
                t.name for t in self.tables.values() if any(fk.column.table.name in wanted for fk in t.foreign_keys)
            }
            grown = not referencing <= wanted
            wanted |= referencing
        return [t for t in self.tables.values() if t.name in wanted]

    def _restore(self, tables: list[Table], rows: Rows) -> None:
        with self.db.engine.begin() as conn:
            for table in reversed(tables):
                conn.execute(table.delete())
            for table in tables:
                if rows.get(table.name):
                    conn.execute(table.insert(), rows[table.name])
                    _sequences_past_the_rows(conn, table)


def _sequences_past_the_rows(conn: Connection, table: Table) -> None:
    """PostgreSQL: rows inserted with their own ids leave the id sequence behind; move it past them
    (SQLite takes the next rowid from the rows themselves)."""
    if conn.dialect.name != "postgresql":
        return
    for column in _serial_columns(table):
        conn.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, :column), :last)"),
            {"table": table.name, "column": column.name, "last": conn.scalar(select(func.max(column)))},
        )


def _serial_columns(table: Table) -> Iterable[Any]:
    return [c for c in table.primary_key.columns if c is table.autoincrement_column]
