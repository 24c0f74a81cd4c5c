"""The review service's staff replica: staff accounts the profile service registers become
colleagues a task can be assigned to, without them ever opening a queue."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from tests.conftest import wait_for
from tests.integration.test_review import DEPT1, UNIT, tasks_of
from tests.integration.test_review_office import review, submit  # noqa: F401 - the fixture


def staff_events(db: Any) -> list[dict[str, Any]]:
    with db.uow(readonly=True) as uow:
        rows = uow.session.scalars(select(db.outbox_model).where(db.outbox_model.type == "profile.staff.registered.v1")
                                   .order_by(db.outbox_model.seq))
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
    assert staff_events(demo["profile"])[len(seeded):] == [
        {"subject": "unit-li", "name": "李红", "role": "unit", "organisation": UNIT}]
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
    response = clients["review"].post(f"/api/v1/tasks/{task.id}/assign", headers=auth("unit"),
                                      json={"assignee": "unit-li"})
    assert response.status_code == 200, response.get_json()
    [assigned] = tasks_of(review, data["declaration_id"], bpmn_id="unit_check")
    assert (assigned.status, assigned.claimed_by) == ("claimed", "unit-li")


def test_a_colleague_of_another_organisation_is_refused(review, clients, auth):
    from services.review import queues

    with review.uow() as uow:
        queues.staff_registered(uow, {"subject": "dept1-wang", "name": "王军", "role": "department",
                                      "organisation": DEPT1})
        uow.commit()
    data = submit(review)
    [task] = tasks_of(review, data["declaration_id"], bpmn_id="unit_check")
    response = clients["review"].post(f"/api/v1/tasks/{task.id}/assign", headers=auth("unit"),
                                      json={"assignee": "dept1-wang"})
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["rule"] == "colleague"
