"""A per-process sliding-window rate limit for public endpoints (keyed by client address).

Configured as ``<count>/<seconds>``. Each process counts on its own, so the
effective limit is multiplied by the number of HTTP workers; a shared limit
(e.g. at the reverse proxy) is the production answer for a whole cluster.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from flask import current_app, request
from flask_smorest import abort

from shared import config

View = Callable[..., Any]


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


def limiter(name: str, setting: str, default: str) -> RateLimiter:
    """The app's one counter called ``name`` (kept in ``app.extensions``; removing it there starts
    afresh), made on first use from the setting ``setting`` (``<count>/<seconds>``, else ``default``;
    shared/config.py): every endpoint naming it shares it."""
    found = current_app.extensions.get(name)
    if found is None:
        found = current_app.extensions[name] = RateLimiter(config.settings().rate_limit(setting, default))
    return found


def rate_limited(
    name: str,
    setting: str,
    default: str,
    message: str = "too many requests; try again later (操作过于频繁，请稍后再试)",
) -> Callable[[View], View]:
    """View decorator: each client address gets ``limiter(name, ...)``'s allowance; past it the
    answer is 429 with ``Retry-After``."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            allowed, wait = limiter(name, setting, default).allow(request.remote_addr or "unknown")
            if not allowed:
                abort(429, message=message, headers={"Retry-After": str(wait)})
            return view(*args, **kwargs)

        return wrapper

    return decorator
