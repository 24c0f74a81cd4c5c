"""The base of every message class: a frozen dataclass that knows its type and its schema.

A contract is a dataclass whose fields carry their marshmallow field (see ``fields.py``), so the
schema marshmallow-dataclass derives from it checks the wire exactly as a hand-written one would.
Producers build the class and ``dump`` it (strictly validated); consumers ``load`` it, ignoring
fields they do not know, so a producer can add a field without breaking anyone.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar, Literal, TypeVar

import marshmallow_dataclass
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError
from marshmallow.types import UnknownOption

Kind = Literal["event", "command"]
D = TypeVar("D", bound="Data")


class ContractViolation(ValueError):
    def __init__(self, message_type: str, errors: Any):
        super().__init__(f"{message_type}: {errors}")
        self.message_type = message_type
        self.errors = errors


_SCHEMAS: dict[type[Any], type[Schema]] = {}
_INSTANCES: dict[tuple[type[Any], str], Schema] = {}


def schema_class(cls: type[Any]) -> type[Schema]:
    """The schema derived from a message class, derived once (a race derives it twice, harmlessly)."""
    found = _SCHEMAS.get(cls)
    if found is None:
        found = _SCHEMAS[cls] = marshmallow_dataclass.class_schema(cls)
    return found


class Data:
    """A dataclass read and written through the schema marshmallow-dataclass derives from it."""

    @classmethod
    def schema(cls, unknown: UnknownOption = EXCLUDE) -> Schema:
        """One schema instance per class and ``unknown`` option, built once: building one copies every
        field, and a schema keeps no state between loads and dumps."""
        found = _INSTANCES.get((cls, unknown))
        if found is None:
            found = _INSTANCES[(cls, unknown)] = schema_class(cls)(unknown=unknown)
        return found

    @classmethod
    def load(cls: type[D], data: dict[str, Any], strict: bool = False) -> D:
        """From wire data: tolerant for consumers (unknown fields dropped), strict for data a producer
        hands over as it is (a diagram's payload)."""
        try:
            loaded: D = cls.schema(RAISE if strict else EXCLUDE).load(data)
        except ValidationError as exc:
            raise ContractViolation(_name(cls), exc.messages) from exc
        return loaded

    def dump(self) -> dict[str, Any]:
        """The wire data (plain JSON), checked strictly: the contract is the whole truth."""
        data: dict[str, Any] = self.schema().dump(self)
        errors = self.schema(RAISE).validate(data)
        if errors:
            raise ContractViolation(_name(type(self)), errors)
        return data

    def values(self) -> dict[str, Any]:
        """The fields as Python values (nested parts as dicts), e.g. for a notice's template."""
        values: dict[str, Any] = dataclasses.asdict(self)  # type: ignore[call-overload]
        return values


def _name(cls: type) -> str:
    return getattr(cls, "TYPE", cls.__name__)


class Message(Data):
    """A message of one type and version (``TYPE``), an event or a command (``KIND``)."""

    TYPE: ClassVar[str]
    KIND: ClassVar[Kind]
    # A field whose value the routing key carries after the type (``<type>.<value>``), so that a
    # subscription can take only some values (shared/messaging/subscriptions: ``only``) and the broker
    # never hands it the others: a consumer that would look at a message and do nothing still pays a
    # delivery and a transaction for it.
    ROUTED_BY: ClassVar[str | None] = None

    def routing_key(self) -> str:
        """``TYPE``, or ``TYPE.<value>`` for a routed message. A value that is not one topic word (letters,
        digits, ``_``, ``-``; at most 40 of them, the outbox's column being 100 long) routes as ``TYPE._``, which
        only a subscription to every value takes."""
        if self.ROUTED_BY is None:
            return self.TYPE
        value = str(getattr(self, self.ROUTED_BY))
        return f"{self.TYPE}.{value if TOPIC_WORD.fullmatch(value) else '_'}"


TOPIC_WORD = re.compile(r"[A-Za-z0-9_-]{1,40}")


class Event(Message):
    KIND: ClassVar[Kind] = "event"


class Command(Message):
    KIND: ClassVar[Kind] = "command"
