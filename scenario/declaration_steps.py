"""Scenario steps on the declaration service: choose an activity, fill and submit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scenario.client import Client, Fatal, ScenarioFailed, system_today, wait_for

# The years the normal category's tables look at (bpmn/eligibility_yearly.dmn: the windows of years).
RECORD_YEARS = 3


def ensure_yearly_record(client: Client, step: Callable[[str], None]) -> None:
    """The normal category wants, for each recent year, an annual assessment of competent or above
    (称职及以上) and 90 hours of continuing education, two thirds specialist: recorded in the profile
    where missing, before the declaration takes its snapshot."""
    today = system_today(client)  # the test clock may have moved into another year
    profile = client.call("applicant", "GET", "profile", "/api/v1/profile")
    years = range(today.year - RECORD_YEARS, today.year)
    assessed = {a["year"] for a in profile["annual_assessments"] if a["result"] in ("excellent", "competent")}
    for year in (y for y in years if y not in assessed):
        client.call(
            "applicant",
            "POST",
            "profile",
            "/api/v1/profile/annual-assessments",
            expect=(201,),
            json={"year": year, "result": "competent"},
        )
        step(f"applicant recorded the annual assessment {year}: competent (称职)")
    totals: dict[int, list[float]] = {}
    for entry in profile["continuing_education"]:
        total = totals.setdefault(entry["year"], [0.0, 0.0])
        total[0] += entry["hours"]
        total[1] += entry.get("specialist_hours") or 0
    for year in years:
        hours, specialist = totals.get(year, [0.0, 0.0])
        if hours < 90 or specialist * 3 < hours * 2:
            client.call(
                "applicant",
                "POST",
                "profile",
                "/api/v1/profile/continuing-education",
                expect=(201,),
                json={"year": year, "hours": 96, "specialist_hours": 64, "content": "专业科目与公需科目"},
            )
            step(f"applicant recorded {year}'s continuing education (96 hours, 64 specialist)")


def submit_declaration(client: Client, step: Callable[[str], None], mode: str = "social_review") -> str:
    """Open a declaration on an ongoing activity of ``mode``, fill it and submit it; returns its id."""
    ensure_yearly_record(client, step)
    activities = client.call("applicant", "GET", "declaration", "/api/v1/activities", params={"mode": mode})
    if not activities:
        raise ScenarioFailed(f"no ongoing {mode} activity; was the demonstration data loaded?")
    activity = activities[0]
    step(f"chose activity {activity['name']}")
    choice = {
        "activity_id": activity["id"],
        "level": activity["levels"][0],
        "specialty": activity["specialties"][0],
        "qualification_name": activity["qualification_names"][0],
        "category": "normal",
    }
    declaration = client.call(
        "applicant", "POST", "declaration", "/api/v1/declarations", expect=(202, 409), json=choice
    )
    if "id" not in declaration:  # a draft left by an interrupted run holds the activity's one live slot
        discard_leftover_drafts(client, activity["id"], step)
        declaration = client.call(
            "applicant", "POST", "declaration", "/api/v1/declarations", expect=(202,), json=choice
        )
    declaration_id = declaration["id"]

    def drafted() -> dict[str, Any] | None:
        current = client.call("applicant", "GET", "declaration", f"/api/v1/declarations/{declaration_id}")
        if current["status"] == "refused":
            raise Fatal(f"declaration refused: {current['refusal_reason']}")
        return current if current["status"] == "draft" else None

    wait_for("the profile snapshot", drafted)
    step(f"declaration {declaration_id} drafted with the profile snapshot")
    fill(client, declaration_id, activity)
    step("declaration filled: eligible from the profile snapshot, achievements, required materials")
    wait_for("the submission", lambda: _submitted(client, declaration_id))
    step("declaration submitted to the work unit")
    return declaration_id


def _submitted(client: Client, declaration_id: str) -> bool | None:
    """Submit; a file uploaded to the profile a moment ago may not be known to the declaration service
    yet (known_attachment): then try again."""
    answer = client.call(
        "applicant", "POST", "declaration", f"/api/v1/declarations/{declaration_id}/submit", expect=(200, 422)
    )
    if answer.get("status") == "submitted":
        return True
    if all(e["rule"] == "known_attachment" for e in answer.get("errors") or [{"rule": None}]):
        return None
    raise Fatal("the declaration was refused: " + "; ".join(e["message"] for e in answer.get("errors") or []))


def wait_until_completed(client: Client, declaration_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        current = client.call("applicant", "GET", "declaration", f"/api/v1/declarations/{declaration_id}")
        return current if current["status"] == "completed" else None

    return wait_for("the declaration to be completed", finished)


def discard_leftover_drafts(client: Client, activity_id: str, step: Callable[[str], None]) -> None:
    mine = client.call("applicant", "GET", "declaration", "/api/v1/declarations", params={"per_page": 100})
    for old in mine["items"]:
        if old["activity_id"] != activity_id or old["status"] not in (
            "preparing",
            "draft",
            "returned",
            "submitted",
            "in_review",
        ):
            continue
        if old["status"] not in ("preparing", "draft"):
            raise Fatal(f"declaration {old['id']} for this activity is still {old['status']}; finish it first")
        client.call("applicant", "DELETE", "declaration", f"/api/v1/declarations/{old['id']}")
        step(f"discarded the draft {old['id']} left by an earlier run")


def fill(client: Client, declaration_id: str, activity: dict[str, Any]) -> None:
    """Fill what the activity requires: the minimum number of each achievement item type and the
    required materials. Education, years and titles come from the profile's snapshot as taken."""
    url = f"/api/v1/declarations/{declaration_id}"
    eligibility = client.call("applicant", "GET", "declaration", url + "/eligibility")
    if not eligibility["eligible"]:
        raise Fatal("the profile does not meet the normal category: " + "; ".join(eligibility["failures"]))
    specs = list(activity.get("required_materials") or []) + list(activity.get("item_types") or [])
    proof = _proof(client) if any(spec.get("attachments_required") for spec in specs) else None
    client.call(
        "applicant",
        "PATCH",
        "declaration",
        url,
        json={
            "materials": {m["code"]: _filled(m, proof) for m in activity.get("required_materials") or []},
        },
    )
    for kind in activity.get("item_types") or []:
        for _ in range(kind.get("min", 0)):
            client.call(
                "applicant",
                "POST",
                "declaration",
                url + "/items",
                expect=(201,),
                json={
                    "item_type": kind["code"],
                    **_filled(kind, proof),
                    "representative": bool(kind.get("representative")),
                },
            )


def _proof(client: Client) -> dict[str, Any]:
    """A file in the applicant's profile that items and materials refer to by its id."""
    from scenario.profile_steps import DEMO_PDF, _upload

    return {"id": _upload(client, "证明材料.pdf", DEMO_PDF), "name": "证明材料.pdf"}


def _filled(spec: dict[str, Any], proof: dict[str, Any] | None) -> dict[str, Any]:
    filled: dict[str, Any] = {
        "fields": {f["name"]: f"示例{f.get('label') or f['name']}" for f in spec.get("fields", [])}
    }
    if spec.get("attachments_required") and proof is not None:
        filled["attachments"] = [proof]
    return filled
