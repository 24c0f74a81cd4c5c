"""One service's ``/metrics`` as text. Under ``titles run`` one service's page sums every process's counters, so
one scrape serves every figure read from it (bench/locks.py, bench/work_cpu.py)."""

from __future__ import annotations

import urllib.request

from shared import config


def metrics_text(service: str = "review") -> str:
    """The page; empty where ``/metrics`` does not answer (the figures read from it are then empty, and the
    level's other figures still count)."""
    try:
        with urllib.request.urlopen(config.service_url(service).rstrip("/") + "/metrics", timeout=10) as response:
            text: str = response.read().decode()
            return text
    except OSError:
        return ""
