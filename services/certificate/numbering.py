"""Certificate numbers: issuing authority, year and serial, by a configurable pattern."""

from __future__ import annotations

from sqlalchemy import select

from services.certificate.models import NumberSequence
from shared import config
from shared.uow import UnitOfWork


def number_pattern() -> str:
    return config.settings().certificate_number_pattern


def authority() -> str:
    return config.settings().certificate_authority


def next_number(uow: UnitOfWork, year: int) -> str:
    """Allocate the next serial under a row lock (concurrent issuers never share one)."""
    issuer = authority()
    sequence = uow.session.scalar(
        select(NumberSequence).where(NumberSequence.authority == issuer, NumberSequence.year == year).with_for_update()
    )
    if sequence is None:
        # A concurrent first insert fails on the primary key; the consumer retries.
        sequence = NumberSequence(authority=issuer, year=year, last=0)
        uow.session.add(sequence)
    sequence.last += 1
    uow.session.flush()
    return number_pattern().format(authority=issuer, year=year, serial=sequence.last)
