"""The current work specialty against the declared one (manual §三(一)3: "应与所要申报的职称专业有直接关联").

The relation is the decision table ``bpmn/specialty_relation.dmn`` the title office edits (read as the
file is now, like the eligibility tables): per series, the declared specialty and the current one give
``related`` — ``directly``, ``related`` or ``unrelated`` — and a reason. Code only normalises the name
the applicant typed and says what an unrelated one means: a warning the unit sees, or, where the
activity says ``specialty_relation: "refuse"``, a refusal at submission.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from shared import decisions

DECISION = "specialty_relation"
RELATIONS = ("directly", "related", "unrelated")
ENFORCEMENTS = ("warn", "refuse")
FIELD, RULE = "qualification.specialty", "specialty_related"
_SPACE = re.compile(r"\s+")
_SUFFIX = "专业"  # "软件工程专业" names the specialty 软件工程


def normalise(name: Any) -> str | None:
    """The name as the table lists names: full-width forms folded (NFKC), no spaces, no trailing 专业."""
    text = _SPACE.sub("", unicodedata.normalize("NFKC", str(name or "")))
    if text.endswith(_SUFFIX) and len(text) > len(_SUFFIX):
        text = text[: -len(_SUFFIX)]
    return text or None


def current_of(snapshot: dict[str, Any] | None) -> Any:
    """The current work specialty (现从事专业) of the profile's qualifications section."""
    return ((snapshot or {}).get("qualification") or {}).get("specialty")


def check(series: str, declared: str, current: Any, enforcement: str = "warn") -> dict[str, Any]:
    """{rule, declared_specialty, current_specialty, related, reason, passed, enforcement}: ``related`` is
    None when no current specialty is given (the profile's completeness asks for it)."""
    result = {
        "rule": DECISION,
        "declared_specialty": declared,
        "current_specialty": current,
        "enforcement": enforcement,
    }
    given = normalise(current)
    if given is None:
        return {**result, "related": None, "passed": True, "reason": "no current specialty given (未填写现从事专业)"}
    found = decisions.decide(DECISION, {"series": series, "specialty": normalise(declared), "current_specialty": given})
    related = found.get("related")
    if related not in RELATIONS:
        raise decisions.DecisionFailed(
            f"{DECISION}: related is {related!r}, not one of {', '.join(RELATIONS)} "
            f"(for {series}/{declared} and {given})"
        )
    return {**result, "related": related, "passed": related != "unrelated", "reason": found.get("reason")}


def message(result: dict[str, Any]) -> str:
    return (
        f"the current specialty {result['current_specialty']} is not directly related to the declared "
        f"specialty {result['declared_specialty']}: {result['reason']} (专业不相关; the rule is "
        f"bpmn/{DECISION}.dmn)"
    )


def warnings(result: dict[str, Any]) -> list[str]:
    """What the unit is shown: an unrelated specialty where the activity only warns."""
    return [message(result)] if not result["passed"] and result["enforcement"] == "warn" else []


def refused(result: dict[str, Any]) -> bool:
    return not result["passed"] and result["enforcement"] == "refuse"
