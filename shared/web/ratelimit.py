"""A per-process sliding-window rate limit for public endpoints (keyed by client address).

Configured as ``<count>/<seconds>``. Each process counts on its own, so the
effective limit is multiplied by the number of HTTP workers; a shared limit
(e.g. at the reverse proxy) is the production answer for a whole cluster.
"""
from __future__ import annotations

import threading
import time
from collections import deque


class RateLimiter:
    def __init__(self, spec: str):
        count, _, seconds = spec.partition("/")
        self.limit, self.window = int(count), float(seconds or 60)
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> tuple[bool, int]:
        """Whether one more request from ``key`` is allowed; else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False, max(1, int(hits[0] + self.window - now + 1))
            hits.append(now)
            if len(self._hits) > 10_000:  # forget idle clients so memory stays bounded
                for idle in [k for k, v in self._hits.items() if not v or v[-1] <= now - self.window]:
                    del self._hits[idle]
            return True, 0
