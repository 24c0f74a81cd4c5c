"""The profile service's tables: people, their attachments and the directory of organisations."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import JsonColumn, UtcDateTime, utcnow
from shared.messaging.tables import InboxMixin, OutboxMixin


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JsonColumn, list[Any]: JsonColumn}


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
    # units: public_institution (事业单位), state_enterprise, government, private, other
    ownership: Mapped[str | None] = mapped_column(String(30), nullable=True)
    # committees: the organisation an independent-review committee belongs to, and its authorised scope
    owner_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"), nullable=True)
    scope: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    # a code that fails the GB 32100 check, registered by the title office on purpose
    check_override: Mapped[bool] = mapped_column(Boolean, default=False)
    override_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    override_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    registered_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class StaffAccount(Base):
    """A staff member's account: one subject acts for exactly one organisation in one role."""

    __tablename__ = "staff_accounts"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(20))
    organisation_code: Mapped[str] = mapped_column(ForeignKey("organisations.code"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Profile(Base):
    """An applicant, keyed by the identity provider's subject; one row holds the basic information."""

    __tablename__ = "profiles"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))  # from the verified token, corrected by the title office only
    id_number: Mapped[str] = mapped_column(String(32))  # likewise
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # basic information (个人基本信息)
    id_type: Mapped[str] = mapped_column(String(30), default="resident_id")
    gender: Mapped[str | None] = mapped_column(String(10), nullable=True)
    nationality: Mapped[str] = mapped_column(String(50), default="中国")
    ethnicity: Mapped[str | None] = mapped_column(String(30), nullable=True)
    political_status: Mapped[str | None] = mapped_column(String(30), nullable=True)
    mobile: Mapped[str | None] = mapped_column(String(20), nullable=True)
    telephone: Mapped[str | None] = mapped_column(String(30), nullable=True)
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    admin_post: Mapped[str | None] = mapped_column(String(20), nullable=True)
    on_establishment: Mapped[bool] = mapped_column(Boolean, default=False)  # 在编 at a state-owned unit
    admin_post_level: Mapped[str | None] = mapped_column(String(30), nullable=True)
    foreign_language: Mapped[str | None] = mapped_column(String(100), nullable=True)
    computer_skill: Mapped[str | None] = mapped_column(String(100), nullable=True)
    photo_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id"), nullable=True)
    # qualifications (资历信息), one per applicant
    specialty: Mapped[str | None] = mapped_column(String(100), nullable=True)
    school_stage: Mapped[str | None] = mapped_column(String(30), nullable=True)
    first_professional_work_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    non_professional_years: Mapped[float] = mapped_column(Numeric(4, 1, asdecimal=False), default=0)
    appointment: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    version: Mapped[int] = mapped_column(Integer, default=1)


class IdentityCorrection(Base):
    """A correction of name or ID number by the title office: who, when, old, new, why."""

    __tablename__ = "identity_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("profiles.subject"), index=True)
    field: Mapped[str] = mapped_column(String(20))
    old_value: Mapped[str] = mapped_column(String(100))
    new_value: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str] = mapped_column(Text)
    corrected_by: Mapped[str] = mapped_column(String(64))
    corrected_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Attachment(Base):
    """An uploaded file: the bytes live in the store under their SHA-256, this row says whose it is."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    owner: Mapped[str] = mapped_column(String(64), index=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(50))
    size: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))  # for display only; never a path
    uploaded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Education(Base):
    __tablename__ = "educations"
    __table_args__ = (UniqueConstraint("subject", "register_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("profiles.subject"), index=True)
    source: Mapped[str] = mapped_column(String(20))  # register (学信网) or manual
    register_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    school: Mapped[str] = mapped_column(String(200))
    specialty: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(30))
    degree: Mapped[str | None] = mapped_column(String(30), nullable=True)
    study_mode: Mapped[str] = mapped_column(String(30))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date] = mapped_column(Date)
    before_work: Mapped[bool] = mapped_column(Boolean, default=False)
    overseas: Mapped[bool] = mapped_column(Boolean, default=False)
    certificate_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id"), nullable=True)
    verification_letter_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id"), nullable=True)


class Certificate(Base):
    """A held qualification: title, professional qualification (exam) or skill/other certificate."""

    __tablename__ = "certificates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("profiles.subject"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # title, professional_qualification, skill
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    obtained_by: Mapped[str | None] = mapped_column(String(20), nullable=True)
    number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    issuer: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attachment_id: Mapped[str] = mapped_column(ForeignKey("attachments.id"))


class WorkExperience(Base):
    __tablename__ = "work_experiences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("profiles.subject"), index=True)
    status: Mapped[str] = mapped_column(String(20))  # current, former, part_time
    unit_code: Mapped[str | None] = mapped_column(ForeignKey("organisations.code"), nullable=True)
    unit_name: Mapped[str] = mapped_column(String(200))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    admin_post: Mapped[str | None] = mapped_column(String(50), nullable=True)
    professional_post: Mapped[str | None] = mapped_column(String(50), nullable=True)
    role: Mapped[str | None] = mapped_column(String(20), nullable=True)  # led, independent, participant
    participant_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
    dispatched_to: Mapped[str | None] = mapped_column(String(200), nullable=True)
    dispatch_proof_id: Mapped[str | None] = mapped_column(ForeignKey("attachments.id"), nullable=True)
    posts: Mapped[list[Any]] = mapped_column(default=list)
    main_work: Mapped[str | None] = mapped_column(String(500), nullable=True)


class SocialPost(Base):
    __tablename__ = "social_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("profiles.subject"), index=True)
    organisation: Mapped[str] = mapped_column(String(200))
    post: Mapped[str] = mapped_column(String(100))
    start_date: Mapped[dt.date] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date, nullable=True)


class ContinuingEducation(Base):
    __tablename__ = "continuing_education"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("profiles.subject"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    hours: Mapped[float] = mapped_column(Numeric(6, 1, asdecimal=False))
    # of which specialist subjects (专业科目学时); rows from before it was recorded count 0 until edited
    specialist_hours: Mapped[float] = mapped_column(Numeric(6, 1, asdecimal=False), default=0, server_default="0")
    content: Mapped[str | None] = mapped_column(String(200), nullable=True)
    attachment_ids: Mapped[list[Any]] = mapped_column(default=list)


class AnnualAssessment(Base):
    __tablename__ = "annual_assessments"
    __table_args__ = (UniqueConstraint("subject", "year"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(ForeignKey("profiles.subject"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    result: Mapped[str] = mapped_column(String(30))


class AccessGrant(Base):
    """An organisation's right to see an applicant's attachments, earned by a declaration reaching it.

    Learnt from the declaration and review events; never revoked on withdrawal or completion, so the
    trail keeps the right to see what was reviewed.
    """

    __tablename__ = "access_grants"
    __table_args__ = (
        UniqueConstraint("declaration_id", "organisation"),
        Index("ix_access_grants_applicant_org", "applicant", "organisation"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(String(64))
    applicant: Mapped[str] = mapped_column(String(64))
    organisation: Mapped[str] = mapped_column(String(18))
    granted_by: Mapped[str] = mapped_column(String(60))  # the event type that granted it
    granted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DeclarationReferences(Base):
    """The profile attachments a declaration refers to, as its submission events said (union over
    resubmissions). An organisation granted access for the declaration opens these and no others; a
    declaration without a row here (its producer sent no list) keeps the older, applicant-wide grant."""

    __tablename__ = "declaration_references"

    declaration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    applicant: Mapped[str] = mapped_column(String(64))
    attachment_ids: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
