"""What the engine is given by the service that runs it, never imports: the service tasks the
diagrams call, the directory's names for the notices it publishes, and the service operations an
incident's retry re-runs. services/review/bootstrap.py builds them and hands them over with the
database (``EngineDatabase``), so every unit of work the engine runs in carries them (``of``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from services.review.engine import contract
from shared.identity.principal import Principal
from shared.uow import Database, UnitOfWork

# (uow, declaration id, **the task's parameters) -> JSON-serialisable data for the task.
Operation = Callable[..., Any]


@dataclass(frozen=True)
class Ports:
    # A service task's operator id (engine/contract.py OPERATIONS) -> what runs it.
    operations: Mapping[str, Operation]
    # An organisation's name as the directory has it (None when unknown): stage notices name it.
    organisation_name: Callable[[UnitOfWork, str | None], str | None]
    # Complete a task as the person who failed to (uow, principal, task id, decision, reason).
    complete_task: Callable[[UnitOfWork, Principal, str, str, str | None], object]
    # Start the review of a declaration as submitted (a start that failed before an instance existed).
    start_review: Callable[[UnitOfWork, dict[str, Any]], object]

    def __post_init__(self) -> None:
        # Diagrams are validated against the contract's names: each must have its implementation.
        missing, unknown = (
            set(contract.OPERATIONS) - set(self.operations),
            set(self.operations) - set(contract.OPERATIONS),
        )
        if missing or unknown:
            raise ValueError(f"service operations: missing {sorted(missing)}, not in the contract {sorted(unknown)}")


class EngineDatabase(Database):
    """A service's database whose units of work carry the engine's ports."""

    def __init__(self, service: str, url: str, metadata: Any, outbox_model: type, inbox_model: type, ports: Ports):
        super().__init__(service, url, metadata, outbox_model, inbox_model)
        self.ports = ports


def of(uow: UnitOfWork) -> Ports:
    if not isinstance(uow.db, EngineDatabase):
        raise TypeError(
            "the review engine runs in a unit of work of services/review/bootstrap.py's database "
            "(an EngineDatabase, which carries its ports)"
        )
    return uow.db.ports
