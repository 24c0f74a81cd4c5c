"""Errors the service layers raise; the web layer turns them into problem details.

Domain code knows nothing of HTTP: it says what rule failed on which field,
and the status follows from the kind of error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self


@dataclass(frozen=True)
class FieldError:
    field: str
    rule: str
    message: str  # English, with the Chinese term the user sees


class DomainError(Exception):
    """A request that breaks a rule (HTTP 422)."""

    status = 422
    title = "Request breaks a rule"

    def __init__(self, message: str, errors: list[FieldError] | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or []

    @classmethod
    def on(cls, field: str, rule: str, message: str) -> Self:
        return cls(message, [FieldError(field, rule, message)])


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    """The request is valid but the resource's state does not allow it (HTTP 409)."""

    status = 409
    title = "Conflict with the current state"


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"
