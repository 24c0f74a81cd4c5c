"""A declaration's lifecycle: its statuses and the one table of what may happen in each.

The service asks the table before it acts (``can``) and moves a declaration only through it
(``move``), so a status changes in one way only; the API shows what the service computes from it
(``withdrawable``).
"""

from __future__ import annotations

import enum
from typing import Protocol


class DeclarationStatus(enum.StrEnum):
    PREPARING = "preparing"  # waiting for the profile service's snapshot of the applicant
    DRAFT = "draft"
    REFUSED = "refused"  # the snapshot was refused, or the applicant may not declare in this activity
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    RETURNED = "returned"  # to the applicant, for revision (退回修改)
    COMPLETED = "completed"  # the review ended, with its outcome
    WITHDRAWN = "withdrawn"  # by the applicant (撤回)
    DISCARDED = "discarded"  # a draft given up (废弃)


S = DeclarationStatus

# status -> what may happen to it -> the status it leads to. What is not here is refused.
TRANSITIONS: dict[DeclarationStatus, dict[str, DeclarationStatus]] = {
    S.PREPARING: {"accept_snapshot": S.DRAFT, "refuse": S.REFUSED, "discard": S.DISCARDED},
    S.DRAFT: {"edit": S.DRAFT, "submit": S.SUBMITTED, "discard": S.DISCARDED},
    S.RETURNED: {"edit": S.RETURNED, "submit": S.SUBMITTED, "complete": S.COMPLETED},
    S.SUBMITTED: {"reach_stage": S.IN_REVIEW, "return": S.RETURNED, "withdraw": S.WITHDRAWN, "complete": S.COMPLETED},
    # the vote failed: the applicant may ask for re-examination (复查) while the review waits
    S.IN_REVIEW: {
        "reach_stage": S.IN_REVIEW,
        "return": S.RETURNED,
        "withdraw": S.WITHDRAWN,
        "complete": S.COMPLETED,
        "request_re_examination": S.IN_REVIEW,
    },
    S.REFUSED: {},
    S.COMPLETED: {},
    S.WITHDRAWN: {},
    S.DISCARDED: {},
}
START = S.PREPARING
EVENTS = frozenset(event for moves in TRANSITIONS.values() for event in moves)


class HasStatus(Protocol):
    status: str


def can(status: str, event: str) -> bool:
    return event in TRANSITIONS[DeclarationStatus(status)]


def move(declaration: HasStatus, event: str) -> None:
    """The declaration's next status for ``event``; the caller has asked ``can`` (a refusal is its own)."""
    if event not in EVENTS:
        raise ValueError(f"{event!r} is no event of a declaration's lifecycle")
    moves = TRANSITIONS[DeclarationStatus(declaration.status)]
    if event not in moves:
        raise ValueError(f"a {declaration.status} declaration cannot {event}")
    declaration.status = moves[event].value
