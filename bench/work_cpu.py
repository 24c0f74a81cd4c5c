"""What each piece of work cost during a closed-loop level, in CPU on the thread that did it.

Every process counts ``titles_cpu_seconds{service, kind, name}`` (shared/observability/metrics.py): an HTTP
request by method and endpoint, a delivery by its handler, and each background thread of ``titles work``
whole. Under ``titles run`` one service's ``/metrics`` sums every process's (as bench/locks.py reads it).
The difference of two scrapes, over the level's lifecycles, is the CPU a lifecycle spent on each; with the
requests and deliveries counted beside it (``titles_http_requests_total``, ``titles_messages_consumed_total``),
what each one cost. Unlike a sampling profile of a process whose threads pass the interpreter lock around,
these clocks charge no thread for another's work.
"""

from __future__ import annotations

import re
from typing import Any

from bench import scrape

_SAMPLE = re.compile(
    r"^(titles_cpu_seconds_total|titles_http_requests_total|titles_messages_consumed_total)\{(.*)\} (\S+)$",
    re.MULTILINE,
)
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')

Key = tuple[str, str, str]  # kind, service, name


def parse(text: str) -> dict[str, dict[Key, float]]:
    """{"cpu": {(kind, service, name): seconds}, "count": {(kind, service, name): requests or deliveries}}."""
    found: dict[str, dict[Key, float]] = {"cpu": {}, "count": {}}
    for metric, labels, value in _SAMPLE.findall(text):
        label = {k: v.replace('\\"', '"').replace("\\\\", "\\") for k, v in _LABEL.findall(labels)}
        if metric == "titles_cpu_seconds_total":
            key, into = (label.get("kind", ""), label.get("service", ""), label.get("name", "")), "cpu"
        elif metric == "titles_http_requests_total":
            key, into = ("http", label.get("service", ""), f"{label.get('method')} {label.get('endpoint')}"), "count"
        else:
            key, into = ("message", label.get("service", ""), label.get("handler", "")), "count"
        found[into][key] = found[into].get(key, 0.0) + float(value)
    return found


def snapshot(service: str = "review") -> dict[str, dict[Key, float]]:
    """``parse`` of the service's ``/metrics`` now: empty where it does not answer."""
    return parse(scrape.metrics_text(service))


def difference(
    before: dict[str, dict[Key, float]], after: dict[str, dict[Key, float]], lifecycles: int
) -> list[dict[str, Any]]:
    """Each piece of work that spent CPU in the window, most first: kind, service, name, CPU ms a lifecycle,
    how many a lifecycle (requests, deliveries; none for a thread) and ms each."""
    per = max(lifecycles, 1)
    rows = []
    for key, seconds in after["cpu"].items():
        spent = seconds - before["cpu"].get(key, 0.0)
        if spent <= 0:
            continue
        kind, service, name = key
        count = after["count"].get(key, 0.0) - before["count"].get(key, 0.0) if kind != "thread" else 0.0
        rows.append(
            {
                "kind": kind,
                "service": service,
                "name": name,
                "ms_per_lifecycle": spent * 1000 / per,
                "per_lifecycle": count / per if count > 0 else None,
                "ms_each": spent * 1000 / count if count > 0 else None,
            }
        )
    return sorted(rows, key=lambda row: -row["ms_per_lifecycle"])
