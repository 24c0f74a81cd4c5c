"""The declaration service's tables: review activities, declarations, their trail."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Date, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import JsonColumn, UtcDateTime, utcnow
from shared.messaging.tables import InboxMixin, OutboxMixin


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JsonColumn, list[Any]: JsonColumn}


class Outbox(OutboxMixin, Base):
    pass


class Inbox(InboxMixin, Base):
    pass


class Activity(Base):
    """A review activity (评审活动) that a committee office sets up."""

    __tablename__ = "activities"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(30))
    committee_code: Mapped[str] = mapped_column(String(18), index=True)
    committee_name: Mapped[str] = mapped_column(String(200))
    series: Mapped[str] = mapped_column(String(50))
    levels: Mapped[list[Any]] = mapped_column()
    specialties: Mapped[list[Any]] = mapped_column()
    qualification_names: Mapped[list[Any]] = mapped_column()
    categories: Mapped[list[Any]] = mapped_column()
    opens_on: Mapped[dt.date] = mapped_column(Date)
    initial_deadline: Mapped[dt.date] = mapped_column(Date)
    modification_deadline: Mapped[dt.date] = mapped_column(Date)
    consultation_phone: Mapped[str] = mapped_column(String(50))
    panel_size: Mapped[int] = mapped_column(Integer, default=3)


class Declaration(Base):
    __tablename__ = "declarations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    applicant: Mapped[str] = mapped_column(String(64), index=True)
    activity_id: Mapped[str] = mapped_column(ForeignKey("activities.id"), index=True)
    mode: Mapped[str] = mapped_column(String(30))
    series: Mapped[str] = mapped_column(String(50))
    level: Mapped[str] = mapped_column(String(20))
    specialty: Mapped[str] = mapped_column(String(100))
    qualification_name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(30))
    # preparing -> draft -> submitted -> in_review -> completed; or refused;
    # in_review -> returned -> (resubmitted) in_review
    status: Mapped[str] = mapped_column(String(20), index=True)
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    refusal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The latest return (退回): shown to the applicant until they resubmit.
    return_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    returned_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    returned_by: Mapped[str | None] = mapped_column(String(18), nullable=True)  # the organisation
    stage: Mapped[str | None] = mapped_column(String(50), nullable=True)
    stage_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    stage_organisation: Mapped[str | None] = mapped_column(String(18), nullable=True)
    stage_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(30), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class TrailEntry(Base):
    """One step of a declaration's review trail, as the review service reported it."""

    __tablename__ = "trail_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # stage, decision, outcome
    stage: Mapped[str | None] = mapped_column(String(50), nullable=True)
    stage_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    organisation: Mapped[str | None] = mapped_column(String(18), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(30), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
