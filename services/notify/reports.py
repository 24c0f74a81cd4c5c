"""Reports (举报) about declarations under publicity: filed by anyone, answered by the
organisation running the publicity (through the review service), looked up by reference.

Whether a publicity runs is the review service's to know: its stage messages reach this service a
moment later, so judging by them would tell someone filing right after a publicity starts that there
is none. A report is therefore taken for any declaration under review here, and the review service
answers it: it becomes an objection to the running publicity, or is answered at once that no
publicity is running (``review.objection.resolved.v1``).
"""

from __future__ import annotations

import datetime as dt
import secrets

from services.notify import service
from services.notify.models import DeclarationReplica, Report
from shared.contracts.notify import ReportFiled
from shared.contracts.review import ObjectionResolved
from shared.db import utcnow
from shared.errors import DomainError, NotFound
from shared.uow import UnitOfWork

REFERENCE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def new_reference(now: dt.datetime) -> str:
    # Date for people, 10 random characters (50 bits) so references cannot be guessed.
    return "JB" + now.strftime("%Y%m%d") + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(10))


def file(uow: UnitOfWork, declaration_id: str, content: str, reporter: str | None) -> Report:
    content = content.strip()
    if not content:
        raise DomainError.on("content", "required", "the report needs a content (举报内容)")
    replica = uow.session.get(DeclarationReplica, declaration_id)
    if replica is None:
        raise DomainError.on(
            "declaration_id",
            "submitted_declaration",
            "reports are taken about a declaration under review; no such declaration is known (未找到该申报)",
        )
    if replica.stage == service.ENDED:
        raise DomainError.on(
            "declaration_id",
            "under_review",
            "the review of this declaration has ended, so no publicity runs for it (该申报评审已结束，不在公示期)",
        )
    now = utcnow()
    report = Report(
        reference=new_reference(now),
        declaration_id=declaration_id,
        content=content,
        reporter=reporter,
        filed_at=now,
        status="pending",
    )
    uow.session.add(report)
    uow.session.flush()
    uow.publish(
        ReportFiled(
            reference=report.reference,
            declaration_id=declaration_id,
            content=content,
            reporter=reporter,
            filed_at=now.isoformat(),
        ),
        correlation_id=declaration_id,
    )
    return report


def lookup(uow: UnitOfWork, reference: str) -> Report:
    report = uow.session.get(Report, reference.strip().upper())
    if report is None:
        raise NotFound("no report has this reference (未找到该举报)")
    return report


def answer(uow: UnitOfWork, resolved: ObjectionResolved) -> None:
    """The review service resolved the objection a report became; tell the reporter."""
    reference = resolved.report_reference
    if not reference:
        return  # an objection raised some other way: no reporter here to answer
    report = uow.session.get(Report, reference)
    if report is None or report.status == "answered":
        return
    report.status, report.upheld, report.resolution = "answered", resolved.upheld, resolved.resolution
    report.organisation = resolved.organisation
    report.answered_at = dt.datetime.fromisoformat(resolved.at) if resolved.at else utcnow()
    if report.reporter:
        service.deliver(
            uow,
            report.reporter,
            "report_feedback",
            {
                "declaration_id": None,
                "report_reference": reference,
                "upheld": resolved.upheld,
                "resolution": resolved.resolution,
            },
        )
