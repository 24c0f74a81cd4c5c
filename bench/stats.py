"""Percentiles as every part of the bench reports them."""

from __future__ import annotations

import statistics


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if len(values) < 2:
        return {"n": len(values), "p50": values[0] if values else None, "p95": None, "p99": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"n": len(values), "p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}
