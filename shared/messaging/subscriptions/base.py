from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subscription:
    service: str  # the consuming service
    name: str  # the handler's name, unique within the service
    types: tuple[str, ...]
    # For a routed message type (shared/contracts: ``ROUTED_BY``), the values it takes; empty: every value.
    only: tuple[str, ...] = ()

    @property
    def queue(self) -> str:
        return f"{self.service}.{self.name}"
