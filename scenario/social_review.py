"""``make scenario``: one declaration from submission to certificate, over HTTP only.

Runs against a running system (``make run``) as the demonstration users and
prints each step; the last line is ``certificate: <number>``. Exits non-zero
on any failure.
"""

from __future__ import annotations

import datetime as dt
import sys
from typing import Any

from scenario.client import TRANSPORT_ERRORS, Client, ScenarioFailed, system_today, wait_for
from scenario.declaration_steps import submit_declaration, wait_until_completed
from scenario.profile_steps import ensure_profile
from shared import config
from shared.config import SERVICES

DEPARTMENTS = ["dept1", "dept2"]
# Publicity periods last at least five working days: the scenario moves the system's test clock
# past each one, as the title office (the clock is on only with TITLES_TEST_CLOCK=1, which `make run`
# sets for the demonstration).
PAST_A_PUBLICITY_DAYS = 15


def step(message: str) -> None:
    print(f"- {message}", flush=True)


def wait_until_ready(client: Client, timeout: float) -> None:
    def all_ready() -> bool:
        for service in config.PORTED:
            path = "/ready" if service in SERVICES else "/health"
            if client.http.get(client.url(service, path), timeout=2).status_code != 200:
                return False
        return True

    wait_for("every service to be ready", all_ready, timeout=timeout, interval=0.5)


def task_for(client: Client, user: str, declaration_id: str, stage: str) -> dict[str, Any] | None:
    page = client.call(
        user, "GET", "review", "/api/v1/tasks", params={"declaration_id": declaration_id, "stage": stage}
    )
    return page["items"][0] if page["items"] else None


def complete(client: Client, user: str, declaration_id: str, stage: str, decision: str) -> dict[str, Any]:
    task = wait_for(f"a {stage} task for {user}", lambda: task_for(client, user, declaration_id, stage))
    client.call(user, "POST", "review", f"/api/v1/tasks/{task['id']}/claim")
    client.call(
        user, "POST", "review", f"/api/v1/tasks/{task['id']}/complete", json={"decision": decision, "reason": None}
    )
    step(f"{user} completed {task['name']} at {task['organisation']}: {decision}")
    return task


def publicise(client: Client, user: str, declaration_id: str, kind: str, after: str) -> None:
    """Start a publicity, move the test clock past it, and wait for the diagram's timer to end it: the
    scheduler of `titles run` fires it and the next task (``after``) appears with nobody acting."""
    wait_for(f"the {kind} publicity task", lambda: task_for(client, user, declaration_id, f"{kind}_publicity"))
    started = client.call(
        user,
        "POST",
        "review",
        f"/api/v1/declarations/{declaration_id}/publicities",
        expect=(201,),
        json={"kind": kind, "evidence": f"{kind}-publicity-notice.pdf"},
    )
    step(
        f"{user} started the {kind} publicity: {started['starts_on']} to {started['ends_on']} "
        f"({started['working_days']} working days)"
    )
    client.call("title_office", "POST", "review", "/api/v1/clock/advance", json={"days": PAST_A_PUBLICITY_DAYS})
    step(f"title office moved the test clock past the publicity: today is {system_today(client)}")
    task = wait_for(
        f"the {kind} publicity's timer to fire (the scheduler)", lambda: task_for(client, user, declaration_id, after)
    )
    step(f"the {kind} publicity is over: {task['name']} appeared with nobody acting")


def run(client: Client, ready_timeout: float = 60.0) -> str:
    wait_until_ready(client, ready_timeout)
    step("all services ready")

    ensure_profile(client, step)
    declaration_id = submit_declaration(client, step, mode="social_review")

    complete(client, "unit", declaration_id, "unit_check", "approve")
    complete(client, "unit", declaration_id, "unit_recommendation", "recommend")
    publicise(client, "unit", declaration_id, "unit", "unit_recommend")
    complete(client, "unit", declaration_id, "unit_recommend", "approve")
    for user in DEPARTMENTS:
        complete(client, user, declaration_id, "department_check", "approve")
    complete(client, "committee", declaration_id, "committee_acceptance", "approve")
    if wait_for("the panel or the defence", lambda: _panel_stage(client, declaration_id)) == "schedule_defence":
        at = f"{system_today(client) + dt.timedelta(days=10)}T09:00:00+08:00"
        client.call(
            "committee",
            "POST",
            "review",
            f"/api/v1/declarations/{declaration_id}/defence",
            json={"at": at, "place": "天津市人才发展中心 3楼答辩室"},
        )
        step(f"committee scheduled the defence (答辩) at {at}")
        # the meeting (attendance, votes) is recorded after the defence it belongs to
        client.call("title_office", "POST", "review", "/api/v1/clock/advance", json={"days": 11})
        step(f"title office moved the test clock past the defence: today is {system_today(client)}")
    panel = client.call("committee", "GET", "review", f"/api/v1/declarations/{declaration_id}/panel")["panel"]
    step(f"panel drawn: {', '.join(panel)}")
    wait_for("the attendance task", lambda: task_for(client, "committee", declaration_id, "record_attendance"))
    client.call(
        "committee",
        "POST",
        "review",
        f"/api/v1/declarations/{declaration_id}/panel/attendance",
        json={"present": panel},
    )
    step(f"committee recorded the attendance: {len(panel)} of {len(panel)} present")
    for expert in panel:
        complete(client, expert, declaration_id, "expert_vote", "agree")
    tally = client.call("committee", "GET", "review", f"/api/v1/declarations/{declaration_id}/tally")
    step(f"tally: {tally['agree']} agree of {tally['present']} present")
    publicise(client, "committee", declaration_id, "result", "report_results")
    complete(client, "committee", declaration_id, "report_results", "approve")
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
        return next(
            (m for m in inbox["items"] if m["kind"] == "certificate_issued" and m["declaration_id"] == declaration_id),
            None,
        )

    message = wait_for("the applicant's certificate message", notified)
    step(f"applicant's inbox: {message['title']}")
    check_verification_page(client, issued)
    return issued["number"]


def check_verification_page(client: Client, certificate: dict[str, Any]) -> None:
    """Scan the QR code, as anyone would: its address opens the verification page, with no login."""
    url = client.url("certificate", "/verify")
    response = client.http.get(
        url, params={"number": certificate["number"], "code": certificate["verification_code"]}, timeout=client.timeout
    )
    if (
        response.status_code != 200
        or "text/html" not in response.headers.get("Content-Type", "")
        or certificate["number"] not in response.text
        or "有效" not in response.text
    ):
        raise ScenarioFailed(f"the verification page {url} answered {response.status_code}: {response.text[:300]}")
    step(f"verification page (the QR code's address) says 有效 for {certificate['number']}")


def _panel_stage(client: Client, declaration_id: str) -> str | None:
    for stage in ("schedule_defence", "record_attendance"):
        if task_for(client, "committee", declaration_id, stage):
            return stage
    return None


def main(ready_timeout: float = 60.0) -> int:
    print(f"scenario: social review against {config.service_url('declaration')} and friends", flush=True)
    try:
        number = run(Client(), ready_timeout)
    except (ScenarioFailed, *TRANSPORT_ERRORS) as exc:
        print(f"scenario failed: {exc}", file=sys.stderr, flush=True)
        return 1
    print(f"certificate: {number}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
