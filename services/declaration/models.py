"""The declaration service's tables: review activities, declarations, their trail."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text
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
    # Instants (a date given by the office closes at 23:59:59 Beijing time).
    initial_deadline: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    modification_deadline: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    consultation_phone: Mapped[str] = mapped_column(String(50))
    panel_size: Mapped[int] = mapped_column(Integer)
    # An independent-review committee's own organisation: only its staff may declare.
    owner_organisation: Mapped[str | None] = mapped_column(String(18), nullable=True)
    policy_documents: Mapped[list[Any] | None] = mapped_column(nullable=True)  # [{title, url}]
    schedule: Mapped[list[Any] | None] = mapped_column(nullable=True)  # [{step, from, to}]
    # {category: [{code, text}]}: the conditions an exception category must meet, each with proof.
    exception_conditions: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    # [{code, name, fields: [{name, label, required}], min, max, representative, attachments_required}]
    item_types: Mapped[list[Any] | None] = mapped_column(nullable=True)
    # [{code, name, fields: [...], required, attachments_required}]
    required_materials: Mapped[list[Any] | None] = mapped_column(nullable=True)
    defence_levels: Mapped[list[Any] | None] = mapped_column(nullable=True)
    service_levels: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)  # stage -> working days
    # The activity's own rule settings; what the committee leaves out is the decision table's value
    # (bpmn/publicity_days.dmn, pass_threshold.dmn, panel_size.dmn) when it is saved.
    publicity_working_days: Mapped[int] = mapped_column(Integer)
    vote_numerator: Mapped[int] = mapped_column(Integer)
    vote_denominator: Mapped[int] = mapped_column(Integer)
    # An unrelated current specialty (bpmn/specialty_relation.dmn): "warn" the unit, or "refuse" at submission.
    specialty_relation: Mapped[str] = mapped_column(String(10), default="warn", server_default="warn")


class CatalogueTerm(Base):
    """An evaluation mode or a declaration category, with the name the user sees."""

    __tablename__ = "catalogue_terms"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)  # mode, category
    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(50))
    position: Mapped[int] = mapped_column(Integer, default=0)


class CatalogueSeries(Base):
    """A title series (系列) with its level ladder, specialties and what may be appointed."""

    __tablename__ = "catalogue_series"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)  # 工程, 卫生, ...
    code: Mapped[str] = mapped_column(String(40), unique=True)
    levels: Mapped[list[Any]] = mapped_column()  # [{level, qualification_names: [...]}] from 员级 up
    specialties: Mapped[list[Any]] = mapped_column()
    # [{level, specialties}]: where independent appointment (自主聘任) is allowed; "*" = every specialty.
    appointable: Mapped[list[Any]] = mapped_column()
    position: Mapped[int] = mapped_column(Integer, default=0)


class Declaration(Base):
    __tablename__ = "declarations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    applicant: Mapped[str] = mapped_column(String(64), index=True)
    # None for independent appointment, which needs no committee activity.
    activity_id: Mapped[str | None] = mapped_column(ForeignKey("activities.id"), index=True, nullable=True)
    mode: Mapped[str] = mapped_column(String(30))
    series: Mapped[str] = mapped_column(String(50))
    level: Mapped[str] = mapped_column(String(20))
    specialty: Mapped[str] = mapped_column(String(100))
    qualification_name: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(30))
    # a DeclarationStatus; what may follow which is the table in lifecycle.py
    status: Mapped[str] = mapped_column(String(20), index=True)
    # "applicant|activity" while the declaration is live, else NULL: the unique index
    # keeps one live declaration per applicant and activity, also under concurrent creates.
    live_slot: Mapped[str | None] = mapped_column(String(200), unique=True, nullable=True)
    # When the unit started on the current round (claimed its first task, recorded a decision, or the
    # process moved past that task): withdrawal (撤回, "单位尚未审核") ends then.
    unit_started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    eligibility: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)  # the latest check
    # Category content: [{code, proof: [attachment]}] and the employer's proof (企业直报).
    exception_claims: Mapped[list[Any] | None] = mapped_column(nullable=True)
    employer_proof: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    sections: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)  # school_teacher, health
    materials: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)  # code -> {fields, attachments}
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    # The snapshot's registered unit (locked in the snapshot): where a submission goes first,
    # kept as a column so staff lists can select by it.
    unit_code: Mapped[str | None] = mapped_column(String(18), index=True, nullable=True)
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
    # Re-examination (复查) of a failed vote: the review offers it until a time; the applicant asks once,
    # with a reason; the committee office upholds or overturns the result, with its reason.
    re_examination_open_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    re_examination_requested_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    re_examination_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    re_examination_decision: Mapped[str | None] = mapped_column(String(20), nullable=True)  # uphold, overturn
    re_examination_decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    re_examination_decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
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


class DeclarationItem(Base):
    """One ability or achievement item (业绩成果), several of a kind entered separately."""

    __tablename__ = "declaration_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    declaration_id: Mapped[str] = mapped_column(ForeignKey("declarations.id"), index=True)
    item_type: Mapped[str] = mapped_column(String(50))
    fields: Mapped[dict[str, Any]] = mapped_column()
    attachments: Mapped[list[Any]] = mapped_column()
    representative: Mapped[bool] = mapped_column(Boolean, default=False)  # 代表作
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


# -- replicas of what the profile service publishes ----------------------------------


class Committee(Base):
    """A review committee as the directory registered it (profile.organisation.registered.v1): the title
    office's authorisation that activities are checked against."""

    __tablename__ = "committees"

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The organisation an independent-review committee belongs to (its staff declare).
    owner: Mapped[str | None] = mapped_column(String(18), nullable=True)
    # {series, levels, specialties}: None when the title office authorised nothing; an empty
    # specialties list means every specialty of the authorised series.
    scope: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class AttachmentOwner(Base):
    """Whose file an attachment of the profile's store is (profile.attachment.stored.v1, and the
    ``attachments`` of snapshots): a declaration may refer only to its applicant's own files."""

    __tablename__ = "attachment_owners"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    content_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    source: Mapped[str] = mapped_column(String(20))  # event, snapshot


class Employment(Base):
    """An applicant's current employer as the profile announced it (profile.employment.changed.v1);
    both None when they have none. Routes independent-review activities before any snapshot."""

    __tablename__ = "employments"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    unit_code: Mapped[str | None] = mapped_column(String(18), nullable=True)
    unit_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class IntegrityRecord(Base):
    """An entry of the integrity record (诚信档案): a certificate revoked for fraud bars its holder from
    declaring for a period (certificate.revoked.v1 with reason_kind fraud). The title office may lift it
    early, with a reason; who lifted it, when and why stay on the record."""

    __tablename__ = "integrity_records"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    holder_name: Mapped[str] = mapped_column(String(100))
    # One record per revoked certificate, whatever arrives twice.
    certificate_id: Mapped[str] = mapped_column(String(36), unique=True)
    certificate_number: Mapped[str] = mapped_column(String(40))
    declaration_id: Mapped[str] = mapped_column(String(36))
    qualification_name: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)  # the revocation
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    recorded_by: Mapped[str] = mapped_column(String(64))  # who revoked the certificate
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    lifted_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    lift_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
