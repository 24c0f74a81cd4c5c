"""Overdue tasks reach people: a task's service-level timer in the diagram fires, review flags and
announces the task once, and notify puts a notice in the inbox of every staff member of the task's
organisation and of the level above."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.integration.review_flow_helpers import (
    act,
    advance_clock,
    advance_to,
    headers_for,
    review_db,
    start,
    through_departments,
    through_unit,
)
from tests.integration.test_review import COMMITTEE, DEPT1, TITLE_OFFICE, UNIT, outbox, tasks_of


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def at_committee_acceptance(client: Any, auth: Any, db: Any) -> tuple[str, Any]:
    data, _ = start(db)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    [task] = tasks_of(db, declaration_id, bpmn_id="committee_acceptance", status="ready")
    return declaration_id, task


def inbox(client: Any, auth: Any, user: str) -> dict[str, Any]:
    response = client.get("/api/v1/messages", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def overdue_event(organisation: str | None, escalated_to: str | None, **overrides: Any) -> dict[str, Any]:
    return {
        "declaration_id": str(uuid.uuid4()),
        "task_id": str(uuid.uuid4()),
        "stage": "unit_check",
        "stage_name": "单位审核",
        "organisation": organisation,
        "escalated_to": escalated_to,
        "due_at": "2026-11-24T00:00:00+08:00",
        "at": dt.datetime.now(dt.UTC).isoformat(),
        **overrides,
    }


def consume(dbs: dict[str, Any], data: dict[str, Any], message_id: str | None = None) -> str:
    """What notify's consumer does with one delivery of the event."""
    from shared.messaging.consumer import process
    from shared.messaging.envelope import Envelope
    from shared.messaging.topology import subscriptions_of
    from titles import bootstrap

    env = Envelope(
        type="review.task.overdue.v1",
        source="review",
        data=data,
        correlation_id=data["declaration_id"],
        id=message_id or str(uuid.uuid4()),
    )
    [sub] = [s for s in subscriptions_of("notify") if env.type in s.types]
    return process(dbs["notify"], sub, env, bootstrap.service("notify").handlers()[env.type])


def test_an_overdue_boundary_timer_fires_once_per_task_and_announces_it_with_the_level_above(review, clients, auth):
    from shared import clock

    client = clients["review"]
    declaration_id, task = at_committee_acceptance(client, auth, review)
    advance_to(client, auth, task.due_at - dt.timedelta(seconds=1))
    assert outbox(review, "review.task.overdue.v1") == []

    advance_clock(client, auth, seconds=2)
    fired_at = clock.now()
    advance_clock(client, auth, 10)  # and later again: fired once, announced once
    [event] = outbox(review, "review.task.overdue.v1")
    at = dt.datetime.fromisoformat(event.pop("at"))
    assert task.due_at < at <= fired_at
    assert event == {
        "declaration_id": declaration_id,
        "task_id": task.id,
        "stage": "committee_acceptance",
        "stage_name": task.name,
        "organisation": COMMITTEE,
        "escalated_to": TITLE_OFFICE,
        "due_at": task.due_at.isoformat(),
    }
    [still] = tasks_of(review, declaration_id, bpmn_id="committee_acceptance")
    assert (still.status, still.overdue_at is not None, still.escalated_to) == ("ready", True, TITLE_OFFICE)


def test_the_committee_and_the_title_office_above_find_the_notice_in_their_inbox(review, clients, auth, workers):
    client = clients["notify"]
    declaration_id, task = at_committee_acceptance(clients["review"], auth, review)
    advance_to(clients["review"], auth, task.due_at + dt.timedelta(seconds=1))

    def arrived(user: str) -> Any:
        return lambda: [m for m in inbox(client, auth, user)["items"] if m["kind"].startswith("task_overdue")]

    [own] = wait_for("the overdue notice in the committee's inbox", arrived("committee"))
    [above] = wait_for("the overdue notice in the title office's inbox", arrived("title_office"))
    assert (own["kind"], own["recipient_organisation"], own["declaration_id"]) == (
        "task_overdue",
        COMMITTEE,
        declaration_id,
    )
    assert task.name in own["body"] and "超过办理时限" in own["body"]
    assert (above["kind"], above["recipient_organisation"]) == ("task_overdue_escalated", TITLE_OFFICE)
    assert "下级单位" in above["body"]
    # Nobody else: not the unit, the departments, the experts or the applicant.
    for user in ("unit", "dept1", "dept2", "applicant", "expert1"):
        assert [m for m in inbox(client, auth, user)["items"] if m["kind"].startswith("task_overdue")] == [], user
    act(clients["review"], auth, "committee", declaration_id, "committee_acceptance")  # done late


def test_an_organisations_notice_is_read_by_its_staff_only(dbs, clients, auth):
    client = clients["notify"]
    assert consume(dbs, overdue_event(UNIT, DEPT1)) == "done"
    unit = inbox(client, auth, "unit")
    [message] = unit["items"]
    assert (unit["total"], unit["unread"]) == (1, 1)
    assert "2026年11月24日00:00" in message["body"]
    assert client.get("/api/v1/messages/unread-count", headers=auth("unit")).get_json() == {"unread": 1}
    # Another organisation's staff can neither read it nor mark it read.
    response = client.post(f"/api/v1/messages/{message['id']}/read", headers=auth("dept2"))
    assert response.status_code == 403
    assert client.get(f"/api/v1/messages/{message['id']}/deliveries", headers=auth("dept2")).status_code == 403
    assert client.post(f"/api/v1/messages/{message['id']}/read", headers=auth("unit")).status_code == 200
    assert client.get("/api/v1/messages/unread-count", headers=auth("unit")).get_json() == {"unread": 0}
    assert client.get(f"/api/v1/messages/{message['id']}/deliveries", headers=auth("unit")).get_json() == []


def unread(client: Any, headers: dict[str, str]) -> int:
    response = client.get("/api/v1/messages/unread-count", headers=headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["unread"]


def test_each_clerk_reads_an_organisations_notice_for_themselves(dbs, clients, auth):
    client = clients["notify"]
    assert consume(dbs, overdue_event(UNIT, DEPT1)) == "done"
    wang, zhao = auth("unit"), headers_for("unit-zhao", "unit", UNIT, "赵敏")
    [message] = inbox(client, auth, "unit")["items"]
    assert unread(client, wang) == unread(client, zhao) == 1

    # One clerk reading it does not hide it from a colleague.
    read = client.post(f"/api/v1/messages/{message['id']}/read", headers=wang)
    assert read.status_code == 200 and read.get_json()["read_at"] is not None
    assert client.post(f"/api/v1/messages/{message['id']}/read", headers=wang).status_code == 200  # twice: once
    assert (unread(client, wang), unread(client, zhao)) == (0, 1)
    theirs = client.get("/api/v1/messages", headers=zhao).get_json()
    assert (theirs["unread"], theirs["items"][0]["id"], theirs["items"][0]["read_at"]) == (1, message["id"], None)
    assert inbox(client, auth, "unit")["items"][0]["read_at"] == read.get_json()["read_at"]

    assert client.post(f"/api/v1/messages/{message['id']}/read", headers=zhao).status_code == 200
    assert (unread(client, wang), unread(client, zhao)) == (0, 0)
    # Marked unread again by one of them: unread for that one only.
    again = client.post(f"/api/v1/messages/{message['id']}/unread", headers=zhao)
    assert again.status_code == 200 and again.get_json()["read_at"] is None
    assert (unread(client, wang), unread(client, zhao)) == (0, 1)
    # The department above has its own notice, untouched by the unit's reading.
    assert unread(client, auth("dept1")) == 1
    with dbs["notify"].uow(readonly=True) as uow:
        from sqlalchemy import func, select

        from services.notify.models import OrganisationMessageRead

        assert uow.session.scalar(select(func.count()).select_from(OrganisationMessageRead)) == 1


def test_a_persons_own_message_is_read_and_unread_as_before(dbs, clients, auth):
    from services.notify import service

    with dbs["notify"].uow() as uow:
        own = service.deliver(
            uow,
            "unit",
            "organisation_message",
            {"declaration_id": str(uuid.uuid4()), "subject": "材料", "content": "请补充", "sender": "单位"},
        ).id
        uow.commit()
    client, wang = clients["notify"], auth("unit")
    assert unread(client, wang) == 1
    assert client.post(f"/api/v1/messages/{own}/read", headers=wang).get_json()["read_at"] is not None
    assert unread(client, wang) == 0
    assert (
        client.post(f"/api/v1/messages/{own}/read", headers=headers_for("unit-zhao", "unit", UNIT)).status_code == 403
    )  # a colleague does not read my own messages
    assert client.post(f"/api/v1/messages/{own}/unread", headers=wang).get_json()["read_at"] is None
    assert unread(client, wang) == 1


def test_a_redelivered_event_leaves_one_notice_per_organisation(dbs, clients, auth):
    data = overdue_event(UNIT, DEPT1)
    message_id = str(uuid.uuid4())
    assert consume(dbs, data, message_id) == "done"
    consume(dbs, data, message_id)
    for user in ("unit", "dept1"):
        assert inbox(clients["notify"], auth, user)["total"] == 1, user


def test_an_experts_late_vote_goes_to_the_committee_office_once_and_not_to_experts(dbs, clients, auth):
    # An expert's task is flagged to the committee, which is also the level above: one notice.
    consume(dbs, overdue_event(COMMITTEE, COMMITTEE, stage="expert_vote", stage_name="专家评审"))
    [message] = inbox(clients["notify"], auth, "committee")["items"]
    assert message["kind"] == "task_overdue"
    for expert in ("expert1", "expert2"):
        assert inbox(clients["notify"], auth, expert)["total"] == 0, expert


def test_the_title_office_has_nobody_above_it(dbs, clients, auth):
    consume(dbs, overdue_event(TITLE_OFFICE, None, stage="title_office_filing", stage_name="职称办备案"))
    assert inbox(clients["notify"], auth, "title_office")["total"] == 1
    assert all(inbox(clients["notify"], auth, user)["total"] == 0 for user in ("unit", "dept1", "committee"))
