"""Scenario steps on the declaration service: choose an activity, fill and submit."""
from __future__ import annotations

from typing import Any, Callable

from scenario.client import Client, Fatal, ScenarioFailed, wait_for


def submit_declaration(client: Client, step: Callable[[str], None], mode: str = "social_review") -> str:
    """Open a declaration on an ongoing activity of ``mode``, fill it and submit it; returns its id."""
    activities = client.call("applicant", "GET", "declaration", "/api/v1/activities", params={"mode": mode})
    if not activities:
        raise ScenarioFailed(f"no ongoing {mode} activity; was the demonstration data loaded?")
    activity = activities[0]
    step(f"chose activity {activity['name']}")
    declaration = client.call("applicant", "POST", "declaration", "/api/v1/declarations", expect=(202,), json={
        "activity_id": activity["id"], "level": activity["levels"][0], "specialty": activity["specialties"][0],
        "qualification_name": activity["qualification_names"][0], "category": "normal"})
    declaration_id = declaration["id"]

    def drafted() -> dict[str, Any] | None:
        current = client.call("applicant", "GET", "declaration", f"/api/v1/declarations/{declaration_id}")
        if current["status"] == "refused":
            raise Fatal(f"declaration refused: {current['refusal_reason']}")
        return current if current["status"] == "draft" else None

    wait_for("the profile snapshot", drafted)
    step(f"declaration {declaration_id} drafted with the profile snapshot")
    client.call("applicant", "POST", "declaration", f"/api/v1/declarations/{declaration_id}/submit")
    step("declaration submitted to the work unit")
    return declaration_id


def wait_until_completed(client: Client, declaration_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        current = client.call("applicant", "GET", "declaration", f"/api/v1/declarations/{declaration_id}")
        return current if current["status"] == "completed" else None

    return wait_for("the declaration to be completed", finished)
