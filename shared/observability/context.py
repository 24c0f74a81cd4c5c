"""The ids that follow one declaration across services (logs and messages)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
causation_id: ContextVar[str | None] = ContextVar("causation_id", default=None)


@contextlib.contextmanager
def bound(correlation: str | None, causation: str | None = None) -> Iterator[None]:
    tokens = (correlation_id.set(correlation), causation_id.set(causation))
    try:
        yield
    finally:
        correlation_id.reset(tokens[0])
        causation_id.reset(tokens[1])
