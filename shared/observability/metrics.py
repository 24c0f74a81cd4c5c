"""Prometheus metrics shared by every process of a service.

The HTTP workers, the consumer and the relay of one service are separate
processes; with ``PROMETHEUS_MULTIPROC_DIR`` set (``titles run`` and the
compose file set it per service) their counters are summed at ``/metrics``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily

from shared import config

http_requests = Counter(
    "titles_http_requests_total", "HTTP requests handled", ["service", "method", "endpoint", "status"]
)
http_seconds = Histogram(
    "titles_http_request_seconds",
    "HTTP request duration",
    ["service", "endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
messages_consumed = Counter(
    "titles_messages_consumed_total", "Messages consumed", ["service", "handler", "type", "outcome"]
)
messages_published = Counter("titles_messages_published_total", "Messages published", ["service", "type"])
# The embedded default's capacity: SQLite has one writer at a time per database file, so the share of time a
# file's write lock is held (rate of the held seconds) says how near its writers are to queueing behind each
# other, and the wait says how long they did (bench/results.md, fourteenth session).
sqlite_write_transactions = Counter(
    "titles_sqlite_write_transactions_total", "SQLite write transactions ended (commit or rollback)", ["database"]
)
sqlite_write_lock_held = Counter(
    "titles_sqlite_write_lock_held_seconds_total",
    "Seconds SQLite's write lock was held, from BEGIN IMMEDIATE to the commit or rollback",
    ["database"],
)
sqlite_write_lock_wait = Counter(
    "titles_sqlite_write_lock_wait_seconds_total", "Seconds writers waited for SQLite's write lock", ["database"]
)
SQLITE_LOCKS = (sqlite_write_transactions, sqlite_write_lock_held, sqlite_write_lock_wait)
# CPU seconds by piece of work, read from the clock of the thread that did it: an HTTP request by its endpoint
# (kind "http"), a delivery by its handler ("message"), and each background thread of `titles work` whole
# ("thread": its deliveries, its transport, its idle polling). A sampling profiler of a process whose threads
# pass the interpreter lock around charges one thread's samples to another (bench/results.md, sixteenth
# session); these clocks do not.
cpu_seconds = Counter("titles_cpu_seconds", "CPU seconds of the thread that did the work", ["service", "kind", "name"])


class _BacklogCollector:
    """Outbox backlog read from the database at scrape time (true across processes)."""

    def __init__(self, service: str, backlog: Callable[[], int]):
        self.service = service
        self.backlog = backlog

    def collect(self) -> Iterable[GaugeMetricFamily]:
        gauge = GaugeMetricFamily("titles_outbox_backlog", "Outbox rows not yet published", labels=["service"])
        try:
            gauge.add_metric([self.service], float(self.backlog()))
        except Exception:  # noqa: BLE001 - a scrape must not fail because the database is down
            gauge.add_metric([self.service], float("nan"))
        yield gauge


def render(service: str, backlog: Callable[[], int]) -> bytes:
    registry = CollectorRegistry()
    if config.settings().prometheus_multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        for collector in (
            http_requests,
            http_seconds,
            messages_consumed,
            messages_published,
            cpu_seconds,
            *SQLITE_LOCKS,
        ):
            registry.register(collector)
    registry.register(_BacklogCollector(service, backlog))
    return generate_latest(registry)
