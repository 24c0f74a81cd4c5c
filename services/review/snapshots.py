"""The declaration as the review received it (as of each submission), for task views."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from services.review.models import Submission, Task
from shared.contracts.declaration import Submitted
from shared.uow import UnitOfWork

SUBMISSIONS = ("declaration.submitted.v1", "declaration.resubmitted.v1")


def recording(handlers: dict[str, Callable[..., None]]) -> dict[str, Callable[..., None]]:
    """Handlers that also keep each submission's content beside what they do."""

    def wrap(handler: Callable[..., None]) -> Callable[..., None]:
        def run(uow: UnitOfWork, envelope: Any, submitted: Submitted) -> None:
            uow.session.add(
                Submission(declaration_id=submitted.declaration_id, message_id=envelope.id, content=submitted.dump())
            )
            handler(uow, envelope, submitted)

        run.__name__ = getattr(handler, "__name__", "handler")
        return run

    return {t: wrap(h) if t in SUBMISSIONS else h for t, h in handlers.items()}


def as_of(uow: UnitOfWork, task: Task) -> dict[str, Any] | None:
    """The content of the submission the task is about: the latest one before it opened."""
    found = uow.session.scalar(
        select(Submission)
        .where(Submission.declaration_id == task.declaration_id, Submission.received_at <= task.created_at)
        .order_by(Submission.received_at.desc(), Submission.id.desc())
        .limit(1)
    )
    if found is None:
        found = uow.session.scalar(
            select(Submission)
            .where(Submission.declaration_id == task.declaration_id)
            .order_by(Submission.id.desc())
            .limit(1)
        )
    return None if found is None else {"received_at": found.received_at.isoformat(), "content": found.content}
