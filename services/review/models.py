"""The review service's tables: definitions, process instances, tasks, timers,
expert pools and panel draws, and its replica of the directory."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
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
    """Replica of the profile service's directory (kept by its events)."""

    __tablename__ = "organisations"

    code: Mapped[str] = mapped_column(String(18), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    parent_code: Mapped[str | None] = mapped_column(String(18), nullable=True)


class Expert(Base):
    """A member of a committee's expert pool (专家库)."""

    __tablename__ = "experts"

    committee_code: Mapped[str] = mapped_column(String(18), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))


class Definition(Base):
    """A deployed diagram version, identified by the hash of its content (and of the processes it calls)."""

    __tablename__ = "definitions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the BPMN file
    process_id: Mapped[str] = mapped_column(String(100), index=True)
    file_name: Mapped[str] = mapped_column(String(200))
    bpmn: Mapped[str] = mapped_column(Text)
    deployed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The versions of the processes it calls (call activities), each itself a row here; the id
    # hashes them too. Empty (or NULL, before 0003_definition_calls) for a self-contained diagram.
    calls: Mapped[list[Any] | None] = mapped_column(nullable=True)
    # The decision tables its business-rule tasks call, as deployed with it: {decision id: {file_name,
    # dmn}}; the id hashes them too. NULL for a diagram without business-rule tasks.
    decisions: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)


class Instance(Base):
    """A running (or finished) review process for one declaration."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    declaration_id: Mapped[str] = mapped_column(String(36), unique=True)
    definition_id: Mapped[str] = mapped_column(ForeignKey("definitions.id"))
    process_id: Mapped[str] = mapped_column(String(100))
    applicant: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20), default="running")  # running, completed
    outcome: Mapped[str | None] = mapped_column(String(50), nullable=True)
    state: Mapped[str] = mapped_column(Text)  # SpiffWorkflow's JSON serialization
    serializer_version: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(Integer)  # compare-and-set on every save
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # Runtime flags and what statistics group by (indexed, so no instance is deserialised for them).
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    has_incident: Mapped[bool] = mapped_column(Boolean, default=False)
    audit_head: Mapped[str | None] = mapped_column(String(64), nullable=True)  # hash of the last audit entry
    audit_seq: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # seq of the last audit entry
    mode: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    series: Mapped[str | None] = mapped_column(String(50), nullable=True)
    level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    stage: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)

    # Every UPDATE checks the version it read and bumps it: a second writer that
    # slipped past the row lock fails with StaleDataError instead of overwriting.
    __mapper_args__ = {"version_id_col": version}


class Task(Base):
    """A ready human task, projected from the instance so queues are plain queries."""

    __tablename__ = "tasks"
    __table_args__ = (
        Index("ix_tasks_queue", "role", "organisation", "status"),
        Index("ix_tasks_assignee", "assignee", "status"),
        Index("ix_tasks_org_stage", "organisation", "stage", "completed_at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)  # SpiffWorkflow's task id
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), index=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    bpmn_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(30))
    organisation: Mapped[str | None] = mapped_column(String(18), nullable=True)
    assignee: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decisions: Mapped[str] = mapped_column(String(200))
    # The diagram's ``action`` property: the endpoint that completes the task (engine/contract.py ACTIONS).
    action: Mapped[str | None] = mapped_column(String(30), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="ready")  # ready, claimed, completed, cancelled
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    summary: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    completed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(30), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Queue filters and service levels (copied from the process data when the task is projected).
    stage: Mapped[str | None] = mapped_column(String(100), nullable=True)
    activity_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    series: Mapped[str | None] = mapped_column(String(50), nullable=True)
    level: Mapped[str | None] = mapped_column(String(20), nullable=True)
    applicant: Mapped[str | None] = mapped_column(String(64), nullable=True)
    applicant_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    due_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    overdue_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    escalated_to: Mapped[str | None] = mapped_column(String(18), nullable=True, index=True)


class Timer(Base):
    """When an instance's timer is due; the scheduler fires due ones."""

    __tablename__ = "timers"

    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"), primary_key=True)
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


class PanelDraw(Base):
    """A recorded random draw of an expert panel, reproducible from its seed."""

    __tablename__ = "panel_draws"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    committee_code: Mapped[str] = mapped_column(String(18))
    seed: Mapped[str] = mapped_column(String(64))
    pool: Mapped[list[Any]] = mapped_column()
    panel: Mapped[list[Any]] = mapped_column()
    drawn_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Incident(Base):
    """A step that raised inside the engine, kept (with what to re-run) until retried."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str | None] = mapped_column(String(36), nullable=True, index=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    source: Mapped[str] = mapped_column(String(20))  # task, message, timer, start
    element: Mapped[str | None] = mapped_column(String(100), nullable=True)  # the BPMN element that raised
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    step: Mapped[dict[str, Any]] = mapped_column()  # what retry re-runs
    error: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)  # open, resolved
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


class AuditEntry(Base):
    """One transition of an instance; append-only, each entry chained to the one before by hash."""

    __tablename__ = "audit_log"
    __table_args__ = (UniqueConstraint("instance_id", "seq", name="uq_audit_instance_seq"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(String(36), index=True)
    seq: Mapped[int] = mapped_column(Integer)  # 1, 2, ... per instance: a forked chain fails the constraint
    declaration_id: Mapped[str] = mapped_column(String(36))
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    source: Mapped[str] = mapped_column(String(20))  # task, message, timer, start, operator
    actor: Mapped[str | None] = mapped_column(String(64), nullable=True)  # subject, or the message id
    element: Mapped[str | None] = mapped_column(String(100), nullable=True)
    task_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    decision: Mapped[str | None] = mapped_column(String(50), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    changes: Mapped[dict[str, Any]] = mapped_column()
    completed: Mapped[list[Any]] = mapped_column()  # elements completed by this step
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class HeldMessage(Base):
    """A message for an instance that could not take it when it arrived (suspended, or an open
    incident): acknowledged, kept here, and delivered in arrival order once the instance runs again."""

    __tablename__ = "held_messages"
    __table_args__ = (
        UniqueConstraint("instance_id", "message_id", name="uq_held_instance_message"),
        Index("ix_held_instance_arrival", "instance_id", "arrived_at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    instance_id: Mapped[str] = mapped_column(ForeignKey("instances.id"))
    declaration_id: Mapped[str] = mapped_column(String(36))
    message_id: Mapped[str] = mapped_column(String(64))  # the envelope's id: a redelivery is held once
    type: Mapped[str] = mapped_column(String(100))
    data: Mapped[dict[str, Any]] = mapped_column()
    reason: Mapped[str] = mapped_column(String(20))  # suspended, incident, queued (behind held ones)
    arrived_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class StaffMember(Base):
    """Replica of the profile directory's staff accounts (profile.staff.registered.v1): the only
    source of who a task may be assigned to."""

    __tablename__ = "staff"

    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(20))
    organisation: Mapped[str | None] = mapped_column(String(18), nullable=True, index=True)
    name: Mapped[str | None] = mapped_column(String(100), nullable=True)


class Submission(Base):
    """The declaration as the review received it, each time it was (re)submitted."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    message_id: Mapped[str] = mapped_column(String(36), unique=True)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    content: Mapped[dict[str, Any]] = mapped_column()


# -- publicity, objections, panels (the flows' own records) -----------------------


class Publicity(Base):
    """A publicity period (公示): the unit's before recommending, the committee's of the results."""

    __tablename__ = "publicities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # unit, result
    organisation: Mapped[str] = mapped_column(String(18))
    starts_on: Mapped[dt.date] = mapped_column(Date)
    ends_on: Mapped[dt.date] = mapped_column(Date)  # the last working day of the period
    working_days: Mapped[int] = mapped_column(Integer)
    evidence: Mapped[str | None] = mapped_column(String(500), nullable=True)
    status: Mapped[str] = mapped_column(String(20), default="running")  # running, closed
    started_by: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Objection(Base):
    """An objection raised during a publicity (异议), or a report filed with the notify service (举报)."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    publicity_id: Mapped[int] = mapped_column(ForeignKey("publicities.id"), index=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    content: Mapped[str] = mapped_column(Text)
    report_reference: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    recorded_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[str] = mapped_column(String(20), default="open")  # open, resolved
    upheld: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


class ExpertConflict(Base):
    """An expert's declared conflict of interest with an applicant (回避), by ID number."""

    __tablename__ = "expert_conflicts"

    expert: Mapped[str] = mapped_column(String(64), primary_key=True)
    id_number: Mapped[str] = mapped_column(String(30), primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    declared_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A withdrawn conflict is kept (who withdrew it, when, why) and no longer excludes the expert.
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    withdraw_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class Recusal(Base):
    """An expert on a declaration's panel recused from that declaration (回避): not counted for it,
    and nothing more (a conflict with the applicant, declared apart, keeps them out of every draw)."""

    __tablename__ = "recusals"

    expert: Mapped[str] = mapped_column(String(64), primary_key=True)
    declaration_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    recused_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Attendance(Base):
    """Who of the panel attended a review meeting for a declaration (each recording kept)."""

    __tablename__ = "attendances"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    members: Mapped[list[Any]] = mapped_column()  # the panel without recused experts
    present: Mapped[list[Any]] = mapped_column()
    quorate: Mapped[bool] = mapped_column(Boolean)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Vote(Base):
    """A secret vote: one per expert per declaration; only its expert reads it."""

    __tablename__ = "votes"

    declaration_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    expert: Mapped[str] = mapped_column(String(64), primary_key=True)
    choice: Mapped[str] = mapped_column(String(20))  # agree, disagree, abstain
    cast_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Defence(Base):
    """A scheduled defence (答辩) for a declaration."""

    __tablename__ = "defences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    declaration_id: Mapped[str] = mapped_column(String(36), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    place: Mapped[str] = mapped_column(String(200))
    scheduled_by: Mapped[str] = mapped_column(String(64))
    scheduled_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ClockMove(Base):
    """One move of the test clock (shared/clock.py), by the title office: the audit of moved time.
    ``moved_at`` is real time; ``from_at`` and ``to_at`` are the system's clock before and after."""

    __tablename__ = "clock_moves"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    moved_by: Mapped[str] = mapped_column(String(64))
    moved_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    from_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    to_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    seconds: Mapped[int] = mapped_column(Integer)
