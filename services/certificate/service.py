"""The certificate service layer: issuing idempotently, the signed PDF, revocation, reading."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
import uuid
from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, select

from services.certificate import pdf, signing
from services.certificate.models import Certificate, CertificateDocument
from services.certificate.numbering import authority, next_number, number_pattern  # noqa: F401 - re-exported
from services.certificate.verification import verification_url, verify  # noqa: F401 - re-exported
from shared import clock
from shared.contracts.certificate import Issue, Issued, Revoked
from shared.db import utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identifiers import mask_id_number  # noqa: F401 - re-exported for the API
from shared.identity.principal import Principal
from shared.uow import UnitOfWork

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud safely


def beijing_today() -> dt.date:
    return clock.today()  # the system's clock: a certificate is dated as the rest of the process


def issue(uow: UnitOfWork, command: Issue) -> Certificate | None:
    """Issue the certificate for a declaration; None if it already has one."""
    existing = uow.session.scalar(select(Certificate).where(Certificate.declaration_id == command.declaration_id))
    if existing is not None:
        return None
    issued_on = beijing_today()
    certificate = Certificate(
        id=str(uuid.uuid4()),
        number=next_number(uow, issued_on.year),
        declaration_id=command.declaration_id,
        holder=command.holder,
        holder_name=command.holder_name,
        id_number=command.id_number,
        series=command.series,
        level=command.level,
        specialty=command.specialty,
        qualification_name=command.qualification_name,
        mode=command.mode,
        committee_name=command.committee_name,
        approved_on=dt.date.fromisoformat(command.approved_on),
        issued_on=issued_on,
        verification_code="".join(secrets.choice(CODE_ALPHABET) for _ in range(8)),
        status="valid",
    )
    uow.session.add(certificate)
    uow.session.flush()  # the unique declaration_id catches a concurrent twin here
    document = signing.sign(pdf.render(face_of(certificate)))
    uow.session.add(
        CertificateDocument(certificate_id=certificate.id, pdf=document, sha256=hashlib.sha256(document).hexdigest())
    )
    uow.publish(
        Issued(
            certificate_id=certificate.id,
            number=certificate.number,
            declaration_id=certificate.declaration_id,
            holder=certificate.holder,
            holder_name=certificate.holder_name,
            series=certificate.series,
            level=certificate.level,
            specialty=certificate.specialty,
            qualification_name=certificate.qualification_name,
            issued_on=certificate.issued_on.isoformat(),
        ),
        correlation_id=certificate.declaration_id,
    )
    return certificate


def face_of(certificate: Certificate) -> pdf.CertificateFace:
    return pdf.CertificateFace(
        number=certificate.number,
        holder_name=certificate.holder_name,
        id_number=certificate.id_number,
        series=certificate.series,
        level=certificate.level,
        specialty=certificate.specialty,
        qualification_name=certificate.qualification_name,
        mode=certificate.mode,
        committee_name=certificate.committee_name,
        approved_on=certificate.approved_on,
        issued_on=certificate.issued_on,
        verification_code=certificate.verification_code,
        verification_url=verification_url(certificate.number, certificate.verification_code),
    )


def of_holder(uow: UnitOfWork, subject: str) -> list[Certificate]:
    return list(uow.session.scalars(_statements().of_holder, {"holder": subject}))


def by_number(uow: UnitOfWork, number: str) -> Certificate:
    found = uow.session.scalar(_statements().by_number, {"number": number})
    if found is None:
        raise NotFound.on("number", "exists", f"certificate {number} does not exist (证书不存在)")
    return found


class _Statements(NamedTuple):
    of_holder: Select[Any]
    by_number: Select[Any]


@functools.cache
def _statements() -> _Statements:
    """Built once: the holder's page polls its certificates until the new one is there."""
    return _Statements(
        of_holder=select(Certificate)
        .where(Certificate.holder == bindparam("holder"))
        .order_by(Certificate.issued_on.desc(), Certificate.number.desc()),
        by_number=select(Certificate).where(Certificate.number == bindparam("number")),
    )


def readable(uow: UnitOfWork, principal: Principal, number: str) -> Certificate:
    """A certificate its holder (or the title office that issued it) may see."""
    certificate = by_number(uow, number)
    if principal.role != "title_office" and certificate.holder != principal.subject:
        # Someone else's certificate looks like no certificate at all.
        raise NotFound.on("number", "exists", f"certificate {number} does not exist (证书不存在)")
    return certificate


def document(uow: UnitOfWork, principal: Principal, number: str) -> tuple[Certificate, bytes]:
    """The signed PDF, for its holder (and the title office that issued it)."""
    certificate = readable(uow, principal, number)
    stored = uow.session.get(CertificateDocument, certificate.id)
    if stored is None:
        raise NotFound.on("number", "document", "the certificate has no document yet (证书文件不存在)")
    return certificate, stored.pdf


REVOCATION_KINDS = ("fraud", "other")  # fraud bars the holder from declaring for 3 years (诚信档案)


def revoke(uow: UnitOfWork, principal: Principal, number: str, reason: str, kind: str = "other") -> Certificate:
    if principal.role != "title_office":
        raise Forbidden.on("number", "title_office", "only the title office revokes a certificate (撤销证书)")
    reason = (reason or "").strip()
    if not reason:
        raise DomainError.on("reason", "required", "a revocation needs a reason (撤销原因)")
    if kind not in REVOCATION_KINDS:
        raise DomainError.on(
            "reason_kind",
            "one_of",
            f"the reason kind is one of {', '.join(REVOCATION_KINDS)} (撤销原因类别: 弄虚作假 / 其他)",
        )
    certificate = uow.session.scalar(select(Certificate).where(Certificate.number == number).with_for_update())
    if certificate is None:
        raise NotFound.on("number", "exists", f"certificate {number} does not exist (证书不存在)")
    if certificate.status == "revoked":
        raise Conflict.on("number", "not_revoked", f"certificate {number} is already revoked (证书已撤销)")
    certificate.status = "revoked"
    certificate.revoked_reason = reason
    certificate.revoked_at = utcnow()
    certificate.revoked_by = principal.subject
    certificate.revoked_kind = kind
    uow.session.flush()
    uow.publish(
        Revoked(
            certificate_id=certificate.id,
            number=certificate.number,
            declaration_id=certificate.declaration_id,
            holder=certificate.holder,
            holder_name=certificate.holder_name,
            qualification_name=certificate.qualification_name,
            reason=reason,
            reason_kind=kind,
            revoked_by=principal.subject,
            revoked_at=certificate.revoked_at.isoformat(),
        ),
        correlation_id=certificate.declaration_id,
    )
    return certificate
