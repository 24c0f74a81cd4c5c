"""The profile service's tables: people and the directory of organisations."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import InboxMixin, OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class Organisation(Base):
    """A registered organisation, identified by its unified social credit code."""

    __tablename__ = "organisations"

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # unit, department, committee, title_office
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"), nullable=True)
    registered_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Profile(Base):
    """An applicant, keyed by the identity provider's subject."""

    __tablename__ = "profiles"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # from the verified token only
    id_number: Mapped[str] = mapped_column(String(32))  # from the verified token only
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class WorkExperience(Base):
    __tablename__ = "work_experiences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("profiles.subject"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # current, former, part_time
    unit_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"), nullable=True)
    unit_name: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
