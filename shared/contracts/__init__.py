"""Message contracts: one marshmallow schema per message type and version.

Producers validate strictly (unknown fields are an error: the contract is the
whole truth); consumers ignore fields they do not know, so a producer can add
a field without breaking anyone. A breaking change is a new version
(``.v2``) published beside the old one until every consumer has moved.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError

from shared.contracts import certificate, declaration, notify, profile, review

Kind = Literal["event", "command"]


@dataclass(frozen=True)
class Contract:
    type: str
    kind: Kind
    schema: type[Schema]

    @property
    def owner(self) -> str:
        """The service that publishes the event, or that executes the command."""
        return self.type.split(".", 1)[0]

    @property
    def exchange(self) -> str:
        return f"{self.owner}.{'events' if self.kind == 'event' else 'commands'}"


class ContractViolation(ValueError):
    def __init__(self, message_type: str, errors: Any):
        super().__init__(f"{message_type}: {errors}")
        self.message_type = message_type
        self.errors = errors


CONTRACTS: dict[str, Contract] = {}


def _register(kind: Kind, module: Any) -> None:
    for message_type, schema in module.SCHEMAS.items():
        CONTRACTS[message_type] = Contract(message_type, kind, schema)


for _module in (profile, declaration, review, certificate, notify):
    _register("event", _module.Events)
    _register("command", _module.Commands)


def contract(message_type: str) -> Contract:
    try:
        return CONTRACTS[message_type]
    except KeyError:
        raise ContractViolation(message_type, "unknown message type") from None


def validate_outgoing(message_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Strict check for producers; returns the data unchanged."""
    errors = contract(message_type).schema(unknown=RAISE).validate(data)
    if errors:
        raise ContractViolation(message_type, errors)
    return data


def load_incoming(message_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Tolerant read for consumers: unknown fields are dropped."""
    try:
        return contract(message_type).schema(unknown=EXCLUDE).load(data)
    except ValidationError as exc:
        raise ContractViolation(message_type, exc.messages) from exc
