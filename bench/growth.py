"""Growth: the task-queue listing and "my declarations" with 1 000, 10 000, 100 000 declarations stored.

Declarations are bulk-loaded with SQL inserts straight into the running system's databases (the
declaration service's ``declarations``; the review service's ``instances`` and ``tasks``), not through
the API, and then measured through the HTTP API as the demo ``unit`` (its task queue) and as an applicant
with five declarations (``GET /api/v1/declarations``).

The loaded population, per declaration ``i``: applicant ``bulk-applicant-{i // 5}``; one of 20 work
units (the demo unit is one, so it holds 1/20 of the declarations); 90 % completed, 10 % in review.
In review: a completed unit check and an open ``unit_recommendation`` task at its unit. Completed: a
completed unit check and a completed title-office filing. Instances carry no state (nothing loads them).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

UNITS = 20
PER_APPLICANT = 5
CHUNK = 5000
TITLE_OFFICE = "11120000000054321L"  # the demo title office (shared/demo/users.json)


def _insert(url: str, table: Any, rows: list[dict[str, Any]]) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for start in range(0, len(rows), CHUNK):
                conn.execute(table.insert(), rows[start : start + CHUNK])
    finally:
        engine.dispose()


def units(demo_unit: str) -> list[str]:
    return [demo_unit] + [f"9112010{n:04d}BULK{n:03d}"[:18] for n in range(1, UNITS)]


def load(declaration_url: str, review_url: str, first: int, last: int, demo_unit: str) -> float:
    """Insert declarations first..last-1 with their review rows; seconds taken."""
    from sqlalchemy import create_engine, select

    from services.declaration.models import Activity, Declaration
    from services.review.models import Definition, Instance, Task

    started = time.perf_counter()
    engine = create_engine(declaration_url)
    with engine.connect() as conn:
        activity = conn.execute(
            select(Activity.id, Activity.committee_code).where(Activity.mode == "social_review").limit(1)
        ).first()
    engine.dispose()
    engine = create_engine(review_url)
    with engine.connect() as conn:
        definition = conn.execute(
            select(Definition.id)
            .where(Definition.process_id == "social_review")
            .order_by(Definition.deployed_at.desc())
            .limit(1)
        ).scalar()
    engine.dispose()
    codes = units(demo_unit)
    base = dt.datetime(2026, 1, 5, tzinfo=dt.UTC)
    declarations, instances, tasks = [], [], []
    for i in range(first, last):
        declaration_id, instance_id = str(uuid.uuid4()), str(uuid.uuid4())
        unit, applicant = codes[i % UNITS], f"bulk-applicant-{i // PER_APPLICANT}"
        created = base + dt.timedelta(seconds=i * 60)
        open_ = (i // UNITS) % 10 == 0  # 10 % of each unit's declarations
        status = "in_review" if open_ else "completed"
        summary = {
            "applicant_name": f"批量申报人{i // PER_APPLICANT}",
            "unit_code": unit,
            "series": "工程",
            "level": "副高级",
            "mode": "social_review",
            "activity_id": activity.id,
        }
        declarations.append(
            {
                "id": declaration_id,
                "applicant": applicant,
                "activity_id": activity.id,
                "mode": "social_review",
                "series": "工程",
                "level": "副高级",
                "specialty": "软件工程",
                "qualification_name": "高级工程师",
                "category": "normal",
                "status": status,
                "live_slot": None,
                "unit_code": unit,
                "snapshot": {"name": summary["applicant_name"], "unit_code": unit},
                "created_at": created,
                "submitted_at": created,
                "updated_at": created,
                "stage": "unit_recommendation" if open_ else "completed",
                "outcome": None if open_ else "certified",
            }
        )
        instances.append(
            {
                "id": instance_id,
                "declaration_id": declaration_id,
                "definition_id": definition,
                "process_id": "social_review",
                "applicant": applicant,
                "status": "running" if open_ else "completed",
                "outcome": None if open_ else "certified",
                "state": "",
                "serializer_version": "bulk",
                "version": 1,
                "created_at": created,
                "updated_at": created,
                "suspended": False,
                "has_incident": False,
                "mode": "social_review",
                "series": "工程",
                "level": "副高级",
                "stage": "unit_recommendation" if open_ else "completed",
            }
        )
        common = {
            "instance_id": instance_id,
            "declaration_id": declaration_id,
            "summary": summary,
            "activity_id": activity.id,
            "series": "工程",
            "level": "副高级",
            "applicant": applicant,
            "applicant_name": summary["applicant_name"],
            "assignee": None,
            "claimed_by": None,
            "reason": None,
            "due_at": None,
            "overdue_at": None,
            "escalated_to": None,
        }
        tasks.append(
            {
                **common,
                "id": str(uuid.uuid4()),
                "bpmn_id": "unit_check",
                "name": "Unit check (单位审核)",
                "role": "unit",
                "organisation": unit,
                "decisions": "approve,return",
                "status": "completed",
                "stage": "unit_check",
                "created_at": created,
                "completed_at": created,
                "completed_by": "bulk",
                "decision": "approve",
            }
        )
        if open_:
            tasks.append(
                {
                    **common,
                    "id": str(uuid.uuid4()),
                    "bpmn_id": "unit_recommendation",
                    "name": "Record the recommendation committee's result (推荐委员会评议)",
                    "role": "unit",
                    "organisation": unit,
                    "decisions": "recommend,not_recommend",
                    "status": "ready",
                    "stage": "unit_recommendation",
                    "created_at": created,
                    "completed_at": None,
                    "completed_by": None,
                    "decision": None,
                }
            )
        else:
            tasks.append(
                {
                    **common,
                    "id": str(uuid.uuid4()),
                    "bpmn_id": "title_office_filing",
                    "name": "Title office filing (市职称办备案)",
                    "role": "title_office",
                    "organisation": TITLE_OFFICE,
                    "decisions": "approve",
                    "status": "completed",
                    "stage": "title_office_filing",
                    "created_at": created,
                    "completed_at": created,
                    "completed_by": "bulk",
                    "decision": "approve",
                }
            )
    _insert(declaration_url, Declaration.__table__, declarations)
    _insert(review_url, Instance.__table__, instances)
    _insert(review_url, Task.__table__, tasks)
    for url, tables in ((declaration_url, ("declarations",)), (review_url, ("instances", "tasks"))):
        _analyze(url, tables)
    return time.perf_counter() - started


def _analyze(url: str, tables: tuple[str, ...]) -> None:
    """On PostgreSQL, fresh statistics, as autovacuum would gather within a minute of a bulk load (the
    embedded SQLite never runs ANALYZE, so it is left with its defaults there too)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        if engine.dialect.name == "postgresql":
            with engine.connect() as conn:
                for table in tables:
                    conn.execute(text(f"ANALYZE {table}"))
    finally:
        engine.dispose()


def timed(call: Callable[[], Any], requests: int) -> list[float]:
    out = []
    call()  # one untimed request: connection, caches
    for _ in range(requests):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def explain(declaration_url: str, review_url: str, demo_unit: str) -> dict[str, str]:
    """Query plans of the two listings' queries (the count and the page), as the services issue them."""
    from sqlalchemy import create_engine, text

    queries = {
        "task-queue listing": (
            review_url,
            "SELECT * FROM tasks WHERE role = 'unit' AND organisation = :unit "
            "AND status IN ('ready', 'claimed') ORDER BY created_at, id LIMIT 20",
        ),
        "my declarations": (
            declaration_url,
            "SELECT * FROM declarations WHERE applicant = 'bulk-applicant-0' ORDER BY created_at DESC, id LIMIT 20",
        ),
    }
    plans = {}
    for label, (url, sql) in queries.items():
        engine = create_engine(url)
        prefix = "EXPLAIN ANALYZE " if engine.dialect.name == "postgresql" else "EXPLAIN QUERY PLAN "
        with engine.connect() as conn:
            rows = conn.execute(text(prefix + sql), {"unit": demo_unit}).all()
        engine.dispose()
        plans[label] = "\n".join(str(r[-1]) for r in rows)
    return plans
