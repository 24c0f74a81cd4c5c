"""Helpers for the review flow tests: drive a declaration through the diagrams over HTTP."""
from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.test_review import (COMMITTEE, UNIT, complete, deliver, envelope, instance_of, only_task,
                                           outbox, queue, register, register_directory, start, submitted,
                                           tasks_of)

__all__ = ["COMMITTEE", "UNIT", "complete", "deliver", "envelope", "instance_of", "only_task", "outbox", "queue",
           "register", "register_directory", "start", "submitted", "tasks_of"]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def act(client: Any, auth: Any, user: str, declaration_id: str, stage: str, decision: str = "approve",
        reason: str | None = None) -> dict[str, Any]:
    task = only_task(client, auth(user), declaration_id, stage)
    return ok(complete(client, auth(user), task["id"], decision, reason))


def advance_clock(client: Any, auth: Any, days: int) -> None:
    ok(client.post("/api/v1/clock/advance", headers=auth("title_office"), json={"days": days}))


def publicise(client: Any, auth: Any, user: str, declaration_id: str, kind: str) -> dict[str, Any]:
    return ok(client.post(f"/api/v1/declarations/{declaration_id}/publicities", headers=auth(user),
                          json={"kind": kind, "evidence": "notice.pdf"}), 201)


def through_unit(client: Any, auth: Any, declaration_id: str) -> None:
    act(client, auth, "unit", declaration_id, "unit_check")
    act(client, auth, "unit", declaration_id, "unit_recommendation", "recommend")
    publicise(client, auth, "unit", declaration_id, "unit")
    advance_clock(client, auth, 14)
    act(client, auth, "unit", declaration_id, "unit_recommend")


def through_departments(client: Any, auth: Any, declaration_id: str, users: tuple[str, ...] = ("dept1", "dept2")
                        ) -> None:
    for user in users:
        act(client, auth, user, declaration_id, "department_check")


def attend(client: Any, auth: Any, declaration_id: str, present: list[str], status: int = 200) -> Any:
    return ok(client.post(f"/api/v1/declarations/{declaration_id}/panel/attendance", headers=auth("committee"),
                          json={"present": present}), status)


def panel_of(client: Any, auth: Any, declaration_id: str) -> list[str]:
    return ok(client.get(f"/api/v1/declarations/{declaration_id}/panel", headers=auth("committee")))["panel"]


def vote_all(client: Any, auth: Any, declaration_id: str, choices: dict[str, str]) -> None:
    for expert, choice in choices.items():
        act(client, auth, expert, declaration_id, "expert_vote", choice)


def after_vote(client: Any, auth: Any, declaration_id: str) -> None:
    publicise(client, auth, "committee", declaration_id, "result")
    advance_clock(client, auth, 14)
    act(client, auth, "committee", declaration_id, "report_results")
    act(client, auth, "title_office", declaration_id, "title_office_filing")


def certificate_issued(db: Any, data: dict[str, Any]) -> None:
    issued = {"certificate_id": "c-" + data["declaration_id"][:8], "number": "TJ-2026-000001",
              "declaration_id": data["declaration_id"], "holder": data["applicant"], "holder_name": "张伟",
              "series": data["series"], "level": data["level"], "specialty": data["specialty"],
              "qualification_name": data["qualification_name"], "issued_on": dt.date.today().isoformat()}
    assert deliver(db, envelope("certificate.issued.v1", issued, source="certificate"),
                   "on_certificate_issued") == "done"
