"""Messages of the review service (the running processes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, ClassVar

from marshmallow import fields, validate

from shared.contracts.fields import Identifier, NullableText, OptionalText, Text, Timestamp
from shared.contracts.message import Event

# The outcomes a review can end with (review.completed.v1's ``outcome``), each an end event's
# ``outcome`` property in bpmn/, and what it means to the applicant (notify's texts). The one list:
# titles-bpmn validate refuses an end event whose outcome is not here, statistics count PASSED.
OUTCOMES: dict[str, str] = {
    "certified": "评审通过，已发证",
    "not_passed": "评审未通过",
    "not_accepted": "未在修改截止时间前重新提交，不予受理",
    "withdrawn": "已撤回",
    "not_recommended": "单位未予推荐",
    "withheld": "公示后不予通过",
    "not_appointed": "未予聘任",
}
PASSED: frozenset[str] = frozenset({"certified"})
# An end event that ends a side branch only (an overdue flag) or a sub-process or called process (whose
# caller reads its data and reaches an outcome of its own): the declaration goes on.
NO_OUTCOME = "none"

Day = Annotated[dt.date, fields.Date(required=True)]


@dataclass(frozen=True, kw_only=True)
class StageChanged(Event):
    TYPE: ClassVar[str] = "review.stage.changed.v1"

    declaration_id: Identifier
    applicant: Identifier
    stage: Text
    stage_name: Text
    role: Text
    organisation: NullableText
    # The organisation's name, so that a notice says whose step it is (the department levels differ only
    # by it); optional for messages produced before it existed.
    organisation_name: OptionalText = None
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class DecisionRecorded(Event):
    TYPE: ClassVar[str] = "review.decision.recorded.v1"
    # Routed as review.decision.recorded.v1.<decision>: notify takes only returns (its notice with the
    # reason; an approval shows as the stage change that follows), a delivery less every other step.
    ROUTED_BY: ClassVar[str | None] = "decision"

    declaration_id: Identifier
    applicant: Identifier
    stage: Text
    stage_name: Text
    decision: Text
    reason: NullableText
    actor: Identifier
    organisation: NullableText
    organisation_name: OptionalText = None
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class TaskClaimed(Event):
    """A reviewer started work on a task (the unit's claim ends the applicant's right to withdraw)."""

    TYPE: ClassVar[str] = "review.task.claimed.v1"

    declaration_id: Identifier
    applicant: Identifier
    stage: Text
    organisation: NullableText
    actor: Identifier
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class Completed(Event):
    TYPE: ClassVar[str] = "review.completed.v1"

    declaration_id: Identifier
    applicant: Identifier
    # One of OUTCOMES: the ``outcome`` property of the end event the process reached.
    outcome: Text
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class ObjectionResolved(Event):
    """An objection raised during a publicity (for a report, the reporter's answer)."""

    TYPE: ClassVar[str] = "review.objection.resolved.v1"

    declaration_id: Identifier
    report_reference: NullableText  # set when it came from a report
    upheld: Annotated[bool, fields.Boolean(required=True)]
    resolution: Text
    organisation: NullableText
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class DefenceScheduled(Event):
    """A defence (答辩) was scheduled: notices go out about a week ahead and the day before."""

    TYPE: ClassVar[str] = "review.defence.scheduled.v1"

    declaration_id: Identifier
    applicant: Identifier
    at: Timestamp
    place: Text
    committee_code: NullableText
    first_notice_on: Day
    reminder_on: Day
    scheduled_at: Timestamp


@dataclass(frozen=True, kw_only=True)
class TaskOverdue(Event):
    """A task passed its service level (办理超时): flagged once to its organisation and the level above."""

    TYPE: ClassVar[str] = "review.task.overdue.v1"

    declaration_id: Identifier
    task_id: Identifier
    stage: Text
    stage_name: Text
    organisation: NullableText
    escalated_to: NullableText  # the level above; None for the title office
    due_at: Timestamp
    at: Timestamp


@dataclass(frozen=True, kw_only=True)
class ReExaminationOpened(Event):
    """The vote failed: the applicant may ask for re-examination (复查) until ``open_until``."""

    TYPE: ClassVar[str] = "review.re_examination.opened.v1"

    declaration_id: Identifier
    applicant: Identifier
    qualification_name: Text
    organisation: NullableText  # the committee that decides it
    days: Annotated[int, fields.Integer(required=True)]  # the period in calendar days (bpmn/re_examination_period.dmn)
    open_until: Timestamp


@dataclass(frozen=True, kw_only=True)
class ReExaminationDecided(Event):
    """The committee office decided a re-examination: ``uphold`` (not passed) or ``overturn``."""

    TYPE: ClassVar[str] = "review.re_examination.decided.v1"

    declaration_id: Identifier
    applicant: Identifier
    decision: Annotated[str, fields.String(required=True, validate=validate.OneOf(("uphold", "overturn")))]
    reason: Text
    organisation: NullableText
    actor: Identifier
    at: Timestamp


MESSAGES = (
    StageChanged,
    DecisionRecorded,
    TaskClaimed,
    Completed,
    ObjectionResolved,
    DefenceScheduled,
    TaskOverdue,
    ReExaminationOpened,
    ReExaminationDecided,
)
