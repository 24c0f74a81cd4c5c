"""The review service's staff replica: staff accounts the profile service registers become
colleagues a task can be assigned to, without them ever opening a queue."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.conftest import wait_for
from tests.integration.review_flow_helpers import headers_for
from tests.integration.test_review import DEPT1, UNIT, deliver, envelope, register_staff, tasks_of
from tests.integration.test_review_office import review, submit  # noqa: F401 - the fixture


def staff_events(db: Any) -> list[dict[str, Any]]:
    with db.uow(readonly=True) as uow:
        rows = uow.session.scalars(
            select(db.outbox_model)
            .where(db.outbox_model.type == "profile.staff.registered.v1")
            .order_by(db.outbox_model.seq)
        )
        return [json.loads(r.body)["data"] for r in rows]


def known_staff(db: Any, subject: str) -> Any:
    from services.review.models import StaffMember

    with db.uow(readonly=True) as uow:
        return uow.session.get(StaffMember, subject)


def add_staff(client: Any, auth: Any, code: str, **body: Any) -> Any:
    return client.post(f"/api/v1/organisations/{code}/staff", headers=auth("title_office"), json=body)


def test_a_staff_account_is_announced_when_added_or_changed_only(demo, clients, auth):
    profile = clients["profile"]
    seeded = staff_events(demo["profile"])
    assert {"subject": "unit", "name": "王芳", "role": "unit", "organisation": UNIT} in seeded
    assert add_staff(profile, auth, UNIT, subject="unit-li", name="李红", role="unit").status_code == 201
    assert staff_events(demo["profile"])[len(seeded) :] == [
        {"subject": "unit-li", "name": "李红", "role": "unit", "organisation": UNIT}
    ]
    # The same account again: nothing new to tell.
    assert add_staff(profile, auth, UNIT, subject="unit-li", name="李红", role="unit").status_code == 201
    assert len(staff_events(demo["profile"])) == len(seeded) + 1
    # A new name is news.
    assert add_staff(profile, auth, UNIT, subject="unit-li", name="李红梅", role="unit").status_code == 201
    assert staff_events(demo["profile"])[-1]["name"] == "李红梅"


def test_a_registered_colleague_can_be_assigned_a_task_through_the_broker(review, clients, auth, workers):
    assert add_staff(clients["profile"], auth, UNIT, subject="unit-li", name="李红", role="unit").status_code == 201
    staff = wait_for("the new staff account in the review replica", lambda: known_staff(review, "unit-li"))
    assert (staff.role, staff.organisation, staff.name) == ("unit", UNIT, "李红")

    data = submit(review)
    [task] = tasks_of(review, data["declaration_id"], bpmn_id="unit_check")
    response = clients["review"].post(
        f"/api/v1/tasks/{task.id}/assign", headers=auth("unit"), json={"assignee": "unit-li"}
    )
    assert response.status_code == 200, response.get_json()
    [assigned] = tasks_of(review, data["declaration_id"], bpmn_id="unit_check")
    assert (assigned.status, assigned.claimed_by) == ("claimed", "unit-li")


def test_a_colleague_of_another_organisation_is_refused(review, clients, auth):
    assert register_staff(review, "dept1-wang", "department", DEPT1, "王军") == "done"
    data = submit(review)
    [task] = tasks_of(review, data["declaration_id"], bpmn_id="unit_check")
    response = clients["review"].post(
        f"/api/v1/tasks/{task.id}/assign", headers=auth("unit"), json={"assignee": "dept1-wang"}
    )
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert (error["field"], error["rule"]) == ("assignee", "colleague")
    assert DEPT1 in error["message"] and UNIT in error["message"]


def test_only_the_directory_makes_someone_assignable(review, clients, auth):
    """Opening a queue or being a demo user is not enough: review learns staff from the directory only."""
    data = submit(review)
    [task] = tasks_of(review, data["declaration_id"], bpmn_id="unit_check")
    client = clients["review"]
    # A second unit reviewer who has used the queue, but whom the directory never announced.
    clerk = headers_for("unit-zhao", "unit", UNIT, "赵敏")
    assert client.get("/api/v1/tasks", headers=clerk).status_code == 200
    assert known_staff(review, "unit-zhao") is None and known_staff(review, "unit") is None
    response = client.post(f"/api/v1/tasks/{task.id}/assign", headers=auth("unit"), json={"assignee": "unit-zhao"})
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert (error["field"], error["rule"]) == ("assignee", "registered") and "unit-zhao" in error["message"]
    # Once the directory announces the account (a redelivery changes nothing), the assignment goes through.
    env = envelope(
        "profile.staff.registered.v1",
        {"subject": "unit-zhao", "name": "赵敏", "role": "unit", "organisation": UNIT},
        source="profile",
    )
    assert deliver(review, env, "on_staff_registered") == "done"
    assert deliver(review, env, "on_staff_registered") == "duplicate"
    response = client.post(f"/api/v1/tasks/{task.id}/assign", headers=auth("unit"), json={"assignee": "unit-zhao"})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["claimed_by"] == "unit-zhao"
