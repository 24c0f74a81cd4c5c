"""``make scenario``: one declaration from submission to certificate, over HTTP only.

Runs against a running system (``make run``) as the demonstration users and
prints each step; the last line is ``certificate: <number>``. Exits non-zero
on any failure.
"""
from __future__ import annotations

import sys
from typing import Any

import requests

from scenario.client import Client, ScenarioFailed, wait_for
from scenario.declaration_steps import submit_declaration, wait_until_completed
from scenario.profile_steps import ensure_profile
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

    ensure_profile(client, step)
    declaration_id = submit_declaration(client, step, mode="social_review")

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

    final = wait_until_completed(client, declaration_id)
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
