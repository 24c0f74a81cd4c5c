"""The cyclic garbage collector's settings for a long-running process: a web worker, ``titles work``, a
consumer, relay or scheduler of its own.

Python frees most objects when their last reference goes; the collector is for reference cycles, and it
finds them by walking every container object it tracks. A full walk of a service's heap (its imported
modules, SQLAlchemy's mappers, the parsed diagrams: 85,000 to 220,000 objects) took 50-85 ms of CPU, the
interpreter lock held all along, four to six times in each process during a ``make bench`` run: 3-5% of
each process's CPU, and a pause of every thread of the process meanwhile.

What a process made while it started lives as long as it does. ``settle`` runs once the start is over:
it collects what the start left behind, then freezes the rest (``gc.freeze``), so later walks look only
at what was made since; and it lets the youngest generation grow to ``YOUNG`` objects before a walk
instead of 700, so a request's or a delivery's short-lived objects are mostly freed by their reference
counts before any walk looks at them. Cycles are still collected, later.
"""

from __future__ import annotations

import gc

# Container objects allocated (less those freed) before the youngest generation is walked: 700 by default.
YOUNG = 10_000
# Walks of a generation before the next older one is walked too (10 and 10 by default): a full walk now
# looks only at what was made since the freeze, so it may come as often as before.
MIDDLE = 10
OLD = 10


def settle() -> None:
    """Collect what the process's start left, freeze what is left, and walk the young less often.
    Call once, when the process has imported and built what it serves with."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG, MIDDLE, OLD)
