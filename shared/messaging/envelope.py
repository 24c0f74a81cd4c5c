"""One envelope for every message, events and commands alike."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field, fields
from typing import Any

from shared import clock


def _now() -> str:
    return clock.now().isoformat()  # dated as the rows it comes with


@dataclass(frozen=True)
class Envelope:
    type: str  # versioned, e.g. "declaration.submitted.v1"
    source: str  # the producing service
    data: dict[str, Any]
    correlation_id: str | None = None  # the declaration the message is about
    causation_id: str | None = None  # the message that led to this one
    id: str = field(default_factory=lambda: str(uuid.uuid4()))  # also AMQP message_id
    time: str = field(default_factory=_now)

    def to_json(self) -> str:
        # The fields as they are: asdict() would deep-copy the data first, only for json to read it.
        body = {f.name: getattr(self, f.name) for f in fields(self)}
        return json.dumps(body, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, body: str | bytes | dict[str, Any]) -> Envelope:
        raw = body if isinstance(body, dict) else json.loads(body)
        return cls(
            id=raw["id"],
            type=raw["type"],
            source=raw["source"],
            time=raw["time"],
            correlation_id=raw.get("correlation_id"),
            causation_id=raw.get("causation_id"),
            data=raw.get("data") or {},
        )

    def amqp_properties(self) -> dict[str, Any]:
        """Properties that let operators read a message without parsing it."""
        props: dict[str, Any] = {"message_id": self.id, "type": self.type}
        if self.correlation_id:
            props["correlation_id"] = self.correlation_id
        return props
