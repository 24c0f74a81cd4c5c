"""The certificate service layer: issuing idempotently, numbering, reading."""
from __future__ import annotations

import datetime as dt
import os
import secrets
import uuid
from typing import Any

from sqlalchemy import select

from services.certificate.models import Certificate, NumberSequence
from shared.errors import NotFound
from shared.uow import UnitOfWork

CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud safely


def number_pattern() -> str:
    return os.environ.get("CERTIFICATE_NUMBER_PATTERN", "{authority}{year}{serial:06d}")


def authority() -> str:
    return os.environ.get("CERTIFICATE_AUTHORITY", "TJZC")


def beijing_today() -> dt.date:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()


def next_number(uow: UnitOfWork, year: int) -> str:
    """Allocate the next serial under a row lock (concurrent issuers never share one)."""
    issuer = authority()
    sequence = uow.session.scalar(
        select(NumberSequence).where(NumberSequence.authority == issuer, NumberSequence.year == year)
        .with_for_update())
    if sequence is None:
        # A concurrent first insert fails on the primary key; the consumer retries.
        sequence = NumberSequence(authority=issuer, year=year, last=0)
        uow.session.add(sequence)
    sequence.last += 1
    uow.session.flush()
    return number_pattern().format(authority=issuer, year=year, serial=sequence.last)


def issue(uow: UnitOfWork, command: dict[str, Any]) -> Certificate | None:
    """Issue the certificate for a declaration; None if it already has one."""
    existing = uow.session.scalar(select(Certificate).where(Certificate.declaration_id == command["declaration_id"]))
    if existing is not None:
        return None
    issued_on = beijing_today()
    certificate = Certificate(
        id=str(uuid.uuid4()), number=next_number(uow, issued_on.year),
        declaration_id=command["declaration_id"], holder=command["holder"], holder_name=command["holder_name"],
        id_number=command["id_number"], series=command["series"], level=command["level"],
        specialty=command["specialty"], qualification_name=command["qualification_name"], mode=command["mode"],
        committee_name=command["committee_name"], approved_on=dt.date.fromisoformat(command["approved_on"]),
        issued_on=issued_on, verification_code="".join(secrets.choice(CODE_ALPHABET) for _ in range(8)),
    )
    uow.session.add(certificate)
    uow.session.flush()  # the unique declaration_id catches a concurrent twin here
    uow.publish("certificate.issued.v1", {
        "certificate_id": certificate.id, "number": certificate.number,
        "declaration_id": certificate.declaration_id, "holder": certificate.holder,
        "holder_name": certificate.holder_name, "series": certificate.series, "level": certificate.level,
        "specialty": certificate.specialty, "qualification_name": certificate.qualification_name,
        "issued_on": certificate.issued_on.isoformat(),
    }, correlation_id=certificate.declaration_id)
    return certificate


def of_holder(uow: UnitOfWork, subject: str) -> list[Certificate]:
    return list(uow.session.scalars(select(Certificate).where(Certificate.holder == subject)
                                    .order_by(Certificate.issued_on.desc(), Certificate.number.desc())))


def verify(uow: UnitOfWork, number: str, code: str) -> Certificate:
    found = uow.session.scalar(select(Certificate).where(Certificate.number == number))
    # A wrong code and an unknown number look the same: nothing leaks.
    # Compare bytes: compare_digest refuses non-ASCII str (a 500 for a typo like "验证码").
    if found is None or not secrets.compare_digest(found.verification_code.encode(), code.upper().encode()):
        raise NotFound("no certificate matches this number and verification code (未找到证书)")
    return found


def mask_id_number(id_number: str) -> str:
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:] if len(id_number) > 8 else "****"
