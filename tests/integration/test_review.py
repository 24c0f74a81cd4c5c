"""The review service: starting reviews, task queues, the whole social-review path,
instance persistence, the per-instance lock and the timer scheduler."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from shared.config import bpmn_dir
from shared.contracts.profile import OrganisationRegistered
from tests.conftest import wait_for

UNIT = "91120101MA05K1XT13"
DEPT1 = "111201010000123459"
DEPT2 = "11120000000067890J"
COMMITTEE = "12120000MB1234567L"
TITLE_OFFICE = "11120000000054321L"
EXPERTS = ("expert1", "expert2", "expert3")


# -- helpers -------------------------------------------------------------------


def _subscription(name: str) -> Any:
    from shared.messaging import topology

    return next(s for s in topology.subscriptions_of("review") if s.name == name)


def _handler(message_type: str) -> Any:
    from services.review.handlers import HANDLERS

    return HANDLERS[message_type]


def register(db: Any, code: str, kind: str, parent: str | None, name: str | None = None) -> None:
    from services.review import service

    with db.uow() as uow:
        service.organisation_registered(
            uow, OrganisationRegistered(code=code, name=name or code, kind=kind, parent=parent)
        )
        uow.commit()


def register_directory(db: Any) -> None:
    directory = json.loads(
        (Path(__file__).resolve().parents[2] / "shared" / "demo" / "directory.json").read_text("utf-8")
    )
    for org in directory["organisations"]:
        register(db, org["code"], org["kind"], org["parent"], org["name"])


def register_staff(db: Any, subject: str, role: str, organisation: str, name: str = "同事") -> str:
    """A staff account as the profile directory announces it (profile.staff.registered.v1), consumed by
    review's wired handler: the only way review learns who a task may be assigned to."""
    env = envelope(
        "profile.staff.registered.v1",
        {"subject": subject, "name": name, "role": role, "organisation": organisation},
        source="profile",
    )
    return deliver(db, env, "on_staff_registered")


def submitted(declaration_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    data = {
        "declaration_id": declaration_id or str(uuid.uuid4()),
        "applicant": "applicant",
        "applicant_name": "张伟",
        "id_number": "120101198806120032",
        "unit_code": UNIT,
        "activity_id": "act-2024-eng",
        "committee_code": COMMITTEE,
        "committee_name": "天津市工程技术系列高级职称评审委员会",
        "mode": "social_review",
        "series": "engineering",
        "level": "senior",
        "specialty": "software",
        "qualification_name": "高级工程师",
        "category": "normal",
        "panel_size": 3,
        "submitted_at": "2024-05-06T10:30:00+08:00",
    }
    data.update(overrides)
    return data


def envelope(message_type: str, data: dict[str, Any], source: str = "declaration") -> Any:
    from shared.messaging.envelope import Envelope

    return Envelope(type=message_type, source=source, data=data, correlation_id=data.get("declaration_id"))


def deliver(db: Any, env: Any, subscription: str) -> str:
    from shared.messaging.consumer import process

    return process(db, _subscription(subscription), env, _handler(env.type))


def start(db: Any, **overrides: Any) -> tuple[dict[str, Any], Any]:
    data = submitted(**overrides)
    env = envelope("declaration.submitted.v1", data)
    assert deliver(db, env, "on_declaration_submitted") == "done"
    return data, env


def outbox(db: Any, message_type: str, declaration_id: str | None = None) -> list[dict[str, Any]]:
    with db.uow(readonly=True) as uow:
        rows = uow.session.scalars(
            select(db.outbox_model).where(db.outbox_model.type == message_type).order_by(db.outbox_model.seq)
        )
        bodies = [json.loads(r.body)["data"] for r in rows]
    return [b for b in bodies if declaration_id is None or b.get("declaration_id") == declaration_id]


def tasks_of(db: Any, declaration_id: str, **where: Any) -> list[Any]:
    from services.review.models import Task

    with db.uow(readonly=True) as uow:
        query = select(Task).where(Task.declaration_id == declaration_id)
        for key, value in where.items():
            query = query.where(getattr(Task, key) == value)
        return list(uow.session.scalars(query.order_by(Task.created_at, Task.id)))


def instance_of(db: Any, declaration_id: str) -> Any:
    from services.review.models import Instance

    with db.uow(readonly=True) as uow:
        return uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))


def count(db: Any, model: Any) -> int:
    with db.uow(readonly=True) as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def queue(client: Any, headers: dict[str, str], declaration_id: str | None = None) -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/tasks", headers=headers, query_string={"declaration_id": declaration_id} if declaration_id else None
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def only_task(client: Any, headers: dict[str, str], declaration_id: str, stage: str) -> dict[str, Any]:
    items = [t for t in queue(client, headers, declaration_id) if t["stage"] == stage]
    assert len(items) == 1, items
    return items[0]


def complete(
    client: Any, headers: dict[str, str], task_id: str, decision: str = "approve", reason: str | None = None
) -> Any:
    body: dict[str, Any] = {"decision": decision}
    if reason is not None:
        body["reason"] = reason
    return client.post(f"/api/v1/tasks/{task_id}/complete", headers=headers, json=body)


def unit_recommends(db: Any, declaration_id: str, unit_code: str = UNIT) -> None:
    """After the unit check: the recommendation committee, the unit publicity (the test clock moved
    past it) and the recommendation upward."""
    from services.review import publicity, service
    from shared.identity.principal import Principal

    unit = Principal("u9", "unit", unit_code)
    with db.uow() as uow:
        [task] = tasks_of(db, declaration_id, bpmn_id="unit_recommendation", status="ready")
        service.complete(uow, unit, task.id, "recommend", None)
        publicity.start(uow, unit, declaration_id, "unit", None, None)
        uow.commit()
    pass_days(db, 15)  # the publicity's timer fires: "recommend upward" appears
    with db.uow() as uow:
        [task] = tasks_of(db, declaration_id, bpmn_id="unit_recommend", status="ready")
        service.complete(uow, unit, task.id, "approve", None)
        uow.commit()


def fire_due(db: Any) -> int:
    """The review scheduler's passes over every due timer, as ``titles scheduler`` ticks; returns how
    many instances it advanced."""
    from services.review import scheduler

    fired = total = scheduler.fire_due(db)
    while fired:
        fired = scheduler.fire_due(db)
        total += fired
    return total


def pass_days(db: Any, days: int) -> None:
    """Move the system's test clock forward (audited as the tests) and let the scheduler fire."""
    from services.review import clock

    with db.uow() as uow:
        clock.advance(uow, days=days, by="tests")
    fire_due(db)


def approve_until_panel(client: Any, auth: Any, declaration_id: str, db: Any = None) -> None:
    for user, stage in (
        ("unit", "unit_check"),
        ("dept1", "department_check"),
        ("dept2", "department_check"),
        ("committee", "committee_acceptance"),
    ):
        if user == "dept1":
            unit_recommends(db, declaration_id)
        task = only_task(client, auth(user), declaration_id, stage)
        response = complete(client, auth(user), task["id"], reason=f"{user} ok")
        assert response.status_code == 200, response.get_json()
    attend_all(client, auth, declaration_id)


def after_votes(db: Any, declaration_id: str) -> None:
    """A passed vote: the result publicity (passed on the test clock) and the report to the title office."""
    from services.review import publicity, service
    from shared.identity.principal import Principal

    if not tasks_of(db, declaration_id, bpmn_id="result_publicity", status="ready"):
        return
    office = Principal("c9", "committee", COMMITTEE)
    with db.uow() as uow:
        publicity.start(uow, office, declaration_id, "result", None, None)
        uow.commit()
    pass_days(db, 15)
    with db.uow() as uow:
        [task] = tasks_of(db, declaration_id, bpmn_id="report_results", status="ready")
        service.complete(uow, office, task.id, "approve", None)
        uow.commit()


def client_db(client: Any) -> Any:
    from shared.web.app import database

    with client.application.app_context():
        return database()


def attend_all(client: Any, auth: Any, declaration_id: str) -> list[str]:
    panel = client.get(f"/api/v1/declarations/{declaration_id}/panel", headers=auth("committee")).get_json()["panel"]
    response = client.post(
        f"/api/v1/declarations/{declaration_id}/panel/attendance", headers=auth("committee"), json={"present": panel}
    )
    assert response.status_code == 200, response.get_json()
    return panel


def vote(client: Any, auth: Any, declaration_id: str, choices: dict[str, str]) -> None:
    if not any(t["stage"] == "expert_vote" for e in choices for t in queue(client, auth(e), declaration_id)):
        attend_all(client, auth, declaration_id)
    for expert, choice in choices.items():
        task = only_task(client, auth(expert), declaration_id, "expert_vote")
        response = complete(client, auth(expert), task["id"], choice, reason="secret opinion")
        assert response.status_code == 200, response.get_json()
    after_votes(client_db(client), declaration_id)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Demo data with the review service's directory replica filled directly."""
    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")  # publicity periods are passed on the test clock
    register_directory(demo["review"])
    return demo["review"]


# -- starting ------------------------------------------------------------------


def test_the_directory_replica_is_filled_by_profile_events(demo, workers):
    from importlib import resources

    from services.review.models import Organisation

    directory = json.loads(resources.files("shared.demo").joinpath("directory.json").read_text("utf-8"))
    wait_for("the directory replica", lambda: count(demo["review"], Organisation) == len(directory["organisations"]))
    workers.close()
    with demo["review"].uow(readonly=True) as uow:
        unit = uow.session.get(Organisation, UNIT)
        assert (unit.kind, unit.parent_code) == ("unit", DEPT1)
    data, _ = start(demo["review"])
    assert [t.bpmn_id for t in tasks_of(demo["review"], data["declaration_id"])] == ["unit_check"]


def test_a_submitted_declaration_starts_one_instance_on_the_latest_definition(review):
    from services.review.engine import definitions
    from services.review.models import Definition, Instance

    bpmn = (definitions.bpmn_dir() / "social_review.bpmn").read_bytes()
    newer = bpmn + b"\n<!-- a newer version -->\n"
    with review.uow() as uow:
        definition, new = definitions.deploy(uow, "social_review.bpmn", newer)
        uow.commit()
    # A version's id hashes its file and the processes it calls (return_and_resubmit.bpmn).
    assert new and definition.bpmn.encode("utf-8") == newer and definition.calls
    assert definition.id not in (definitions.content_hash(newer), definitions.content_hash(bpmn))

    data, _ = start(review)
    instance = instance_of(review, data["declaration_id"])
    assert instance.definition_id == definition.id
    assert (instance.status, instance.process_id, instance.applicant) == ("running", "social_review", "applicant")
    # the diagrams of bpmn/ (three modes and the processes they call), and the newer one
    assert count(review, Instance) == 1 and count(review, Definition) == len(list(bpmn_dir().glob("*.bpmn"))) + 1

    [task] = tasks_of(review, data["declaration_id"])
    assert (task.bpmn_id, task.role, task.organisation, task.status) == ("unit_check", "unit", UNIT, "ready")
    assert task.summary["applicant_name"] == "张伟" and task.summary["unit_code"] == UNIT
    [stage] = outbox(review, "review.stage.changed.v1", data["declaration_id"])
    assert (stage["stage"], stage["role"], stage["organisation"]) == ("unit_check", "unit", UNIT)


def test_a_declaration_starts_once(review):
    from services.review.models import Instance, Task

    data, env = start(review)
    assert deliver(review, env, "on_declaration_submitted") == "duplicate"
    again = envelope("declaration.submitted.v1", data)  # another message for the same declaration
    assert deliver(review, again, "on_declaration_submitted") == "done"
    assert count(review, Instance) == 1 and count(review, Task) == 1
    assert len(outbox(review, "review.stage.changed.v1")) == 1


def test_a_unit_missing_from_the_replica_fails_so_the_consumer_retries(review):
    from services.review.models import Instance, Task

    env = envelope("declaration.submitted.v1", submitted(unit_code="91120101UNKNOWN001"))
    with pytest.raises(LookupError, match="not \\(yet\\)"):
        deliver(review, env, "on_declaration_submitted")
    assert count(review, Instance) == 0 and count(review, Task) == 0
    assert count(review, review.outbox_model) == 0
    assert count(review, review.inbox_model) == 0  # so the retry is not taken for a duplicate
    # Once the directory event arrives, the retry starts the review.
    register(review, "91120101UNKNOWN001", "unit", DEPT1)
    assert deliver(review, env, "on_declaration_submitted") == "done"
    assert count(review, Instance) == 1


def test_a_one_level_chain_gives_one_department_task(review, clients, auth):
    register(review, "91120000DIRECT0001", "unit", DEPT2)
    data, _ = start(review, unit_code="91120000DIRECT0001")
    [task] = tasks_of(review, data["declaration_id"])
    assert task.organisation == "91120000DIRECT0001"
    from services.review import service
    from shared.identity.principal import Principal

    with review.uow() as uow:
        service.complete(uow, Principal("u9", "unit", "91120000DIRECT0001"), task.id, "approve", None)
        uow.commit()
    unit_recommends(review, data["declaration_id"], "91120000DIRECT0001")
    departments = tasks_of(review, data["declaration_id"], bpmn_id="department_check")
    assert [(t.organisation, t.status) for t in departments] == [(DEPT2, "ready")]
    response = complete(clients["review"], auth("dept2"), departments[0].id)
    assert response.status_code == 200, response.get_json()
    assert [t.bpmn_id for t in tasks_of(review, data["declaration_id"], status="ready")] == ["committee_acceptance"]


def test_a_three_level_chain_gives_three_department_tasks_in_order(review):
    from services.review import service
    from shared.identity.principal import Principal

    register(review, "111201019999999999", "department", DEPT1)
    register(review, "91120101DEEP000001", "unit", "111201019999999999")
    data, _ = start(review, unit_code="91120101DEEP000001")
    [task] = tasks_of(review, data["declaration_id"])
    with review.uow() as uow:
        service.complete(uow, Principal("u9", "unit", "91120101DEEP000001"), task.id, "approve", None)
        uow.commit()
    unit_recommends(review, data["declaration_id"], "91120101DEEP000001")
    seen = []
    for expected in ("111201019999999999", DEPT1, DEPT2):
        [open_task] = tasks_of(review, data["declaration_id"], bpmn_id="department_check", status="ready")
        assert open_task.organisation == expected
        seen.append(open_task.organisation)
        with review.uow() as uow:
            service.complete(uow, Principal(f"d-{expected}", "department", expected), open_task.id, "approve", None)
            uow.commit()
    assert seen == ["111201019999999999", DEPT1, DEPT2]
    assert [t.bpmn_id for t in tasks_of(review, data["declaration_id"], status="ready")] == ["committee_acceptance"]
    stages = [(s["stage"], s["organisation"]) for s in outbox(review, "review.stage.changed.v1")]
    assert stages == [
        ("unit_check", "91120101DEEP000001"),
        ("unit_recommendation", "91120101DEEP000001"),
        ("unit_publicity", "91120101DEEP000001"),
        ("unit_recommend", "91120101DEEP000001"),
        ("department_check", "111201019999999999"),
        ("department_check", DEPT1),
        ("department_check", DEPT2),
        ("committee_acceptance", COMMITTEE),
    ]


# -- task queues over HTTP -------------------------------------------------------


def test_each_reviewer_sees_only_their_own_queue(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    unit_task = only_task(client, auth("unit"), declaration_id, "unit_check")
    assert unit_task["organisation"] == UNIT and unit_task["decisions"] == ["approve", "return"]
    assert unit_task["summary"]["qualification_name"] == "高级工程师"
    for user in ("dept1", "dept2", "committee", "expert1", "title_office"):
        assert queue(client, auth(user)) == [], user
    assert client.get(f"/api/v1/tasks/{unit_task['id']}", headers=auth("dept1")).status_code == 403
    assert client.get("/api/v1/tasks", headers=auth("applicant")).status_code == 403

    assert complete(client, auth("unit"), unit_task["id"]).status_code == 200
    assert [t["stage"] for t in queue(client, auth("unit"))] == ["unit_recommendation"]
    unit_recommends(review, declaration_id)
    assert queue(client, auth("unit")) == []
    assert [t["organisation"] for t in queue(client, auth("dept1"))] == [DEPT1]
    assert queue(client, auth("dept2")) == []
    done = client.get("/api/v1/tasks", headers=auth("unit"), query_string={"status": "completed"}).get_json()
    assert [(t["stage"], t["completed_by"], t["decision"]) for t in done["items"]][0] == (
        "unit_check",
        "unit",
        "approve",
    )


def test_claim_unclaim_and_complete_rules(review, clients, auth):
    from services.review.models import Task

    client = clients["review"]
    # A colleague in the same unit.
    data, _ = start(review)
    task_id = only_task(client, auth("unit"), data["declaration_id"], "unit_check")["id"]

    claimed = client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth("unit"))
    assert claimed.status_code == 200 and claimed.get_json()["claimed_by"] == "unit"
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth("unit")).status_code == 200  # again: fine

    from services.review import service
    from shared.errors import Conflict
    from shared.identity.principal import Principal

    colleague = Principal("unit-colleague", "unit", UNIT)
    with review.uow() as uow, pytest.raises(Conflict) as second:
        service.claim(uow, colleague, task_id)
    assert second.value.errors[0].rule == "unclaimed"
    with review.uow() as uow, pytest.raises(Conflict) as release:
        service.unclaim(uow, colleague, task_id)
    assert release.value.errors[0].rule == "claimed_by_you"
    with review.uow() as uow, pytest.raises(Conflict) as finish:
        service.complete(uow, colleague, task_id, "approve", None)
    assert finish.value.errors[0].rule == "unclaimed"

    released = client.post(f"/api/v1/tasks/{task_id}/unclaim", headers=auth("unit"))
    assert released.status_code == 200 and released.get_json()["claimed_by"] is None
    unclaim_again = client.post(f"/api/v1/tasks/{task_id}/unclaim", headers=auth("unit"))
    assert unclaim_again.status_code == 409
    assert unclaim_again.get_json()["errors"][0]["rule"] == "claimed_by_you"

    # Claimed by the colleague: the demo user gets 409 "unclaimed" over HTTP.
    with review.uow() as uow:
        service.claim(uow, colleague, task_id)
        uow.commit()
    taken = client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth("unit"))
    assert taken.status_code == 409
    assert taken.mimetype == "application/problem+json"
    assert taken.get_json()["errors"][0]["rule"] == "unclaimed"
    assert client.post(f"/api/v1/tasks/{task_id}/unclaim", headers=auth("unit")).status_code == 409
    with review.uow() as uow:
        service.unclaim(uow, colleague, task_id)
        uow.commit()

    wrong = complete(client, auth("unit"), task_id, "reject")
    assert wrong.status_code == 422
    assert [(e["field"], e["rule"]) for e in wrong.get_json()["errors"]] == [("decision", "allowed_decision")]
    missing = client.post(f"/api/v1/tasks/{task_id}/complete", headers=auth("unit"), json={})
    assert missing.status_code == 422

    other_org = complete(client, auth("dept1"), task_id)
    assert other_org.status_code == 403
    assert other_org.get_json()["errors"][0]["rule"] == "own_queue"

    done = complete(client, auth("unit"), task_id, reason="材料齐全")
    assert done.status_code == 200, done.get_json()
    assert (done.get_json()["status"], done.get_json()["completed_by"]) == ("completed", "unit")
    twice = complete(client, auth("unit"), task_id)
    assert twice.status_code == 409 and twice.get_json()["errors"][0]["rule"] == "already_done"
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth("unit")).status_code == 409
    assert (
        client.post(
            "/api/v1/tasks/no-such-task/complete", headers=auth("unit"), json={"decision": "approve"}
        ).status_code
        == 404
    )

    [trail] = outbox(review, "review.decision.recorded.v1", data["declaration_id"])
    assert (trail["stage"], trail["decision"], trail["reason"], trail["actor"], trail["organisation"]) == (
        "unit_check",
        "approve",
        "材料齐全",
        "unit",
        UNIT,
    )
    with review.uow(readonly=True) as uow:
        assert uow.session.get(Task, task_id).reason == "材料齐全"


def test_a_first_claim_tells_the_declaration_who_claimed_whose_task(review, clients, auth):
    """review.task.claimed.v1 names the applicant (from the task's row; from the instance's for a task projected
    before the row had it), once a task: claiming again publishes nothing."""
    from services.review.models import Task

    client = clients["review"]
    data, _ = start(review, applicant="applicant-claimed")
    task_id = only_task(client, auth("unit"), data["declaration_id"], "unit_check")["id"]
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth("unit")).status_code == 200
    assert client.post(f"/api/v1/tasks/{task_id}/claim", headers=auth("unit")).status_code == 200
    claimed = outbox(review, "review.task.claimed.v1", data["declaration_id"])
    assert [(c["applicant"], c["stage"], c["organisation"], c["actor"]) for c in claimed] == [
        ("applicant-claimed", "unit_check", UNIT, "unit")
    ]

    other, _ = start(review, applicant="applicant-older-row")
    older_id = only_task(client, auth("unit"), other["declaration_id"], "unit_check")["id"]
    with review.uow() as uow:
        uow.session.execute(update(Task).where(Task.id == older_id).values(applicant=None))
        uow.commit()
    assert client.post(f"/api/v1/tasks/{older_id}/claim", headers=auth("unit")).status_code == 200
    assert [c["applicant"] for c in outbox(review, "review.task.claimed.v1", other["declaration_id"])] == [
        "applicant-older-row"
    ]


def test_expert_votes_are_secret_and_personal(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    approve_until_panel(client, auth, declaration_id, review)
    assert queue(client, auth("committee"), declaration_id) == []

    votes = {e: only_task(client, auth(e), declaration_id, "expert_vote") for e in EXPERTS}
    assert len({t["id"] for t in votes.values()}) == 3
    assert all(t["decisions"] == ["agree", "disagree", "abstain"] for t in votes.values())
    # An expert cannot see or act on another expert's task.
    assert client.get(f"/api/v1/tasks/{votes['expert2']['id']}", headers=auth("expert1")).status_code == 403
    assert complete(client, auth("expert1"), votes["expert2"]["id"], "agree").status_code == 403
    assert complete(client, auth("committee"), votes["expert1"]["id"], "agree").status_code == 403

    assert complete(client, auth("expert1"), votes["expert1"]["id"], "disagree", "weak papers").status_code == 200
    recorded = [t for t in outbox(review, "review.decision.recorded.v1", declaration_id) if t["stage"] == "expert_vote"]
    assert [(t["decision"], t["reason"], t["actor"]) for t in recorded] == [("voted", None, "expert1")]
    assert "disagree" not in json.dumps(outbox(review, "review.decision.recorded.v1", declaration_id))


# -- the whole path ----------------------------------------------------------------


def test_the_whole_social_review_path_ends_certified(review, clients, auth):
    from services.review.models import Expert, PanelDraw

    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    approve_until_panel(client, auth, declaration_id, review)

    with review.uow(readonly=True) as uow:
        [draw] = uow.session.scalars(select(PanelDraw).where(PanelDraw.declaration_id == declaration_id)).all()
        pool = sorted(uow.session.scalars(select(Expert.subject).where(Expert.committee_code == COMMITTEE)))
    assert draw.committee_code == COMMITTEE and draw.pool == pool
    assert len(draw.panel) == 3 and set(draw.panel) <= set(pool)
    assert random.Random(draw.seed).sample(draw.pool, 3) == draw.panel
    expert_tasks = tasks_of(review, declaration_id, bpmn_id="expert_vote")
    assert sorted(t.assignee for t in expert_tasks) == sorted(draw.panel)
    assert all((t.role, t.organisation) == ("expert", COMMITTEE) for t in expert_tasks)

    vote(client, auth, declaration_id, {"expert1": "agree", "expert2": "agree", "expert3": "agree"})
    filing = only_task(client, auth("title_office"), declaration_id, "title_office_filing")
    assert outbox(review, "certificate.issue.v1") == []
    assert complete(client, auth("title_office"), filing["id"], reason="备案").status_code == 200

    [command] = outbox(review, "certificate.issue.v1")
    assert command["declaration_id"] == declaration_id
    assert (command["holder"], command["holder_name"], command["id_number"]) == (
        "applicant",
        "张伟",
        "120101198806120032",
    )
    for key in ("series", "level", "specialty", "qualification_name", "mode", "committee_name"):
        assert command[key] == data[key], key
    assert len(command["approved_on"]) == 10
    assert instance_of(review, declaration_id).status == "running"
    assert outbox(review, "review.completed.v1") == []

    issued = envelope(
        "certificate.issued.v1",
        {
            "certificate_id": str(uuid.uuid4()),
            "number": "TJ-2024-000001",
            "declaration_id": declaration_id,
            "holder": "applicant",
            "holder_name": "张伟",
            "series": data["series"],
            "level": data["level"],
            "specialty": data["specialty"],
            "qualification_name": data["qualification_name"],
            "issued_on": command["approved_on"],
        },
        source="certificate",
    )
    assert deliver(review, issued, "on_certificate_issued") == "done"
    instance = instance_of(review, declaration_id)
    assert (instance.status, instance.outcome) == ("completed", "certified")
    [completed] = outbox(review, "review.completed.v1")
    assert (completed["declaration_id"], completed["outcome"], completed["applicant"]) == (
        declaration_id,
        "certified",
        "applicant",
    )
    assert tasks_of(review, declaration_id, status="ready") == []
    # A late duplicate of the event (another message id) changes nothing.
    again = envelope("certificate.issued.v1", dict(issued.data), source="certificate")
    assert deliver(review, again, "on_certificate_issued") == "done"
    assert len(outbox(review, "review.completed.v1")) == 1

    stages = [s["stage"] for s in outbox(review, "review.stage.changed.v1", declaration_id)]
    # The three expert tasks of one committee are one stage change.
    assert stages == [
        "unit_check",
        "unit_recommendation",
        "unit_publicity",
        "unit_recommend",
        "department_check",
        "department_check",
        "committee_acceptance",
        "record_attendance",
        "expert_vote",
        "result_publicity",
        "report_results",
        "title_office_filing",
    ]


@pytest.mark.parametrize(
    "choices, outcome",
    [
        (("agree", "disagree", "disagree"), "not_passed"),
        (("agree", "agree", "disagree"), "passed"),  # 2/3 is enough (the boundary counts)
        (("agree", "agree", "abstain"), "passed"),
    ],
)
def test_the_vote_decides(review, clients, auth, choices, outcome):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    approve_until_panel(client, auth, declaration_id, review)
    vote(client, auth, declaration_id, dict(zip(EXPERTS, choices)))
    instance = instance_of(review, declaration_id)
    if outcome == "not_passed":  # the applicant may ask for re-examination (复查) before it ends so
        assert instance.status == "running"
        assert [o["declaration_id"] for o in outbox(review, "review.re_examination.opened.v1")] == [declaration_id]
        assert outbox(review, "review.completed.v1") == []
        assert tasks_of(review, declaration_id, bpmn_id="title_office_filing") == []
    else:
        assert instance.status == "running"
        assert len(tasks_of(review, declaration_id, bpmn_id="title_office_filing", status="ready")) == 1
        assert outbox(review, "review.completed.v1") == []
    assert outbox(review, "certificate.issue.v1") == []


def test_a_pool_too_small_sends_the_committee_office_to_enlarge_it(review, clients, auth):
    from services.review.models import Expert, PanelDraw

    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    for user, stage in (("unit", "unit_check"), ("dept1", "department_check"), ("dept2", "department_check")):
        assert (
            complete(client, auth(user), only_task(client, auth(user), declaration_id, stage)["id"]).status_code == 200
        )
        if user == "unit":
            unit_recommends(review, declaration_id)
    with review.uow() as uow:
        uow.session.delete(uow.session.get(Expert, (COMMITTEE, "expert3")))
        uow.commit()

    # The acceptance completes; the draw finds two experts for a panel of three and draws nothing.
    task = only_task(client, auth("committee"), declaration_id, "committee_acceptance")
    assert complete(client, auth("committee"), task["id"]).status_code == 200
    enlarge = only_task(client, auth("committee"), declaration_id, "enlarge_pool")
    assert count(review, PanelDraw) == 0
    assert tasks_of(review, declaration_id, bpmn_id="expert_vote") == []

    # With the pool restored, the office completes its task and the panel is drawn.
    with review.uow() as uow:
        uow.session.add(Expert(committee_code=COMMITTEE, subject="expert3", name="周军"))
        uow.commit()
    assert complete(client, auth("committee"), enlarge["id"]).status_code == 200
    assert count(review, PanelDraw) == 1
    attend_all(client, auth, declaration_id)
    assert len(tasks_of(review, declaration_id, bpmn_id="expert_vote")) == 3


# -- persistence -----------------------------------------------------------------


def test_the_instance_reloads_and_its_version_grows(review, clients, auth):
    from SpiffWorkflow.util.task import TaskState

    from services.review.engine import runtime

    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    first = instance_of(review, declaration_id).version
    with review.uow() as uow:
        with runtime.locked(uow, declaration_id=declaration_id) as (instance, workflow):
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            assert [t.task_spec.bpmn_id for t in ready] == ["unit_check"]
            assert ready[0].data["departments"] == [DEPT1, DEPT2]
            assert ready[0].data["title_office_code"] == TITLE_OFFICE
    versions = [first]
    for user, stage in (("unit", "unit_check"), ("dept1", "department_check")):
        task = only_task(client, auth(user), declaration_id, stage)
        assert complete(client, auth(user), task["id"]).status_code == 200
        if user == "unit":
            unit_recommends(review, declaration_id)
        versions.append(instance_of(review, declaration_id).version)
    assert versions == sorted(set(versions)) and len(versions) == 3
    with review.uow() as uow:
        with runtime.locked(uow, declaration_id=declaration_id) as (instance, workflow):
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            assert [(t.task_spec.bpmn_id, t.data["departments"][t.data["chain_level"]]) for t in ready] == [
                ("department_check", DEPT2)
            ]
            assert str(ready[0].id) == only_task(client, auth("dept2"), declaration_id, "department_check")["id"]


def test_processes_and_definitions_over_http(review, clients, auth):
    from services.review.engine import definitions

    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    with review.uow(readonly=True) as uow:
        expected = definitions.latest(uow, "social_review").id
    for user in ("unit", "title_office"):
        response = client.get(f"/api/v1/processes/{declaration_id}", headers=auth(user))
        assert response.status_code == 200, (user, response.get_json())
        body = response.get_json()
        assert (body["definition_id"], body["process_id"], body["status"]) == (expected, "social_review", "running")
    assert client.get(f"/api/v1/processes/{declaration_id}", headers=auth("dept1")).status_code == 403
    assert (
        complete(client, auth("unit"), only_task(client, auth("unit"), declaration_id, "unit_check")["id"]).status_code
        == 200
    )
    unit_recommends(review, declaration_id)
    assert client.get(f"/api/v1/processes/{declaration_id}", headers=auth("dept1")).status_code == 200
    assert client.get(f"/api/v1/processes/{declaration_id}", headers=auth("dept2")).status_code == 403
    assert client.get(f"/api/v1/processes/{declaration_id}", headers=auth("committee")).status_code == 403
    assert client.get("/api/v1/processes/no-such-declaration", headers=auth("title_office")).status_code == 404
    assert client.get(f"/api/v1/processes/{declaration_id}").status_code == 401

    listed = client.get("/api/v1/definitions", headers=auth("title_office"))
    assert listed.status_code == 200
    assert (expected, "social_review", "social_review.bpmn") in [
        (d["id"], d["process_id"], d["file_name"]) for d in listed.get_json()
    ]
    assert {d["process_id"] for d in listed.get_json()} == {p.stem for p in bpmn_dir().glob("*.bpmn")}


def test_an_expert_not_on_the_panel_does_not_see_the_process(review, clients, auth):
    from services.review import queues, service
    from services.review.models import PanelDraw
    from shared.errors import Forbidden
    from shared.identity.principal import Principal

    with review.uow() as uow:
        service.add_expert(uow, COMMITTEE, "expert4", "钱芳")
        uow.commit()
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    approve_until_panel(clients["review"], auth, declaration_id, review)
    with review.uow(readonly=True) as uow:
        draw = uow.session.scalar(select(PanelDraw).where(PanelDraw.declaration_id == declaration_id))
    assert len(draw.pool) == 4 and len(draw.panel) == 3
    [left_out] = set(draw.pool) - set(draw.panel)
    with review.uow(readonly=True) as uow:
        for expert in draw.panel:
            assert service.instance_of(uow, Principal(expert, "expert", COMMITTEE), declaration_id)
        with pytest.raises(Forbidden):
            service.instance_of(uow, Principal(left_out, "expert", COMMITTEE), declaration_id)
        items, total = queues.queue(uow, Principal(left_out, "expert", COMMITTEE), {}, 1, 20)
        assert (items, total) == ([], 0)


# -- concurrency -----------------------------------------------------------------


def test_two_experts_voting_at_once_both_count(review, clients, auth):
    from services.review import service
    from services.review.engine import runtime
    from shared.identity.principal import Principal

    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    approve_until_panel(client, auth, declaration_id, review)
    tasks = {t.assignee: t.id for t in tasks_of(review, declaration_id, bpmn_id="expert_vote")}
    version = instance_of(review, declaration_id).version

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def cast(expert: str) -> None:
        try:
            barrier.wait(timeout=10)
            with review.uow() as uow:
                service.complete(uow, Principal(expert, "expert", COMMITTEE), tasks[expert], "agree", None)
                time.sleep(0.05)  # widen the window a lost update would need
                uow.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=cast, args=(e,)) for e in ("expert1", "expert2")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert instance_of(review, declaration_id).version == version + 2
    assert sorted(t.assignee for t in tasks_of(review, declaration_id, bpmn_id="expert_vote", status="completed")) == [
        "expert1",
        "expert2",
    ]
    with review.uow() as uow:
        with runtime.locked(uow, declaration_id=declaration_id) as (_, workflow):
            from SpiffWorkflow.util.task import TaskState

            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            assert [t.data.get("expert") for t in ready] == ["expert3"]

    vote(client, auth, declaration_id, {"expert3": "disagree"})
    [filing] = tasks_of(review, declaration_id, bpmn_id="title_office_filing")
    from services.review.models import Vote

    with review.uow(readonly=True) as uow:
        votes = [
            {"expert": v.expert, "choice": v.choice}
            for v in uow.session.scalars(select(Vote).where(Vote.declaration_id == declaration_id))
        ]
    assert sorted((v["expert"], v["choice"]) for v in votes) == [
        ("expert1", "agree"),
        ("expert2", "agree"),
        ("expert3", "disagree"),
    ]


# -- the scheduler ---------------------------------------------------------------

TIMER_BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_timer_test" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="timer_test" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_unit" name="Work unit (工作单位)"><bpmn:flowNodeRef>after_wait</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="wait" name="Wait">
      <bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer">
        <bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"PT1S"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:userTask id="after_wait" name="After the wait">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="organisation" value="unit_code" />
          <spiffworkflow:property name="decisions" value="approve" />
          <spiffworkflow:property name="stage" value="after_wait" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="after_wait" />
    <bpmn:sequenceFlow id="f3" sourceRef="after_wait" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_the_scheduler_fires_a_due_timer(dbs, tmp_path):
    from services.review import scheduler
    from services.review.engine import definitions, runtime
    from services.review.models import Task, Timer

    db = dbs["review"]
    (tmp_path / "timer_test.bpmn").write_text(TIMER_BPMN, "utf-8")
    declaration_id = str(uuid.uuid4())
    with db.uow() as uow:
        [(definition, new)] = definitions.deploy_directory(uow, tmp_path)
        assert new and definition.process_id == "timer_test"
        instance = runtime.start(uow, definition, declaration_id, "applicant", {"unit_code": UNIT})
        uow.commit()
        instance_id = instance.id
    assert tasks_of(db, declaration_id) == []
    with db.uow(readonly=True) as uow:
        timer = uow.session.get(Timer, instance_id)
        assert timer is not None and timer.due_at.tzinfo is not None
    assert scheduler.fire_due(db) == 0  # not due yet

    time.sleep(1.2)
    assert scheduler.fire_due(db) == 1
    [task] = tasks_of(db, declaration_id)
    assert (task.bpmn_id, task.organisation, task.status, task.role) == ("after_wait", UNIT, "ready", "unit")
    assert count(db, Timer) == 0
    assert scheduler.fire_due(db) == 0
    assert [s["stage"] for s in outbox(db, "review.stage.changed.v1")] == ["after_wait"]
    with db.uow(readonly=True) as uow:
        assert uow.session.get(Task, task.id) is not None
