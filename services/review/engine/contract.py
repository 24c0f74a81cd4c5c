"""The diagram <-> code contract: the extension properties a diagram's elements carry, and the
values the code knows for each. titles-bpmn validate checks diagrams against these (definitions.py);
the runtime, queues, panels, publicity and the task service read the properties, never element ids.
README.md, "Diagram contract", says the same for designers."""

from __future__ import annotations

from shared.contracts.review import NO_OUTCOME, OUTCOMES
from shared.identity.principal import ROLES

# A lane's id names the role whose staff hold its tasks: lane_<role>; its name is free (bilingual).
LANE_PREFIX = "lane_"
# The roles a lane may stand for, and those whose staff hold user tasks (an applicant acts
# through the declaration service: its lane holds events and service tasks only).
LANE_ROLES = tuple(role for role in ROLES if role != "designer")
TASK_ROLES = tuple(role for role in LANE_ROLES if role != "applicant")

# A user task's properties: the required ones, then the optional ones.
REQUIRED_TASK_PROPERTIES = ("organisation", "decisions", "stage")
OPTIONAL_TASK_PROPERTIES = ("action", "guard", "assignee")
TASK_PROPERTIES = REQUIRED_TASK_PROPERTIES + OPTIONAL_TASK_PROPERTIES

# The decisions a person can take at a task (its ``decisions`` list names some of these).
DECISIONS = (
    "approve",
    "return",
    "reject",
    "recommend",
    "not_recommend",
    "start",
    "agree",
    "disagree",
    "abstain",
    "uphold",
    "overturn",
)

# action -> the roles (lanes) whose tasks it can complete. A task with an action is completed only
# through that action's endpoint (a vote through the task's own completion, kept secret).
ACTIONS: dict[str, tuple[str, ...]] = {
    "publicity:unit": ("unit",),  # POST /declarations/<id>/publicities {"kind": "unit"}
    "publicity:result": ("committee",),  # POST /declarations/<id>/publicities {"kind": "result"}
    "defence": ("committee",),  # POST /declarations/<id>/defence
    "attendance": ("committee",),  # POST /declarations/<id>/panel/attendance
    "vote": ("expert",),  # POST /tasks/<id>/complete by the assigned expert (secret)
}

# guard -> what is checked when the task is completed (service.GUARDS runs it).
GUARDS: dict[str, str] = {
    "own_staff": "approving needs the applicant to be staff of the organisation the committee belongs to "
    "(independent review, 自主评审仅受理本单位人员)",
    "reason_required": "every decision gives its reason (the re-examination's, 复查, is published to the applicant)",
}

# A service task's operator id -> what it does (services/review/operations.py runs it, given to the
# engine through its ports; titles-bpmn validate refuses any other).
OPERATIONS: dict[str, str] = {
    "review.draw_panel": "draw the panel at random from the committee's pool, leaving out conflicted experts",
    "review.own_staff": "whether the applicant's unit belongs to the committee's organisation (independent review)",
    "review.before_deadline": "whether the applicant may still resubmit (the deadline day is not over)",
    "review.tally_votes": "count the secret votes of the experts present at the meeting",
    "review.open_publicity": "record a publicity period and say when it is over",
    "review.publicity_objections": "once a publicity is over: its open and upheld objections",
    "review.flag_overdue": "flag a stage's open tasks overdue to their organisation and the level above",
}

# An end event's ``outcome``: one of OUTCOMES, or NO_OUTCOME for the end of a side branch.
END_OUTCOMES = (*OUTCOMES, NO_OUTCOME)


def role_of_lane(lane: str | None) -> str:
    """The role a task's lane stands for: its id ``lane_<role>`` (as the parser gives it, see
    timers.Parser); an instance saved before lanes were read by id carries the lane's name, the role."""
    lane = lane or ""
    return lane[len(LANE_PREFIX) :] if lane.startswith(LANE_PREFIX) else lane


def outcome_of(properties: dict[str, str]) -> str | None:
    """An end event's outcome (None for an end that is no outcome of the declaration)."""
    value = (properties or {}).get("outcome")
    return None if not value or value == NO_OUTCOME else value
