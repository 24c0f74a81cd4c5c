"""One independent-appointment (自主聘任) lifecycle over HTTP, as ``make bench`` runs it.

The applicant's profile is filled as in ``make scenario``, except that the title certificate recorded is
助理工程师 (2014), which the 工程师 eligibility counts years from (a profile keeps only the highest
title certificate, and ``make scenario``'s applicant already holds 工程师); the applicant opens an appointment request (no review
activity: 工程 中级 工程师 is appointable in the demo catalogue), submits it; the unit agrees to
appoint, the department chain checks, the title office checks; the lifecycle ends when the
certificate is issued, the declaration is completed and the applicant's notification is stored.
"""

from __future__ import annotations

from typing import Any

from scenario.client import Client, Fatal, wait_for
from scenario.declaration_steps import _submitted, ensure_yearly_record, wait_until_completed
from scenario.profile_steps import DEMO_PDF, _upload, ensure_profile
from scenario.social_review import DEPARTMENTS, complete

CHOICE = {
    "mode": "independent_appointment",
    "series": "工程",
    "level": "中级",
    "specialty": "软件工程",
    "qualification_name": "工程师",
    "category": "normal",
}


def quiet(message: str) -> None:
    pass


def ensure_assistant_title(client: Client) -> None:
    """工程师 needs 4 years since 助理工程师 with a bachelor's degree (demo eligibility rules). Recorded
    before ensure_profile, which then adds no title certificate of its own."""
    profile = client.call("applicant", "GET", "profile", "/api/v1/profile")
    if any(c["kind"] == "title" for c in profile["certificates"]):
        return
    client.call(
        "applicant",
        "POST",
        "profile",
        "/api/v1/profile/certificates",
        expect=(201,),
        json={
            "kind": "title",
            "name": "助理工程师",
            "level": "助理级",
            "obtained_by": "review",
            "issued_on": "2014-07-01",
            "issuer": "天津市人力资源和社会保障局",
            "attachment_id": _upload(client, "assistant-title.pdf", DEMO_PDF),
        },
    )


def submit_appointment(client: Client) -> str:
    ensure_yearly_record(client, quiet)  # annual assessments and continuing education, as make scenario does
    declaration_id = client.call(
        "applicant", "POST", "declaration", "/api/v1/declarations", expect=(202,), json=CHOICE
    )["id"]

    def drafted() -> dict[str, Any] | None:
        current = client.call("applicant", "GET", "declaration", f"/api/v1/declarations/{declaration_id}")
        if current["status"] == "refused":
            raise Fatal(f"appointment request refused: {current['refusal_reason']}")
        return current if current["status"] == "draft" else None

    wait_for("the profile snapshot", drafted)
    eligibility = client.call("applicant", "GET", "declaration", f"/api/v1/declarations/{declaration_id}/eligibility")
    if not eligibility["eligible"]:
        raise Fatal("the profile does not meet 工程师's normal category: " + "; ".join(eligibility["failures"]))
    # As make scenario does: a file uploaded a moment ago may not be known to the declaration service yet.
    wait_for("the submission", lambda: _submitted(client, declaration_id))
    return declaration_id


def run(client: Client) -> str:
    ensure_assistant_title(client)
    ensure_profile(client, quiet)
    declaration_id = submit_appointment(client)
    complete(client, "unit", declaration_id, "unit_appointment", "approve")
    for user in DEPARTMENTS:
        complete(client, user, declaration_id, "department_check", "approve")
    complete(client, "title_office", declaration_id, "title_office_check", "approve")

    def certificate() -> dict[str, Any] | None:
        mine = client.call("applicant", "GET", "certificate", "/api/v1/certificates")
        return next((c for c in mine if c["declaration_id"] == declaration_id), None)

    issued = wait_for("the certificate", certificate)
    wait_until_completed(client, declaration_id)

    def notified() -> dict[str, Any] | None:
        inbox = client.call("applicant", "GET", "notify", "/api/v1/messages", params={"per_page": 100})
        return next(
            (m for m in inbox["items"] if m["kind"] == "certificate_issued" and m["declaration_id"] == declaration_id),
            None,
        )

    wait_for("the applicant's certificate message", notified)
    return issued["number"]
