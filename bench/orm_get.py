"""CPU time of a load by primary key: SQLAlchemy's Session.get against the services' KeyedSession.

    .venv/bin/python bench/orm_get.py [--loads N] [--repeat N] [--postgres URL]

A declaration (38 columns) loaded by its id in a fresh write transaction, as a message handler does
(services/declaration/service.py), each way:

- ``begin``: the session, its connection and transaction, and nothing loaded (subtracted from the rest);
- ``get``: every column;
- ``get, trail only``: with the declaration's six JSON columns deferred (as its review-message handlers loaded it
  until they read their columns in Core).

Microseconds of process CPU a load (``time.process_time``; the best of ``--repeat`` rounds, the ways in
turn in each round), on a scratch SQLite file or, with ``--postgres``, a scratch database there.
Nothing in the tests depends on these figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.orm import Session, defer, sessionmaker  # noqa: E402

from services.declaration.models import Base, Declaration  # noqa: E402
from shared.db import make_engine  # noqa: E402
from shared.session import KeyedSession  # noqa: E402

_TRAIL_ONLY = tuple(
    defer(column, raiseload=True)
    for column in (
        Declaration.eligibility,
        Declaration.exception_claims,
        Declaration.employer_proof,
        Declaration.sections,
        Declaration.materials,
        Declaration.snapshot,
    )
)

ROWS = 200


def declaration_row(n: int) -> dict[str, Any]:
    """A declaration with every required column filled (the others empty), keyed by a new id."""
    at = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    key = str(uuid.uuid4())
    row: dict[str, Any] = {}
    for column in Declaration.__table__.columns:
        if column.nullable:
            continue
        kind = getattr(column.type, "impl", column.type)
        python = kind.python_type if hasattr(kind, "python_type") else str
        row[column.name] = {str: f"v{n}", int: n, bool: False, dt.datetime: at, dt.date: at.date()}.get(python, {})
    row["id"] = key
    return row


def _scratch(postgres: str | None) -> tuple[Any, Callable[[], None]]:
    if postgres is None:
        folder = tempfile.TemporaryDirectory()
        engine = make_engine(f"sqlite:///{folder.name}/bench.db")
        return engine, lambda: (engine.dispose(), folder.cleanup())
    name = f"bench_orm_get_{uuid.uuid4().hex[:8]}"
    admin = make_engine(postgres).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {name}"))
    engine = make_engine(postgres.rsplit("/", 1)[0] + "/" + name)

    def drop() -> None:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE {name}"))
        admin.dispose()

    return engine, drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=3000, help="loads a round and way (3000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best is reported (5)")
    parser.add_argument("--postgres", help="a PostgreSQL URL to make a scratch database at")
    args = parser.parse_args()

    engine, drop = _scratch(args.postgres)
    try:
        Base.metadata.create_all(engine)
        rows = [declaration_row(n) for n in range(ROWS)]
        with engine.begin() as conn:
            conn.execute(insert(Declaration.__table__), rows)
        keys = [row["id"] for row in rows]
        plain = sessionmaker(engine, class_=Session, expire_on_commit=False)
        keyed = sessionmaker(engine, class_=KeyedSession, expire_on_commit=False)
        ways: dict[str, tuple[sessionmaker[Any], Callable[[Session, str], object]]] = {
            "begin": (plain, lambda s, k: None),
            "Session.get": (plain, lambda s, k: s.get(Declaration, k)),
            "KeyedSession.get": (keyed, lambda s, k: s.get(Declaration, k)),
            "Session.get, trail only": (plain, lambda s, k: s.get(Declaration, k, options=_TRAIL_ONLY)),
            "KeyedSession.get, trail only": (keyed, lambda s, k: s.get(Declaration, k, options=_TRAIL_ONLY)),
        }
        best = dict.fromkeys(ways, float("inf"))
        for _ in range(args.repeat):
            for name, (sessions, load) in ways.items():
                started = time.process_time()
                for n in range(args.loads):
                    with sessions() as session:
                        session.connection()
                        load(session, keys[n % ROWS])
                best[name] = min(best[name], (time.process_time() - started) / args.loads * 1e6)
    finally:
        drop()
    backend = "PostgreSQL" if args.postgres else "SQLite"
    print(f"a load by key in a fresh transaction, {backend}, µs of CPU (best of {args.repeat} × {args.loads}):")
    for name, micros in best.items():
        extra = "" if name == "begin" else f"   {micros - best['begin']:7.1f} beyond the begin"
        print(f"  {name:30s} {micros:7.1f}{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
