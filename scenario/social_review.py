"""``make scenario``: one declaration from submission to certificate, over HTTP only.

Runs against a running system (``make run``) as the demonstration users and
prints each step; the last line is ``certificate: <number>``. Exits non-zero
on any failure.
"""
from __future__ import annotations

import datetime as dt
import sys
from typing import Any

import requests

from scenario.client import Client, Fatal, ScenarioFailed, wait_for
from shared import config
from shared.config import SERVICES

CHAIN = [("unit", "unit_check"), ("dept1", "department_check"), ("dept2", "department_check"),
         ("committee", "committee_acceptance")]
EXPERTS = ["expert1", "expert2", "expert3"]


def step(message: str) -> None:
    print(f"- {message}", flush=True)


def wait_until_ready(client: Client, timeout: float) -> None:
    def all_ready() -> bool:
        for service in ("issuer", *SERVICES):
            path = "/health" if service == "issuer" else "/ready"
            if client.http.get(client.url(service, path), timeout=2).status_code != 200:
                return False
        return True

    wait_for("every service to be ready", all_ready, timeout=timeout, interval=0.5)


def task_for(client: Client, user: str, declaration_id: str, stage: str) -> dict[str, Any] | None:
    page = client.call(user, "GET", "review", "/api/v1/tasks",
                       params={"declaration_id": declaration_id, "stage": stage})
    return page["items"][0] if page["items"] else None


def complete(client: Client, user: str, declaration_id: str, stage: str, decision: str) -> dict[str, Any]:
    task = wait_for(f"a {stage} task for {user}", lambda: task_for(client, user, declaration_id, stage))
    client.call(user, "POST", "review", f"/api/v1/tasks/{task['id']}/claim")
    client.call(user, "POST", "review", f"/api/v1/tasks/{task['id']}/complete",
                json={"decision": decision, "reason": None})
    step(f"{user} completed {task['name']} at {task['organisation']}: {decision}")
    return task


def run(client: Client, ready_timeout: float = 60.0) -> str:
    wait_until_ready(client, ready_timeout)
    step("all services ready")

    profile = client.call("applicant", "GET", "profile", "/api/v1/profile")
    step(f"applicant {profile['name']} has a profile")
    if not any(w["status"] == "current" for w in profile["work_experiences"]):
        units = [o for o in client.call("applicant", "GET", "profile", "/api/v1/organisations")
                 if o["kind"] == "unit"]
        if not units:
            raise ScenarioFailed("no work unit is registered; was the demonstration data loaded?")
        client.call("applicant", "POST", "profile", "/api/v1/profile/work-experiences", expect=(201,),
                    json={"status": "current", "unit_code": units[0]["code"],
                          "start_date": (dt.date.today() - dt.timedelta(days=3650)).isoformat()})
        step(f"applicant works at {units[0]['name']}")

    activities = client.call("applicant", "GET", "declaration", "/api/v1/activities",
                             params={"mode": "social_review", "level": "副高级"})
    if not activities:
        raise ScenarioFailed("no ongoing social-review activity; was the demonstration data loaded?")
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

    for user, stage in CHAIN:
        complete(client, user, declaration_id, stage, "approve")
    for expert in EXPERTS:
        complete(client, expert, declaration_id, "expert_vote", "agree")
    complete(client, "title_office", declaration_id, "title_office_filing", "approve")

    def certificate() -> dict[str, Any] | None:
        mine = client.call("applicant", "GET", "certificate", "/api/v1/certificates")
        return next((c for c in mine if c["declaration_id"] == declaration_id), None)

    issued = wait_for("the certificate", certificate)
    step(f"certificate issued on {issued['issued_on']} for {issued['qualification_name']}")

    def finished() -> dict[str, Any] | None:
        current = client.call("applicant", "GET", "declaration", f"/api/v1/declarations/{declaration_id}")
        return current if current["status"] == "completed" else None

    final = wait_for("the declaration to be completed", finished)
    step(f"declaration stage: {final['stage_name']} (outcome {final['outcome']}, {len(final['trail'])} trail entries)")

    def notified() -> dict[str, Any] | None:
        inbox = client.call("applicant", "GET", "notify", "/api/v1/messages", params={"per_page": 100})
        return next((m for m in inbox["items"] if m["kind"] == "certificate_issued"
                     and m["declaration_id"] == declaration_id), None)

    message = wait_for("the applicant's certificate message", notified)
    step(f"applicant's inbox: {message['title']}")
    return issued["number"]


def main(ready_timeout: float = 60.0) -> int:
    print(f"scenario: social review against {config.service_url('declaration')} and friends", flush=True)
    try:
        number = run(Client(), ready_timeout)
    except (ScenarioFailed, requests.RequestException) as exc:
        print(f"scenario failed: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"certificate: {number}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
