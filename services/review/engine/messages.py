"""How BPMN messages map to the system's messages.

A diagram throws a message by name (``certificate.issue``); the runtime turns
it into the command or event of that name and version, written to the
outbox. Messages from other services arrive as BPMN messages the instance
waits for, routed by declaration id.
"""

from __future__ import annotations

# BPMN message thrown by a diagram -> message type published.
OUTBOUND: dict[str, str] = {
    "certificate.issue": "certificate.issue.v1",
    "declaration.return_for_revision": "declaration.return_for_revision.v1",
    # Re-examination (复查, bpmn/re_examination.bpmn): the applicant may ask until a time; the decision.
    "review.re_examination_open": "review.re_examination.opened.v1",
    "review.re_examination_decided": "review.re_examination.decided.v1",
}

# Message type consumed -> BPMN message name delivered to the waiting instance.
INBOUND_BY_TYPE: dict[str, str] = {
    "certificate.issued.v1": "certificate.issued",
    "declaration.resubmitted.v1": "declaration.resubmitted",
    "declaration.withdrawn.v1": "declaration.withdrawn",
    "declaration.re_examination.requested.v1": "declaration.re_examination_requested",
    # Not from the broker: the review service itself delivers it, under the instance lock, when the last
    # open objection to a publicity is resolved (services/review/publicity.py).
    "review.objections.resolved": "review.objections_resolved",
}
INBOUND: dict[str, str] = {name: type_ for type_, name in INBOUND_BY_TYPE.items()}
