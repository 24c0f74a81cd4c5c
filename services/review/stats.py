"""Statistics for the title office (everything) and each organisation (its own scope).

Plain grouped queries on the instance and task tables, which carry mode,
series, level and stage as columns; no instance is deserialised. The scope of
an organisation is the declarations that passed through it (it had a task).
"""

from __future__ import annotations

import math
from typing import Any

from sqlalchemy import case, func, select

from services.review.models import Instance, Task
from shared.contracts.review import PASSED
from shared.identity.principal import Principal
from shared.uow import UnitOfWork


def _scope(principal: Principal) -> Any:
    if principal.role == "title_office":
        return None
    return Instance.declaration_id.in_(select(Task.declaration_id).where(Task.organisation == principal.organisation))


def _percentile(sorted_values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (the value at or below which that fraction of the values lie)."""
    if not sorted_values:
        return None
    return sorted_values[max(0, math.ceil(fraction * len(sorted_values)) - 1)]


def statistics(uow: UnitOfWork, principal: Principal, filters: dict[str, Any]) -> dict[str, Any]:
    scope = _scope(principal)
    where = [c for c in (scope,) if c is not None]
    for key in ("mode", "series", "level"):
        if filters.get(key):
            where.append(getattr(Instance, key) == filters[key])

    def grouped(column: Any) -> dict[str, int]:
        rows = uow.session.execute(select(column, func.count()).where(*where).group_by(column))
        return {str(key): count for key, count in rows}

    def pass_rates(column: Any) -> dict[str, dict[str, Any]]:
        passed = func.sum(case((Instance.outcome.in_(sorted(PASSED)), 1), else_=0))
        rows = uow.session.execute(
            select(column, func.count(), passed).where(*where, Instance.status == "completed").group_by(column)
        )
        return {
            str(key): {
                "decided": decided,
                "passed": int(ok or 0),
                "rate": round(int(ok or 0) / decided, 4) if decided else None,
            }
            for key, decided, ok in rows
        }

    total = uow.session.scalar(select(func.count()).select_from(Instance).where(*where)) or 0
    return {
        "scope": "all" if scope is None else principal.organisation,
        "declarations": total,
        "by_stage": grouped(Instance.stage),
        "by_mode": grouped(Instance.mode),
        "by_series": grouped(Instance.series),
        "by_level": grouped(Instance.level),
        "by_status": grouped(Instance.status),
        "pass_rates": {
            "overall": pass_rates(Instance.process_id),
            "by_mode": pass_rates(Instance.mode),
            "by_series": pass_rates(Instance.series),
            "by_level": pass_rates(Instance.level),
        },
        "time_in_stage": time_in_stage(uow, principal, filters),
    }


def time_in_stage(uow: UnitOfWork, principal: Principal, filters: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Hours from a task's opening to its completion, per stage: count, median, 90th percentile."""
    query = select(Task.stage, Task.bpmn_id, Task.created_at, Task.completed_at).where(
        Task.status == "completed", Task.completed_at.is_not(None)
    )
    if principal.role != "title_office":
        query = query.where(Task.organisation == principal.organisation)
    for key in ("series", "level"):
        if filters.get(key):
            query = query.where(getattr(Task, key) == filters[key])
    if filters.get("mode"):
        query = query.where(Task.instance_id.in_(select(Instance.id).where(Instance.mode == filters["mode"])))
    durations: dict[str, list[float]] = {}
    for stage, bpmn_id, opened, closed in uow.session.execute(query):
        if closed is None:  # (the query asks for completed tasks only)
            continue
        durations.setdefault(stage or bpmn_id, []).append((closed - opened).total_seconds() / 3600)
    out = {}
    for stage, values in sorted(durations.items()):
        values.sort()
        out[stage] = {
            "tasks": len(values),
            "median_hours": round(_percentile(values, 0.5) or 0, 3),
            "p90_hours": round(_percentile(values, 0.9) or 0, 3),
        }
    return out
