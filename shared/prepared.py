"""The hot writes, compiled once per database and sent to the driver as its own SQL.

A review step writes four rows and every delivery a consumer handles one or two inbox rows and its
outbox rows. Run as Core statements, each goes through SQLAlchemy's execution of a compiled statement:
its cache key, the compiled cache, a fresh execution context that looks at every bind and every
option. In a request, where that code is no longer in the CPU's caches, this cost 100-170 µs a
statement beside 25-55 µs in SQLite itself (bench/results.md, twelfth session).

``Prepared`` compiles its statement once per dialect, and keeps the SQL text, the order of its bind
parameters and the type processors SQLAlchemy applies to them (the same ones: a row is stored exactly
as the Core statement would store it). A run turns the values into the driver's parameters and hands
them to ``Connection.exec_driver_sql``, which keeps what matters of SQLAlchemy around it: the
transaction, the engine's cursor events (the statements counted by the tests and the benchmark) and its
errors (an ``IntegrityError`` stays one; psycopg's pipeline, shared/pipeline.py, works as before).

A statement that needs more than that (a Python-side default, an expanding IN, RETURNING, a bind name
the dialect escapes) runs as a plain Core statement instead: the same result, at the usual cost.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection, CursorResult, Dialect
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.expression import Executable

Values = Mapping[str, Any]


@dataclass(frozen=True)
class _Form:
    """The statement as one dialect's driver takes it."""

    sql: str
    names: tuple[str, ...]  # the bind parameters, in the order a positional driver takes them
    binds: tuple[BindParameter[Any], ...]
    processors: tuple[Callable[[Any], Any] | None, ...]
    positional: bool

    def parameters(self, values: Values) -> Any:
        """The driver's parameters for one row, as Core's ``construct_params`` and its processors make them:
        a value given, else the bind's own (a column's scalar default), else an error."""
        processed = []
        for name, bind, process in zip(self.names, self.binds, self.processors, strict=True):
            if name in values:
                value = values[name]
            elif bind.required:
                raise ValueError(f"a value is required for bind parameter {name!r}")
            else:
                value = bind.effective_value
            processed.append(value if process is None else process(value))
        return tuple(processed) if self.positional else dict(zip(self.names, processed, strict=True))


def _form(statement: Any, dialect: Dialect, keys: tuple[str, ...] | None) -> _Form | None:
    compiled: Any = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
    if (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or compiled.literal_execute_params
        or compiled.post_compile_params
        or compiled.escaped_bind_names
        or compiled.effective_returning
    ):
        return None
    names = tuple(compiled.positiontup) if compiled.positional else tuple(compiled.bind_names.values())
    by_name = {name: bind for bind, name in compiled.bind_names.items()}
    binds = tuple(by_name[name] for name in names)
    processors = tuple(bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds)
    return _Form(compiled.string, names, binds, processors, bool(compiled.positional))


class Prepared:
    """A Core INSERT, UPDATE or DELETE run through the driver's SQL (see the module's doc). ``keys``: the
    columns an INSERT's values name (all of them, every time), as Core would read them off the values."""

    def __init__(self, statement: Executable, keys: Sequence[str] | None = None):
        self.statement = statement
        self.keys = tuple(keys) if keys is not None else None
        # one form per dialect object (one per engine), dropped with its engine
        self._forms: weakref.WeakKeyDictionary[Dialect, _Form | None] = weakref.WeakKeyDictionary()

    def form(self, dialect: Dialect) -> _Form | None:
        try:
            return self._forms[dialect]
        except KeyError:
            found = self._forms[dialect] = _form(self.statement, dialect, self.keys)
            return found

    def execute(self, connection: Connection, values: Values | Sequence[Values]) -> CursorResult[Any]:
        """Run it with one row's values (a mapping) or several (a list of mappings: one executemany)."""
        form = self.form(connection.dialect)
        if form is None:
            return connection.execute(self.statement, values)
        if isinstance(values, Mapping):
            return connection.exec_driver_sql(form.sql, form.parameters(values))
        return connection.exec_driver_sql(form.sql, [form.parameters(row) for row in values])
