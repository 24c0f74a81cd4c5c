"""Messages of the review service (the running processes)."""
from marshmallow import Schema, fields, validate

from shared.contracts.fields import identifier, text, timestamp

# The outcomes a review can end with (review.completed.v1's ``outcome``), each an end event's
# ``outcome`` property in bpmn/, and what it means to the applicant (notify's texts). The one list:
# titles-bpmn validate refuses an end event whose outcome is not here, statistics count PASSED.
OUTCOMES: dict[str, str] = {
    "certified": "评审通过，已发证", "not_passed": "评审未通过",
    "not_accepted": "未在修改截止时间前重新提交，不予受理", "withdrawn": "已撤回",
    "not_recommended": "单位未予推荐", "withheld": "公示后不予通过", "not_appointed": "未予聘任"}
PASSED: frozenset[str] = frozenset({"certified"})
# An end event that ends a side branch only (an overdue flag) or a sub-process or called process (whose
# caller reads its data and reaches an outcome of its own): the declaration goes on.
NO_OUTCOME = "none"


class StageChanged(Schema):
    declaration_id = identifier()
    applicant = identifier()
    stage = text()
    stage_name = text()
    role = text()
    organisation = fields.String(required=True, allow_none=True)
    # The organisation's name, so that a notice says whose step it is (the department levels differ only
    # by it); optional for messages produced before it existed.
    organisation_name = fields.String(load_default=None, allow_none=True)
    at = timestamp()


class DecisionRecorded(Schema):
    declaration_id = identifier()
    applicant = identifier()
    stage = text()
    stage_name = text()
    decision = text()
    reason = fields.String(required=True, allow_none=True)
    actor = identifier()
    organisation = fields.String(required=True, allow_none=True)
    organisation_name = fields.String(load_default=None, allow_none=True)
    at = timestamp()


class TaskClaimed(Schema):
    """A reviewer started work on a task (the unit's claim ends the applicant's right to withdraw)."""

    declaration_id = identifier()
    applicant = identifier()
    stage = text()
    organisation = fields.String(required=True, allow_none=True)
    actor = identifier()
    at = timestamp()


class Completed(Schema):
    declaration_id = identifier()
    applicant = identifier()
    # One of OUTCOMES: the ``outcome`` property of the end event the process reached.
    outcome = text()
    at = timestamp()


class ObjectionResolved(Schema):
    """An objection raised during a publicity (for a report, the reporter's answer)."""

    declaration_id = identifier()
    report_reference = fields.String(required=True, allow_none=True)  # set when it came from a report
    upheld = fields.Boolean(required=True)
    resolution = text()
    organisation = fields.String(required=True, allow_none=True)
    at = timestamp()


class DefenceScheduled(Schema):
    """A defence (答辩) was scheduled: notices go out about a week ahead and the day before."""

    declaration_id = identifier()
    applicant = identifier()
    at = timestamp()
    place = text()
    committee_code = fields.String(required=True, allow_none=True)
    first_notice_on = fields.Date(required=True)
    reminder_on = fields.Date(required=True)
    scheduled_at = timestamp()


class TaskOverdue(Schema):
    """A task passed its service level (办理超时): flagged once to its organisation and the level above."""

    declaration_id = identifier()
    task_id = identifier()
    stage = text()
    stage_name = text()
    organisation = fields.String(required=True, allow_none=True)
    escalated_to = fields.String(required=True, allow_none=True)  # the level above; None for the title office
    due_at = timestamp()
    at = timestamp()


class ReExaminationOpened(Schema):
    """The vote failed: the applicant may ask for re-examination (复查) until ``open_until``."""

    declaration_id = identifier()
    applicant = identifier()
    qualification_name = text()
    organisation = fields.String(required=True, allow_none=True)  # the committee that decides it
    days = fields.Integer(required=True)  # the period in calendar days (bpmn/re_examination_period.dmn)
    open_until = timestamp()


class ReExaminationDecided(Schema):
    """The committee office decided a re-examination: ``uphold`` (not passed) or ``overturn``."""

    declaration_id = identifier()
    applicant = identifier()
    decision = fields.String(required=True, validate=validate.OneOf(("uphold", "overturn")))
    reason = text()
    organisation = fields.String(required=True, allow_none=True)
    actor = identifier()
    at = timestamp()


class Events:
    SCHEMAS = {
        "review.stage.changed.v1": StageChanged,
        "review.decision.recorded.v1": DecisionRecorded,
        "review.task.claimed.v1": TaskClaimed,
        "review.completed.v1": Completed,
        "review.objection.resolved.v1": ObjectionResolved,
        "review.defence.scheduled.v1": DefenceScheduled,
        "review.task.overdue.v1": TaskOverdue,
        "review.re_examination.opened.v1": ReExaminationOpened,
        "review.re_examination.decided.v1": ReExaminationDecided,
    }


class Commands:
    SCHEMAS: dict = {}
