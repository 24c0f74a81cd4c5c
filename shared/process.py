"""A long-running worker (consumer, relay, scheduler, dispatcher) as a process of its own."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

from shared import gc_tuning
from shared.observability import logging as json_logging


def until_signalled(service: str, work: Callable[[threading.Event], None]) -> None:
    """Run ``work(stop)`` with JSON logs; SIGINT and SIGTERM set ``stop`` so the worker ends its round
    cleanly instead of being cut off mid-transaction."""
    json_logging.configure(service)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    # The worker's modules are imported (``titles work``: every worker's): they live as long as the process.
    gc_tuning.settle()
    work(stop)
