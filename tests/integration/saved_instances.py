"""Review instances as a running system stored them: every review row of one declaration (the
instance with its saved workflow state, its tasks, timer, audit log, panel, votes...), written to
and read from a JSON file under tests/integration/data/saved/, with the test clock's instant.

The files were written by the code of the time (``write``), so a test that restores one (``restore``)
proves that an instance saved before a change to the engine still loads and finishes after it."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Date, DateTime, Integer, delete, insert, select, text

SAVED = Path(__file__).resolve().parent / "data" / "saved"


def _tables() -> list[Any]:
    from services.review.models import Base

    # Parents before children (instances before tasks), for the inserts.
    return [t for t in Base.metadata.sorted_tables if {"declaration_id", "instance_id"} & set(t.columns.keys())]


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date | dt.datetime) else value


def _rows(uow: Any, table: Any, declaration_id: str, instance_id: str) -> list[dict[str, Any]]:
    where = table.c.declaration_id == declaration_id if "declaration_id" in table.c else None
    if where is None:
        where = table.c.instance_id == instance_id
    return [{k: _plain(v) for k, v in row._mapping.items()} for row in uow.session.execute(select(table).where(where))]


def write(db: Any, name: str, declaration_id: str, **extra: Any) -> Path:
    """Write the declaration's review rows and the clock's instant to ``data/saved/<name>.json``."""
    from services.review.models import Instance
    from shared import clock

    with db.uow(readonly=True) as uow:
        instance_id = uow.session.scalar(select(Instance.id).where(Instance.declaration_id == declaration_id))
        rows = {t.name: _rows(uow, t, declaration_id, instance_id) for t in _tables()}
    SAVED.mkdir(parents=True, exist_ok=True)
    path = SAVED / f"{name}.json"
    body = {"clock": clock.now().isoformat(), "declaration_id": declaration_id, "rows": rows, **extra}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True) + "\n", "utf-8")
    return path


def load(name: str) -> dict[str, Any]:
    saved: dict[str, Any] = json.loads((SAVED / f"{name}.json").read_text("utf-8"))
    return saved


def _typed(table: Any, row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if key not in table.c:
            continue  # a column dropped since the file was written
        column = table.c[key]
        kind = _python_type(column)
        if value is not None and kind is dt.datetime:
            value = dt.datetime.fromisoformat(value)
        elif value is not None and kind is dt.date:
            value = dt.date.fromisoformat(value)
        out[key] = value
    return out


def _python_type(column: Any) -> Any:
    kind = getattr(column.type, "impl", column.type)  # UtcDateTime decorates a DateTime
    return dt.datetime if isinstance(kind, DateTime) else dt.date if isinstance(kind, Date) else None


def _past_serial_ids(uow: Any, table: Any) -> None:
    # The process data names rows by their serial ids (a publicity's, say): they are put back as they
    # were, and PostgreSQL's sequence is moved past them so the next row gets a fresh one.
    if uow.session.bind.dialect.name != "postgresql":
        return
    for column in table.primary_key.columns:
        if isinstance(column.type, Integer) and column.autoincrement in (True, "auto"):
            uow.session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table.name}', '{column.name}'), "
                    f"(SELECT max({column.name}) FROM {table.name}))"
                )
            )


def restore(db: Any, saved: dict[str, Any]) -> None:
    """Put the saved rows back (replacing any of that declaration) and the test clock on their instant."""
    from shared import clock

    tables = _tables()
    with db.uow() as uow:
        for table in reversed(tables):
            for row in saved["rows"].get(table.name, []):
                key = "declaration_id" if "declaration_id" in table.c else "instance_id"
                uow.session.execute(delete(table).where(table.c[key] == row[key]))
        for table in tables:
            rows = [_typed(table, row) for row in saved["rows"].get(table.name, [])]
            if rows:
                uow.session.execute(insert(table), rows)
                _past_serial_ids(uow, table)
        uow.commit()
    clock.set_now_for_tests(dt.datetime.fromisoformat(saved["clock"]))
