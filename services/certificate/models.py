"""The certificate service's tables: certificates and their number sequences."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import InboxMixin, OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class Certificate(Base):
    """An electronic title certificate (电子职称证书)."""

    __tablename__ = "certificates"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[str] = mapped_column(String(40), unique=True)
    # One declaration never gets two certificates, whatever arrives twice.
    declaration_id: Mapped[str] = mapped_column(String(36), unique=True)
    holder: Mapped[str] = mapped_column(String(64), index=True)
    holder_name: Mapped[str] = mapped_column(String(100))
    id_number: Mapped[str] = mapped_column(String(32))
    series: Mapped[str] = mapped_column(String(50))
    level: Mapped[str] = mapped_column(String(20))
    specialty: Mapped[str] = mapped_column(String(100))
    qualification_name: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(30))
    committee_name: Mapped[str] = mapped_column(String(200))
    approved_on: Mapped[dt.date] = mapped_column(Date)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    verification_code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(20), default="valid")  # valid, revoked
    revoked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # fraud (造假: the holder goes on the integrity record, 诚信档案) or other
    revoked_kind: Mapped[str | None] = mapped_column(String(10), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CertificateDocument(Base):
    """The signed PDF as issued: kept, so every download is the same signed document."""

    __tablename__ = "certificate_documents"

    certificate_id: Mapped[str] = mapped_column(String(36), ForeignKey("certificates.id"), primary_key=True)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class NumberSequence(Base):
    """The last serial used per issuing authority and year."""

    __tablename__ = "number_sequences"

    authority: Mapped[str] = mapped_column(String(20), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
