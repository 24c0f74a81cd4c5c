"""The notify service's tables: inboxes, contact details, channel deliveries, reports, and a
small replica of who is involved in each declaration (fed by review events)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UtcDateTime, utcnow
from shared.messaging.tables import InboxMixin, OutboxMixin


class Base(DeclarativeBase):
    pass


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class Message(Base):
    """A message in a person's inbox (我的消息): the in-app channel, always written.

    A message to an organisation (``recipient_organisation``, e.g. an overdue task) is in the
    inbox of every staff member of it: notify has no staff list, their tokens say where they work.
    Each of them reads it for themselves (OrganisationMessageRead).
    """

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_recipient_created", "recipient", "created_at"),
        Index("ix_messages_organisation_created", "recipient_organisation", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    recipient: Mapped[str] = mapped_column(String(64))  # the subject; "organisation:<code>" for an organisation's
    recipient_organisation: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # stage_change, return_notice, result, certificate_issued, certificate_revoked,
    # organisation_message, report_feedback, defence_notice, task_overdue
    kind: Mapped[str] = mapped_column(String(30))
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    declaration_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    sender: Mapped[str | None] = mapped_column(String(200), nullable=True)  # organisation, for their messages
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A person's own message: when they read it. An organisation's message is read per reader
    # (OrganisationMessageRead); a read_at on one is from before that and counts as read by all.
    read_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class OrganisationMessageRead(Base):
    """That one staff member read a message addressed to their organisation: each colleague reads
    (and counts as unread) the organisation's notices for themselves."""

    __tablename__ = "organisation_message_reads"

    message_id: Mapped[str] = mapped_column(String(36), ForeignKey("messages.id"), primary_key=True)
    reader: Mapped[str] = mapped_column(String(64), primary_key=True)
    read_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Contact(Base):
    """Where a person wants messages besides the inbox; kept by the person themselves."""

    __tablename__ = "contacts"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class Delivery(Base):
    """One message over one outside channel (email, sms), retried with backoff until sent or given up."""

    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(36), ForeignKey("messages.id"), index=True)
    channel: Mapped[str] = mapped_column(String(10))  # email, sms
    address: Mapped[str] = mapped_column(String(254))
    short_text: Mapped[str | None] = mapped_column(Text, nullable=True)  # the SMS text
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sent, failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)  # real time: a lease
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DeclarationReplica(Base):
    """Who applied and where the declaration stands, as the review events told us."""

    __tablename__ = "declaration_replicas"

    declaration_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    applicant: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str | None] = mapped_column(String(100), nullable=True)
    stage_at: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the event's time, ISO


class DeclarationOrganisation(Base):
    """An organisation a declaration passed through: its staff may write to the applicant."""

    __tablename__ = "declaration_organisations"

    declaration_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64), primary_key=True)


class Report(Base):
    """A report (举报) about a declaration under publicity, and the answer to it."""

    __tablename__ = "reports"

    reference: Mapped[str] = mapped_column(String(20), primary_key=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    content: Mapped[str] = mapped_column(Text)
    reporter: Mapped[str | None] = mapped_column(String(64), nullable=True)
    filed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, answered
    upheld: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    organisation: Mapped[str | None] = mapped_column(String(64), nullable=True)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class DefenceNotice(Base):
    """A defence notice (答辩通知) due on a day: the first about a week ahead, a reminder the day before."""

    __tablename__ = "defence_notices"
    __table_args__ = (Index("ix_defence_notices_due", "status", "due_on"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    applicant: Mapped[str] = mapped_column(String(64))
    notice: Mapped[str] = mapped_column(String(10))  # first, reminder
    due_on: Mapped[dt.date] = mapped_column(Date)
    defence_at: Mapped[str] = mapped_column(String(40))  # ISO, with offset, as review gave it
    place: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending, sent, cancelled
    message_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
