"""Message contracts: one class per message type and version (see ``message.py``).

Producers validate strictly (unknown fields are an error: the contract is the
whole truth); consumers ignore fields they do not know, so a producer can add
a field without breaking anyone. A breaking change is a new version
(``.v2``) published beside the old one until every consumer has moved.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, Schema
from marshmallow.types import UnknownOption

from shared.contracts import certificate, declaration, notify, profile, review
from shared.contracts.message import ContractViolation, Kind, Message

__all__ = [
    "CONTRACTS",
    "Contract",
    "ContractViolation",
    "Kind",
    "Message",
    "contract",
    "load_incoming",
    "validate_outgoing",
]


@dataclass(frozen=True)
class Contract:
    type: str
    kind: Kind
    message: builtins.type[Message]  # (``type`` here is the field above)

    @property
    def owner(self) -> str:
        """The service that publishes the event, or that executes the command."""
        return self.type.split(".", 1)[0]

    @property
    def exchange(self) -> str:
        return f"{self.owner}.{'events' if self.kind == 'event' else 'commands'}"

    def schema(self, unknown: UnknownOption = RAISE) -> Schema:
        return self.message.schema(unknown)


CONTRACTS: dict[str, Contract] = {
    cls.TYPE: Contract(cls.TYPE, cls.KIND, cls)
    for module in (profile, declaration, review, certificate, notify)
    for cls in module.MESSAGES
}


def contract(message_type: str) -> Contract:
    try:
        return CONTRACTS[message_type]
    except KeyError:
        raise ContractViolation(message_type, "unknown message type") from None


def validate_outgoing(message_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """Strict check of a message's wire data; returns the data unchanged."""
    errors = contract(message_type).schema(RAISE).validate(data)
    if errors:
        raise ContractViolation(message_type, errors)
    return data


def load_incoming(message_type: str, data: dict[str, Any]) -> Message:
    """Tolerant read for consumers: the typed message, unknown fields dropped."""
    return contract(message_type).message.load(data)
