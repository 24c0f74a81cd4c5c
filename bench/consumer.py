"""CPU time of one delivery's bookkeeping: the consumer's ``process()`` around a handler that does
nothing but publish 0, 1 or 3 messages (inbox look and row, the unit of work, the outbox, the commit);
and of a whole delivery of the commonest message a handler does real work for, a review's stage change
in the notify service (its replica, the organisations reached, the applicant's notice), thirteen to a
declaration over four organisations as in a social review; and the same message in the declaration service
(its trail entry, the declaration's stage), one in a hundred declarations under review.

    .venv/bin/python bench/consumer.py [--deliveries 1500] [--postgres URL] [--look]

On SQLite and, with ``--postgres`` (or ``TEST_POSTGRES_URL``), on a scratch PostgreSQL database (dropped
after). ``--look`` makes every delivery look in the inbox first, as one the broker may have delivered
before. Process CPU time (``time.process_time``), so what else the machine runs weighs less than on the
wall clock; five rounds each, all given. To measure another checkout's code, put it first on the path:

    git -C /work/main archive <rev> | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before .venv/bin/python bench/consumer.py

Nothing in the tests depends on these figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

STAGE_CHANGED = {
    "applicant": "applicant",
    "stage": "unit_check",
    "stage_name": "单位审核",
    "role": "unit",
    "organisation": "91120101MA05K1XT13",
    "organisation_name": "基准测试单位",
    "at": "2026-06-01T09:00:00+08:00",
}


def rounds(url: str, deliveries: int, publish: int, look: bool) -> list[float]:
    """Microseconds of CPU per delivery, five rounds."""
    from services.declaration import bootstrap
    from shared.contracts import load_incoming
    from shared.messaging.envelope import Envelope
    from shared.migrations import upgrade

    upgrade("declaration", url)
    data = {**STAGE_CHANGED, "declaration_id": str(uuid.uuid4())}
    message = load_incoming("review.stage.changed.v1", data)

    def handler(uow, _envelope, _message) -> None:  # noqa: ANN001
        for _ in range(publish):
            uow.publish(message, correlation_id=data["declaration_id"])

    def envelopes_of(_round: int) -> list[Any]:
        return [
            Envelope(type="review.stage.changed.v1", source="review", data=data, correlation_id="bench")
            for _ in range(deliveries)
        ]

    return _stage_changes(bootstrap.database(url), "declaration", handler, envelopes_of, redelivered=look)


def _stage_changes(db: Any, service: str, handler: Any, envelopes_of: Any, redelivered: bool = False) -> list[float]:
    """Microseconds of CPU per delivery of a review's stage change to ``service``'s ``handler``, five rounds
    after one not counted (the first warms up); ``envelopes_of(round)`` makes a round's deliveries, and
    ``redelivered`` says whether the consumer looks in the inbox first."""
    from shared.messaging import topology
    from shared.messaging.consumer import process

    sub = next(s for s in topology.subscriptions_of(service) if "review.stage.changed.v1" in s.types)
    out = []
    for round_ in range(6):
        envelopes = envelopes_of(round_)
        started = time.process_time()
        for envelope in envelopes:
            assert process(db, sub, envelope, handler, redelivered=redelivered) == "done"
        out.append((time.process_time() - started) / len(envelopes) * 1e6)
    db.dispose()
    return out[1:]


def _stage_changed(**data: Any) -> Any:
    from shared.messaging.envelope import Envelope

    return Envelope(type="review.stage.changed.v1", source="review", data={**STAGE_CHANGED, **data})


def notify_rounds(url: str, deliveries: int) -> list[float]:
    """Thirteen stage changes to a declaration, over four organisations, as in a social review."""
    from services.notify import bootstrap, handlers
    from shared.migrations import upgrade

    upgrade("notify", url)

    def envelopes_of(_round: int) -> list[Any]:
        declarations = [str(uuid.uuid4()) for _ in range(deliveries // 13 + 1)]
        return [
            _stage_changed(
                declaration_id=declarations[n // 13],
                organisation=f"9112010{n % 13 // 4}MA05K1XT13",
                at=f"2026-06-01T09:{n % 13:02d}:00+08:00",
            )
            for n in range(deliveries)
        ]

    return _stage_changes(bootstrap.database(url), "notify", handlers.on_stage_changed, envelopes_of)


def declaration_rounds(url: str, deliveries: int) -> list[float]:
    """Stage changes to a hundred declarations under review, each later than the last."""
    import datetime as dt

    from sqlalchemy import insert

    from bench.orm_get import declaration_row
    from services.declaration import bootstrap, handlers
    from services.declaration.models import Declaration
    from shared.migrations import upgrade

    upgrade("declaration", url)
    db = bootstrap.database(url)
    rows = [declaration_row(n) for n in range(100)]
    for row in rows:
        row.update(status="in_review", live_slot=row["id"], submitted_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    with db.engine.begin() as conn:
        conn.execute(insert(Declaration.__table__), rows)

    def envelopes_of(round_: int) -> list[Any]:
        return [
            _stage_changed(
                stage="department_check",
                declaration_id=rows[n % len(rows)]["id"],
                at=f"2026-06-{round_ + 1:02d}T09:{n // 60 % 60:02d}:{n % 60:02d}+08:00",
            )
            for n in range(deliveries)
        ]

    return _stage_changes(db, "declaration", handlers.on_stage_changed, envelopes_of)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--deliveries", type=int, default=1500, help="deliveries per round")
    parser.add_argument("--postgres", default=os.environ.get("TEST_POSTGRES_URL"), help="admin URL of a server")
    parser.add_argument("--look", action="store_true", help="look in the inbox first (a possible redelivery)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="titles-bench-consumer-"))
    os.environ["TITLES_DATA_DIR"] = str(work)
    os.environ.setdefault("BROKER_URL", f"embedded://{work / 'broker'}")
    import logging

    from sqlalchemy import create_engine, text

    from shared import config

    config.from_environment()
    logging.disable(logging.WARNING)
    print(f"code: {Path(__import__('shared').__file__).resolve().parents[1]}   look first: {args.look}")
    targets = [("sqlite", lambda n: f"sqlite:///{work / f'{n}.db'}")]
    admin = None
    names: list[str] = []
    if args.postgres:
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")

        def scratch(_name: str) -> str:
            name = f"titles_bench_consumer_{uuid.uuid4().hex[:8]}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            names.append(name)
            return f"{args.postgres.rsplit('/', 1)[0]}/{name}"

        targets.append(("postgresql", scratch))
    try:
        for label, url_for in targets:
            for publish in (0, 1, 3):
                figures = rounds(url_for(f"declaration-{publish}"), args.deliveries, publish, args.look)
                print(
                    f"{label:<10} publishing {publish}: "
                    + " / ".join(f"{x:4.0f}" for x in figures)
                    + f" us CPU per delivery (median {sorted(figures)[2]:.0f})"
                )
            for name, measure in (("notify", notify_rounds), ("declaration", declaration_rounds)):
                figures = measure(url_for(f"{name}-stage"), args.deliveries)
                print(
                    f"{label:<10} {name}, a stage change: "
                    + " / ".join(f"{x:4.0f}" for x in figures)
                    + f" us CPU per delivery (median {sorted(figures)[2]:.0f})"
                )
    finally:
        if admin is not None:
            with admin.connect() as conn:
                for name in names:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
