"""The review API as offices use it: filtered and paginated queues, assignment to a
colleague, a task in context, the process view, the audit log, diagram versions,
incidents, suspension, statistics and service levels (overdue tasks)."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text, update

from shared.config import bpmn_dir
from shared.contracts.profile import OrganisationRegistered
from tests.integration.review_flow_helpers import act, ok, through_unit
from tests.integration.test_review import (
    COMMITTEE,
    DEPT1,
    DEPT2,
    TITLE_OFFICE,
    UNIT,
    complete,
    envelope,
    instance_of,
    only_task,
    outbox,
    register_directory,
    register_staff,
    submitted,
    tasks_of,
)

BEIJING = dt.timezone(dt.timedelta(hours=8))
OTHER_UNIT = "91120101MA05OTHER1"


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Demo data (staff, experts, diagrams) with the review service's directory replica filled."""
    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")  # publicity periods are passed on the test clock
    register_directory(demo["review"])
    from services.review import service

    with demo["review"].uow() as uow:
        service.organisation_registered(
            uow, OrganisationRegistered(code=OTHER_UNIT, name="天津市另一家公司", kind="unit", parent=DEPT1)
        )
        uow.commit()
    return demo["review"]


def deliver(db: Any, message_type: str, data: dict[str, Any]) -> str:
    """Consume a message through the service's wired handlers (submissions kept, failures as incidents)."""
    from services.review.bootstrap import handlers
    from shared.messaging import topology
    from shared.messaging.consumer import process

    env = envelope(message_type, data)
    subscription = next(s for s in topology.subscriptions_of("review") if message_type in s.types)
    return process(db, subscription, env, handlers()[message_type])


def submit(db: Any, **overrides: Any) -> dict[str, Any]:
    data = submitted(**overrides)
    assert deliver(db, "declaration.submitted.v1", data) == "done"
    return data


def tasks(client: Any, headers: dict[str, str], **query: Any) -> dict[str, Any]:
    return ok(client.get("/api/v1/tasks", headers=headers, query_string=query))


def set_task(db: Any, task_id: str, **values: Any) -> None:
    from services.review.models import Task

    with db.uow() as uow:
        uow.session.execute(update(Task).where(Task.id == task_id).values(**values))
        uow.commit()


def colleague(db: Any, subject: str, role: str, organisation: str, name: str = "同事") -> Any:
    """A staff member registered in the profile directory (its event consumed by review)."""
    from shared.identity.principal import Principal

    assert register_staff(db, subject, role, organisation, name) == "done"
    return Principal(subject, role, organisation, name)


# -- task queues ------------------------------------------------------------------------


def test_the_queue_filters_by_activity_series_level_stage_deadline_and_applicant(review, clients, auth):
    client = clients["review"]
    a = submit(review, activity_id="act-a", series="工程", level="副高级", applicant="applicant", applicant_name="张伟")
    b = submit(review, activity_id="act-a", series="工程", level="正高级", applicant="a-li", applicant_name="李娜")
    c = submit(review, activity_id="act-b", series="卫生", level="副高级", applicant="a-wang", applicant_name="王张明")
    elsewhere = submit(review, unit_code=OTHER_UNIT, activity_id="act-a", series="工程", level="副高级")
    ids = {
        k: only_task(client, auth("unit"), d["declaration_id"], "unit_check")["id"]
        for k, d in (("a", a), ("b", b), ("c", c))
    }

    key = {a["declaration_id"]: "a", b["declaration_id"]: "b", c["declaration_id"]: "c"}

    def declarations(**query: Any) -> list[str]:
        body = tasks(client, auth("unit"), **query)
        assert body["total"] == len(body["items"])
        return sorted(key[item["declaration_id"]] for item in body["items"])

    # Another unit's declaration never shows in this unit's queue, whatever the filter.
    assert elsewhere["declaration_id"] not in [t["declaration_id"] for t in tasks(client, auth("unit"))["items"]]
    assert declarations() == ["a", "b", "c"]
    assert declarations(activity_id="act-a") == ["a", "b"]
    assert declarations(series="卫生") == ["c"]
    assert declarations(level="副高级") == ["a", "c"]
    assert declarations(series="工程", level="正高级") == ["b"]
    assert declarations(applicant="a-li") == ["b"]  # by subject
    assert declarations(applicant="张") == ["a", "c"]  # by part of the name
    assert declarations(applicant="nobody") == []
    # The part is matched as written: LIKE's wildcards in it are plain characters.
    assert declarations(applicant="王_明") == declarations(applicant="%") == declarations(applicant="/") == []
    item = next(t for t in tasks(client, auth("unit"), applicant="a-li")["items"])
    assert (item["activity_id"], item["series"], item["level"], item["applicant_name"]) == (
        "act-a",
        "工程",
        "正高级",
        "李娜",
    )

    # Stage: b moves on to the recommendation.
    assert complete(client, auth("unit"), ids["b"]).status_code == 200
    assert declarations(stage="unit_check") == ["a", "c"]
    assert declarations(stage="unit_recommendation") == ["b"]

    # Deadline (the service level's end, a Beijing day, inclusive) and overdue flags.
    set_task(review, ids["a"], due_at=dt.datetime(2026, 12, 1, 23, 30, tzinfo=BEIJING))
    set_task(review, ids["c"], due_at=dt.datetime(2026, 12, 2, 0, 0, tzinfo=BEIJING))
    assert declarations(due_before="2026-11-30") == []
    assert declarations(due_before="2026-12-01") == ["a"]
    assert declarations(due_before="2026-12-02") == ["a", "c"]
    by_due = tasks(client, auth("unit"), sort="due")["items"]
    assert [t["id"] for t in by_due][:2] == [ids["a"], ids["c"]]  # the most urgent first, no deadline last
    set_task(review, ids["c"], overdue_at=dt.datetime(2026, 12, 2, 1, 0, tzinfo=BEIJING), escalated_to=DEPT1)
    assert declarations(overdue="true") == ["c"]
    assert declarations(overdue="false") == ["a", "b"]
    late = tasks(client, auth("unit"), overdue="true")["items"][0]
    assert (late["overdue"], late["escalated_to"]) == (True, DEPT1)

    assert client.get("/api/v1/tasks", headers=auth("unit"), query_string={"due_before": "soon"}).status_code == 422
    assert client.get("/api/v1/tasks", headers=auth("unit"), query_string={"sort": "name"}).status_code == 422


def test_the_queue_is_paginated_in_a_stable_order(review, clients, auth):
    client = clients["review"]
    started = [submit(review)["declaration_id"] for _ in range(5)]
    pages = [tasks(client, auth("unit"), per_page=2, page=page) for page in (1, 2, 3, 4)]
    assert [p["total"] for p in pages] == [5, 5, 5, 5]
    assert [len(p["items"]) for p in pages] == [2, 2, 1, 0]
    assert [(p["page"], p["per_page"]) for p in pages] == [(1, 2), (2, 2), (3, 2), (4, 2)]
    seen = [t["declaration_id"] for p in pages for t in p["items"]]
    assert seen == started  # oldest first, each once
    assert client.get("/api/v1/tasks", headers=auth("unit"), query_string={"per_page": 101}).status_code == 422
    assert client.get("/api/v1/tasks", headers=auth("unit"), query_string={"page": 0}).status_code == 422


# -- assignment ---------------------------------------------------------------------------


def test_a_task_is_assigned_to_a_colleague_of_the_same_organisation_and_role(review, clients, auth):
    from services.review import service
    from shared.errors import Conflict

    client = clients["review"]
    data = submit(review)
    task_id = only_task(client, auth("unit"), data["declaration_id"], "unit_check")["id"]
    mate = colleague(review, "unit-colleague", "unit", UNIT, "赵敏")
    colleague(review, "other-unit-staff", "unit", OTHER_UNIT)

    def assign(user: str, assignee: str) -> Any:
        return client.post(f"/api/v1/tasks/{task_id}/assign", headers=auth(user), json={"assignee": assignee})

    colleague(review, "dept1-wang", "department", DEPT1)
    colleague(review, "unit-clerk-as-dept", "department", UNIT)
    for assignee, rule, says in (
        ("other-unit-staff", "colleague", OTHER_UNIT),
        ("dept1-wang", "colleague", DEPT1),
        ("unit-clerk-as-dept", "colleague", "department"),
        # Demo users the directory never announced to review, and nobody at all:
        ("dept1", "registered", "registered"),
        ("committee", "registered", "registered"),
        ("nobody-known", "registered", "registered"),
    ):
        refused = assign("unit", assignee)
        assert refused.status_code == 422, (assignee, refused.get_json())
        body = refused.get_json()
        assert [(e["field"], e["rule"]) for e in body["errors"]] == [("assignee", rule)], assignee
        assert assignee in body["errors"][0]["message"] and says in body["errors"][0]["message"], body
    assert assign("dept1", "dept1").status_code == 403  # not the department's task to hand out
    assert assign("expert1", "expert2").status_code == 403
    assert client.post(f"/api/v1/tasks/{task_id}/assign", headers=auth("unit"), json={}).status_code == 422
    assert only_task(client, auth("unit"), data["declaration_id"], "unit_check")["status"] == "ready"

    assigned = ok(assign("unit", "unit-colleague"))
    assert (assigned["status"], assigned["claimed_by"]) == ("claimed", "unit-colleague")
    # Now only the colleague may complete it; the one who assigned cannot, nor re-assign it to a third.
    taken = complete(client, auth("unit"), task_id)
    assert taken.status_code == 409 and taken.get_json()["errors"][0]["rule"] == "unclaimed"
    colleague(review, "unit-third", "unit", UNIT)
    assert assign("unit", "unit-third").status_code == 409
    assert assign("unit", "unit").status_code == 409  # nor take it back: the colleague releases it

    with review.uow() as uow:
        done = service.complete(uow, mate, task_id, "approve", "核实无误")
        uow.commit()
        assert done.completed_by == "unit-colleague"
    with review.uow() as uow, pytest.raises(Conflict):
        service.complete(uow, mate, task_id, "approve", None)
    finished = assign("unit", "unit-colleague")
    assert finished.status_code == 409 and finished.get_json()["errors"][0]["rule"] == "open"


# -- a task in context, the process view -----------------------------------------------------


def as_submitted(context: dict[str, Any]) -> dict[str, Any]:
    """The submitted fields of a task's declaration (the consumer adds the contract's defaults)."""
    content = context["declaration"]["content"]
    defaults = ("modification_deadline", "settings", "content", "attachment_ids")
    return {key: value for key, value in content.items() if key not in defaults or value is not None}


def test_a_task_shows_the_declaration_as_submitted_and_the_trail(review, clients, auth):
    client = clients["review"]
    data = submit(review, specialty="软件工程", qualification_name="高级工程师")
    declaration_id = data["declaration_id"]
    first = only_task(client, auth("unit"), declaration_id, "unit_check")
    context = ok(client.get(f"/api/v1/tasks/{first['id']}/context", headers=auth("unit")))
    assert context["task"]["id"] == first["id"] and context["trail"] == []
    assert as_submitted(context) == data
    assert client.get(f"/api/v1/tasks/{first['id']}/context", headers=auth("dept1")).status_code == 403
    assert client.get("/api/v1/tasks/no-such-task/context", headers=auth("unit")).status_code == 404

    # The unit returns it; the applicant amends and resubmits; the new check shows the new content.
    act(client, auth, "unit", declaration_id, "unit_check", "return", "缺少任职证明")
    amended = {**data, "specialty": "人工智能", "submitted_at": "2024-05-08T09:00:00+08:00"}
    assert deliver(review, "declaration.resubmitted.v1", amended) == "done"
    second = only_task(client, auth("unit"), declaration_id, "unit_check")
    assert second["id"] != first["id"]
    context = ok(client.get(f"/api/v1/tasks/{second['id']}/context", headers=auth("unit")))
    assert context["declaration"]["content"]["specialty"] == "人工智能"
    assert [(t["stage"], t["actor"], t["decision"], t["reason"], t["organisation"]) for t in context["trail"]] == [
        ("unit_check", "unit", "return", "缺少任职证明", UNIT)
    ]
    # The returned task still shows what it was decided on.
    old = ok(client.get(f"/api/v1/tasks/{first['id']}/context", headers=auth("unit")))
    assert old["declaration"]["content"]["specialty"] == "软件工程"

    act(client, auth, "unit", declaration_id, "unit_check", "approve", "材料齐全")
    recommendation = only_task(client, auth("unit"), declaration_id, "unit_recommendation")
    trail = ok(client.get(f"/api/v1/tasks/{recommendation['id']}/context", headers=auth("unit")))["trail"]
    assert [(t["stage"], t["decision"], t["reason"]) for t in trail] == [
        ("unit_check", "return", "缺少任职证明"),
        ("unit_check", "approve", "材料齐全"),
    ]
    assert all(t["at"] for t in trail)


def _ids_in(bpmn: str) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', bpmn))


def test_the_process_view_colours_what_is_active_and_what_is_done(review, clients, auth):
    from services.review.engine import definitions

    client = clients["review"]
    data = submit(review)
    declaration_id = data["declaration_id"]
    bpmn = (definitions.bpmn_dir() / "social_review.bpmn").read_text("utf-8")

    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("unit")))
    with review.uow(readonly=True) as uow:
        version = definitions.latest(uow, "social_review").id
    assert (view["bpmn"], view["definition_id"], view["process_id"]) == (bpmn, version, "social_review")
    assert (view["status"], view["suspended"], view["has_incident"]) == ("running", False, False)
    assert "unit_check" in view["active"] and "unit_recommendation" not in view["active"]
    assert "declaration_submitted" in view["completed"] and "unit_check" not in view["completed"]
    assert set(view["active"]) | set(view["completed"]) <= _ids_in(bpmn)  # a viewer finds each one
    assert [e["source"] for e in view["history"]] == ["start"]

    act(client, auth, "unit", declaration_id, "unit_check", "approve", "材料齐全")
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("unit")))
    open_rows = {t.bpmn_id for t in tasks_of(review, declaration_id, status="ready")}
    assert open_rows == {"unit_recommendation"} and open_rows <= set(view["active"])
    assert "unit_check" in view["completed"] and "unit_check" not in view["active"]
    assert {"declaration_submitted", "unit_check", "unit_check_result"} <= set(view["completed"])
    assert not set(view["active"]) & {"unit_publicity", "department_check", "committee_acceptance"}
    assert set(view["active"]) | set(view["completed"]) <= _ids_in(bpmn)
    step = view["history"][-1]
    assert (step["source"], step["actor"], step["element"], step["decision"], step["reason"]) == (
        "task",
        "unit",
        "unit_check",
        "approve",
        "材料齐全",
    )
    assert "unit_check" in step["completed"] and step["changes"] == {}  # the data changed is for the title office
    full = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    assert full["history"][-1]["changes"]["decision"] == "approve"

    # Only organisations the declaration passed through (and the title office) see it.
    for user in ("dept1", "dept2", "committee", "expert1", "applicant"):
        assert client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth(user)).status_code == 403, user
    assert client.get("/api/v1/processes/no-such/view", headers=auth("title_office")).status_code == 404


# -- the audit log ---------------------------------------------------------------------------


def test_the_audit_log_over_http_and_a_rewritten_entry_shows(review, clients, auth):
    from services.review.engine import audit
    from services.review.models import AuditEntry, Instance, Submission

    client = clients["review"]
    data = submit(review)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check", "approve", "材料齐全")
    act(client, auth, "unit", declaration_id, "unit_recommendation", "recommend")
    url = f"/api/v1/processes/{declaration_id}/audit"
    body = ok(client.get(url, headers=auth("title_office")))
    assert body["intact"] is True and body["problems"] == []
    with review.uow(readonly=True) as uow:
        message_id = uow.session.scalar(
            select(Submission.message_id).where(Submission.declaration_id == declaration_id)
        )
    assert [(e["seq"], e["source"], e["actor"], e["element"], e["decision"]) for e in body["entries"]] == [
        (1, "start", message_id, None, None),
        (2, "task", "unit", "unit_check", "approve"),
        (3, "task", "unit", "unit_recommendation", "recommend"),
    ]
    assert body["entries"][0]["prev_hash"] == audit.GENESIS
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(body["entries"], body["entries"][1:]))
    for user in ("unit", "dept1", "committee", "applicant"):
        assert client.get(url, headers=auth(user)).status_code == 403, user

    # A forger edits entry 2 and recomputes its hash: entry 3 no longer follows it.
    with review.uow() as uow:
        entry = uow.session.scalar(
            select(AuditEntry).where(AuditEntry.declaration_id == declaration_id, AuditEntry.seq == 2)
        )
        entry.reason = "材料不全"
        entry.hash = audit.digest(entry)
        uow.commit()
    body = ok(client.get(url, headers=auth("title_office")))
    assert body["intact"] is False
    assert [(p["seq"], p["problem"]) for p in body["problems"]] == [(3, "does not follow the entry before it")]
    # Entries renumbered to hide a removal show too.
    with review.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE declaration_id = :d AND seq = 1"), {"d": declaration_id})
    with review.uow(readonly=True) as uow:
        inst = uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))
        problems = audit.verify(uow, inst)
    assert {"seq": 2, "problem": "entry 1 is missing"} in problems


# -- versions ----------------------------------------------------------------------------------


def test_versions_and_their_diff_over_http(review, clients, auth):
    from services.review.engine import definitions

    client = clients["review"]
    submit(review)
    listed = ok(client.get("/api/v1/definitions/versions", headers=auth("committee")))
    assert sorted(v["label"] for v in listed) == sorted(f"{p.stem}@1" for p in bpmn_dir().glob("*.bpmn"))
    social = next(v for v in listed if v["process_id"] == "social_review")
    assert (social["number"], social["file_name"], social["running_instances"]) == (1, "social_review.bpmn", 1)
    assert "return_and_resubmit@1" in social["calls"] and "expert_review@1" in social["calls"]

    bpmn = (definitions.bpmn_dir() / "social_review.bpmn").read_text("utf-8")
    renamed = bpmn.replace('name="Check the declaration (单位审核)"', 'name="Unit review (单位审查)"', 1)
    assert renamed != bpmn
    with review.uow() as uow:
        v2, new = definitions.deploy(uow, "social_review.bpmn", renamed.encode("utf-8"))
        uow.commit()
    assert new
    listed = ok(client.get("/api/v1/definitions/versions", headers=auth("title_office")))
    by_label = {v["label"]: v for v in listed}
    assert by_label["social_review@2"]["id"] == v2.id
    assert (by_label["social_review@1"]["running_instances"], by_label["social_review@2"]["running_instances"]) == (
        1,
        0,
    )  # the running instance stays on the version it started with

    change = ok(
        client.get(
            "/api/v1/definitions/diff",
            headers=auth("title_office"),
            query_string={"from": "social_review@1", "to": v2.id[:10]},
        )
    )
    assert change["added"] == [] and change["removed"] == []
    assert [(c["id"], c["what"], c["from_name"], c["name"]) for c in change["changed"]] == [
        ("unit_check", ["name"], "Check the declaration (单位审核)", "Unit review (单位审查)")
    ]
    same = ok(
        client.get(
            "/api/v1/definitions/diff",
            headers=auth("unit"),
            query_string={"from": "social_review@2", "to": "social_review@2"},
        )
    )
    assert same == {"added": [], "removed": [], "changed": []}
    assert (
        client.get(
            "/api/v1/definitions/diff",
            headers=auth("applicant"),
            query_string={"from": "social_review@1", "to": "social_review@2"},
        ).status_code
        == 403
    )
    for ref in ("social_review@3", "abc", "f" * 64):
        missing = client.get(
            "/api/v1/definitions/diff",
            headers=auth("title_office"),
            query_string={"from": "social_review@1", "to": ref},
        )
        assert missing.status_code == 404, ref
    assert client.get("/api/v1/definitions/diff", headers=auth("title_office")).status_code == 422


# -- incidents -------------------------------------------------------------------------------


def test_a_broken_diagram_at_start_is_an_incident_retried_on_the_fixed_version(review, clients, auth):
    """A declaration whose review could not start is not lost: the incident is listed and, once a
    fixed version is deployed, retrying starts the review on it with the declaration as submitted."""
    from services.review.engine import definitions

    client = clients["review"]
    good = (definitions.bpmn_dir() / "social_review.bpmn").read_text("utf-8")
    # A script task right after the start event that raises (a name the data does not have).
    broken = _insert_after_start(good, "score = int(bonus)")
    with review.uow() as uow:
        broken_version, _ = definitions.deploy(uow, "social_review.bpmn", broken.encode("utf-8"))
        uow.commit()
    data = submitted(settings={"service_levels": {"unit_check": 3}})
    declaration_id = data["declaration_id"]
    assert deliver(review, "declaration.submitted.v1", data) == "done"  # consumed: its effect is the incident
    assert instance_of(review, declaration_id) is None

    listed = ok(client.get("/api/v1/incidents", headers=auth("title_office")))
    [incident] = listed["items"]
    assert listed["total"] == 1
    assert (
        incident["declaration_id"],
        incident["source"],
        incident["element"],
        incident["status"],
        incident["attempts"],
        incident["instance_id"],
    ) == (declaration_id, "start", "prepare", "open", 1, None)
    assert "bonus" in incident["error"]
    assert ok(client.get(f"/api/v1/incidents/{incident['id']}", headers=auth("title_office")))["id"] == incident["id"]
    for user in ("unit", "committee", "applicant"):
        assert client.get("/api/v1/incidents", headers=auth(user)).status_code == 403, user
        assert client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth(user)).status_code == 403

    again = client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth("title_office"))
    assert again.status_code == 500 and again.get_json()["errors"][0]["rule"] == "step_failed"
    assert ok(client.get(f"/api/v1/incidents/{incident['id']}", headers=auth("title_office")))["attempts"] == 2

    fixed = broken.replace("score = int(bonus)", "score = 0")
    with review.uow() as uow:
        fixed_version, _ = definitions.deploy(uow, "social_review.bpmn", fixed.encode("utf-8"))
        uow.commit()
    retried = ok(client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth("title_office")))
    assert (retried["status"], retried["resolved_by"]) == ("resolved", "title_office")
    started = instance_of(review, declaration_id)
    assert started is not None and started.definition_id == fixed_version.id != broken_version.id
    assert not started.has_incident
    task = only_task(client, auth("unit"), declaration_id, "unit_check")
    context = ok(client.get(f"/api/v1/tasks/{task['id']}/context", headers=auth("unit")))
    assert as_submitted(context) == data

    assert client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth("title_office")).status_code == 409
    assert ok(client.get("/api/v1/incidents", headers=auth("title_office")))["items"] == []
    resolved = ok(client.get("/api/v1/incidents", headers=auth("title_office"), query_string={"status": "resolved"}))
    assert [i["id"] for i in resolved["items"]] == [incident["id"]]
    everything = ok(
        client.get(
            "/api/v1/incidents",
            headers=auth("title_office"),
            query_string={"status": "all", "declaration_id": declaration_id},
        )
    )
    assert everything["total"] == 1
    assert (
        ok(
            client.get(
                "/api/v1/incidents",
                headers=auth("title_office"),
                query_string={"status": "all", "declaration_id": "other"},
            )
        )["total"]
        == 0
    )
    assert client.get("/api/v1/incidents/999999", headers=auth("title_office")).status_code == 404
    assert client.post("/api/v1/incidents/999999/retry", headers=auth("title_office")).status_code == 404
    assert (
        client.get("/api/v1/incidents", headers=auth("title_office"), query_string={"status": "closed"}).status_code
        == 422
    )


def _insert_after_start(bpmn: str, script: str) -> str:
    """The diagram with a script task between the start event and what followed it."""
    start = re.search(r'<bpmn:startEvent id="declaration_submitted".*?</bpmn:startEvent>', bpmn, re.S).group(0)
    flow_id = re.search(r"<bpmn:outgoing>([^<]+)</bpmn:outgoing>", start).group(1)
    flow = re.search(rf'<bpmn:sequenceFlow id="{flow_id}" sourceRef="declaration_submitted" targetRef="([^"]+)"', bpmn)
    target = flow.group(1)
    task = (
        f'<bpmn:scriptTask id="prepare" name="Prepare (准备)"><bpmn:incoming>{flow_id}</bpmn:incoming>'
        f"<bpmn:outgoing>flow_prepare_out</bpmn:outgoing><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>"
    )
    out = bpmn.replace(
        flow.group(0), f'<bpmn:sequenceFlow id="{flow_id}" sourceRef="declaration_submitted" targetRef="prepare"', 1
    )
    out = out.replace(f"<bpmn:incoming>{flow_id}</bpmn:incoming>", "<bpmn:incoming>flow_prepare_out</bpmn:incoming>", 1)
    return out.replace(
        start, start + task + f'<bpmn:sequenceFlow id="flow_prepare_out" sourceRef="prepare" targetRef="{target}" />', 1
    )


# -- suspension ----------------------------------------------------------------------------------


def test_only_the_title_office_suspends_and_a_suspended_process_refuses_completion(review, clients, auth):
    client = clients["review"]
    data = submit(review)
    declaration_id = data["declaration_id"]
    inst = instance_of(review, declaration_id)
    task = only_task(client, auth("unit"), declaration_id, "unit_check")
    for user in ("unit", "dept1", "committee", "expert1", "applicant"):
        assert client.post(f"/api/v1/instances/{inst.id}/suspend", headers=auth(user), json={}).status_code == 403
    assert not instance_of(review, declaration_id).suspended

    suspended = ok(
        client.post(f"/api/v1/instances/{inst.id}/suspend", headers=auth("title_office"), json={"reason": "举报核查中"})
    )
    assert (suspended["id"], suspended["suspended"], suspended["status"]) == (inst.id, True, "running")
    twice = client.post(f"/api/v1/instances/{declaration_id}/suspend", headers=auth("title_office"), json={})
    assert twice.status_code == 409
    refused = complete(client, auth("unit"), task["id"])
    assert refused.status_code == 409 and refused.get_json()["errors"][0]["rule"] == "not_suspended"
    assert only_task(client, auth("unit"), declaration_id, "unit_check")["status"] == "ready"
    assert ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("unit")))["suspended"] is True
    for user in ("unit", "committee"):
        assert client.post(f"/api/v1/instances/{inst.id}/resume", headers=auth(user), json={}).status_code == 403

    resumed = ok(
        client.post(
            f"/api/v1/instances/{declaration_id}/resume", headers=auth("title_office"), json={"reason": "核查完毕"}
        )
    )
    assert resumed["suspended"] is False
    assert client.post(f"/api/v1/instances/{inst.id}/resume", headers=auth("title_office"), json={}).status_code == 409
    assert client.post("/api/v1/instances/no-such/suspend", headers=auth("title_office"), json={}).status_code == 404
    assert complete(client, auth("unit"), task["id"]).status_code == 200
    entries = ok(client.get(f"/api/v1/processes/{declaration_id}/audit", headers=auth("title_office")))["entries"]
    assert [(e["source"], e["actor"], e["decision"], e["reason"]) for e in entries[1:]] == [
        ("operator", "title_office", "suspend", "举报核查中"),
        ("operator", "title_office", "resume", "核查完毕"),
        ("task", "unit", "approve", None),
    ]


# -- statistics ------------------------------------------------------------------------------------

STATS_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_office_test" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="office_test" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_unit" name="unit"><bpmn:flowNodeRef>unit_check</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="lane_committee" name="committee">
        <bpmn:flowNodeRef>committee_acceptance</bpmn:flowNodeRef>
      </bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="unit_check" name="Unit check">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="unit_code" />
        <spiffworkflow:property name="decisions" value="approve,reject" />
        <spiffworkflow:property name="stage" value="unit_check" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="unit_ok" default="f3"><bpmn:incoming>f2</bpmn:incoming>
      <bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:userTask id="committee_acceptance" name="Committee acceptance">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="committee_code" />
        <spiffworkflow:property name="decisions" value="approve,reject" />
        <spiffworkflow:property name="stage" value="committee_acceptance" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="committee_ok" default="f6"><bpmn:incoming>f5</bpmn:incoming>
      <bpmn:outgoing>f6</bpmn:outgoing><bpmn:outgoing>f7</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="passed" name="Passed"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="certified" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="not_passed" name="Not passed"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="not_passed" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f4</bpmn:incoming>
      <bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="unit_check" />
    <bpmn:sequenceFlow id="f2" sourceRef="unit_check" targetRef="unit_ok" />
    <bpmn:sequenceFlow id="f3" sourceRef="unit_ok" targetRef="committee_acceptance" />
    <bpmn:sequenceFlow id="f4" sourceRef="unit_ok" targetRef="not_passed">
      <bpmn:conditionExpression>decision == 'reject'</bpmn:conditionExpression></bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="committee_acceptance" targetRef="committee_ok" />
    <bpmn:sequenceFlow id="f6" sourceRef="committee_ok" targetRef="passed" />
    <bpmn:sequenceFlow id="f7" sourceRef="committee_ok" targetRef="not_passed">
      <bpmn:conditionExpression>decision == 'reject'</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""


def _start_small(db: Any, definition: Any, **data: Any) -> str:
    from services.review.engine import runtime

    declaration_id = str(uuid.uuid4())
    base = {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "applicant_name": "张伟",
        "unit_code": UNIT,
        "committee_code": COMMITTEE,
        "activity_id": "act-1",
        "mode": "social_review",
        "series": "工程",
        "level": "副高级",
    }
    with db.uow() as uow:
        runtime.start(uow, definition, declaration_id, "applicant", {**base, **data})
        uow.commit()
    return declaration_id


def _decide(db: Any, declaration_id: str, stage: str, decision: str, hours: float) -> None:
    """Complete the open task of a stage, then set it as opened at a known time and taken ``hours``."""
    from services.review import service
    from shared.identity.principal import Principal

    [task] = tasks_of(db, declaration_id, bpmn_id=stage, status="ready")
    with db.uow() as uow:
        service.complete(uow, Principal(f"{task.role}-staff", task.role, task.organisation), task.id, decision, None)
        uow.commit()
    opened = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)
    set_task(db, task.id, created_at=opened, completed_at=opened + dt.timedelta(hours=hours))


def test_statistics_for_the_title_office_and_each_organisations_own_scope(review, clients, auth):
    from services.review.engine import definitions

    client = clients["review"]
    with review.uow() as uow:
        definition, _ = definitions.deploy(uow, "office_test.bpmn", STATS_DIAGRAM.encode("utf-8"))
        uow.commit()
    d1 = _start_small(review, definition)
    _decide(review, d1, "unit_check", "approve", 1)
    _decide(review, d1, "committee_acceptance", "approve", 3)
    d2 = _start_small(review, definition)
    _decide(review, d2, "unit_check", "approve", 2)
    _decide(review, d2, "committee_acceptance", "reject", 5)
    d3 = _start_small(review, definition, level="正高级")
    _decide(review, d3, "unit_check", "reject", 4)
    d4 = _start_small(review, definition, mode="independent_review", level="正高级")
    _decide(review, d4, "unit_check", "approve", 10)
    _start_small(review, definition, unit_code=OTHER_UNIT, series="卫生", level="中级")
    assert (instance_of(review, d1).outcome, instance_of(review, d2).outcome, instance_of(review, d3).outcome) == (
        "certified",
        "not_passed",
        "not_passed",
    )

    everything = ok(client.get("/api/v1/statistics", headers=auth("title_office")))
    assert (everything["scope"], everything["declarations"]) == ("all", 5)
    assert everything["by_stage"] == {"completed": 3, "committee_acceptance": 1, "unit_check": 1}
    assert everything["by_mode"] == {"social_review": 4, "independent_review": 1}
    assert everything["by_series"] == {"工程": 4, "卫生": 1}
    assert everything["by_level"] == {"副高级": 2, "正高级": 2, "中级": 1}
    assert everything["by_status"] == {"completed": 3, "running": 2}
    rates = everything["pass_rates"]
    assert rates["overall"] == {"office_test": {"decided": 3, "passed": 1, "rate": 0.3333}}
    assert rates["by_mode"] == {"social_review": {"decided": 3, "passed": 1, "rate": 0.3333}}
    assert rates["by_level"] == {
        "副高级": {"decided": 2, "passed": 1, "rate": 0.5},
        "正高级": {"decided": 1, "passed": 0, "rate": 0.0},
    }
    # Hours per stage: unit checks took 1, 2, 4 and 10 hours, committee acceptances 3 and 5 (nearest rank).
    assert everything["time_in_stage"] == {
        "committee_acceptance": {"tasks": 2, "median_hours": 3.0, "p90_hours": 5.0},
        "unit_check": {"tasks": 4, "median_hours": 2.0, "p90_hours": 10.0},
    }

    filtered = ok(
        client.get("/api/v1/statistics", headers=auth("title_office"), query_string={"mode": "independent_review"})
    )
    assert (filtered["declarations"], filtered["by_stage"]) == (1, {"committee_acceptance": 1})
    assert filtered["time_in_stage"] == {"unit_check": {"tasks": 1, "median_hours": 10.0, "p90_hours": 10.0}}
    assert (
        ok(client.get("/api/v1/statistics", headers=auth("title_office"), query_string={"level": "正高级"}))[
            "declarations"
        ]
        == 2
    )

    # The unit sees the four declarations that passed through it, and only its own stage's times.
    unit = ok(client.get("/api/v1/statistics", headers=auth("unit")))
    assert (unit["scope"], unit["declarations"]) == (UNIT, 4)
    assert unit["by_series"] == {"工程": 4} and unit["by_stage"] == {"completed": 3, "committee_acceptance": 1}
    assert unit["time_in_stage"] == {"unit_check": {"tasks": 4, "median_hours": 2.0, "p90_hours": 10.0}}
    # The committee sees those that reached it.
    committee = ok(client.get("/api/v1/statistics", headers=auth("committee")))
    assert (committee["scope"], committee["declarations"]) == (COMMITTEE, 3)
    assert committee["pass_rates"]["overall"] == {"office_test": {"decided": 2, "passed": 1, "rate": 0.5}}
    assert committee["time_in_stage"] == {"committee_acceptance": {"tasks": 2, "median_hours": 3.0, "p90_hours": 5.0}}
    # A department nothing passed through sees nothing.
    dept = ok(client.get("/api/v1/statistics", headers=auth("dept2")))
    assert (dept["scope"], dept["declarations"], dept["by_stage"], dept["time_in_stage"]) == (DEPT2, 0, {}, {})
    for user in ("applicant", "expert1"):
        assert client.get("/api/v1/statistics", headers=auth(user)).status_code == 403, user


# -- service levels --------------------------------------------------------------------------------


def overdue(client: Any, auth: Any, user: str) -> list[str]:
    return [t["id"] for t in ok(client.get("/api/v1/tasks/overdue", headers=auth(user)))["items"]]


def test_an_overdue_task_is_flagged_by_its_diagram_timer_to_its_organisation_and_the_level_above(
    demo, monkeypatch, clients, auth
):
    from services.review.models import Task
    from tests.integration.review_flow_helpers import (
        advance_clock,
        advance_to,
        attend,
        panel_of,
        review_db,
        through_departments,
        timers_of,
    )

    review = review_db(demo, monkeypatch)
    client = clients["review"]
    data = submit(review)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    # Committee acceptance carries the diagram's service-level timer; the task row's due time is the timer's.
    [acceptance] = tasks_of(review, declaration_id, bpmn_id="committee_acceptance", status="ready")
    due = acceptance.due_at.astimezone(BEIJING)
    assert (due.time(), due.date() > acceptance.created_at.astimezone(BEIJING).date()) == (dt.time(23, 59, 59), True)
    assert timers_of(client, auth, declaration_id) == [
        ("committee_acceptance_overdue", "social_review", due.isoformat())
    ]
    advance_to(client, auth, due - dt.timedelta(seconds=1))
    assert all(overdue(client, auth, user) == [] for user in ("committee", "title_office"))
    assert outbox(review, "review.task.overdue.v1", declaration_id) == []

    advance_clock(client, auth, seconds=2)  # the timer fires: flagged, and the task stays open
    assert overdue(client, auth, "committee") == [acceptance.id]
    assert overdue(client, auth, "title_office") == [acceptance.id]
    for user in ("unit", "dept1", "dept2", "expert1"):
        assert overdue(client, auth, user) == [], user
    [late] = tasks(client, auth("committee"), overdue="true")["items"]
    assert (late["id"], late["status"], late["overdue"], late["escalated_to"]) == (
        acceptance.id,
        "ready",
        True,
        TITLE_OFFICE,
    )
    assert complete(client, auth("title_office"), acceptance.id).status_code == 403  # seen above, not acted on
    advance_clock(client, auth, 30)  # a non-interrupting timer fires once
    [event] = outbox(review, "review.task.overdue.v1", declaration_id)
    assert (event["task_id"], event["organisation"], event["escalated_to"]) == (acceptance.id, COMMITTEE, TITLE_OFFICE)
    assert timers_of(client, auth, declaration_id) == []
    # Done late, it leaves every overdue list.
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    assert overdue(client, auth, "committee") == [] and overdue(client, auth, "title_office") == []

    # The vote has no service level of its own: voting closes at the end of the meeting day (the votes' due
    # time), and the votes still open then are cancelled (counted as not agreeing), not flagged. (The clock
    # stands a second before midnight: the meeting is held the next morning.)
    advance_clock(client, auth, seconds=10 * 3600)
    attend(client, auth, declaration_id, panel_of(client, auth, declaration_id))
    votes = tasks_of(review, declaration_id, bpmn_id="expert_vote", status="ready")
    assert len(votes) == 3 and len({t.due_at for t in votes}) == 1
    assert votes[0].due_at.astimezone(BEIJING).time() == dt.time(23, 59, 59)
    advance_to(client, auth, votes[0].due_at + dt.timedelta(seconds=1))
    assert [e for e in outbox(review, "review.task.overdue.v1", declaration_id) if e["stage"] == "expert_vote"] == []
    with review.uow(readonly=True) as uow:
        assert all(uow.session.get(Task, t.id).status == "cancelled" for t in votes)


def test_a_declaration_whose_unit_has_no_department_is_an_incident_until_the_directory_is_put_right(
    review, clients, auth
):
    """A unit the directory places under no competent department cannot be reviewed: the submission is
    consumed (not dead-lettered, not retried for ever), the title office sees an incident naming the
    declaration and the reason, and a retry after the directory is fixed starts the review."""
    lone = "91120101MA05LONE01"
    org = {"code": lone, "name": "天津市无主管单位公司", "kind": "unit", "parent": None}
    assert deliver(review, "profile.organisation.registered.v1", org) == "done"
    data = submitted(unit_code=lone)
    assert deliver(review, "declaration.submitted.v1", data) == "done"
    assert instance_of(review, data["declaration_id"]) is None

    client = clients["review"]
    [incident] = ok(client.get("/api/v1/incidents", headers=auth("title_office")))["items"]
    assert (incident["declaration_id"], incident["source"], incident["status"]) == (
        data["declaration_id"],
        "start",
        "open",
    )
    assert "no competent department" in incident["error"] and lone in incident["error"]
    # Redelivered, the same submission changes nothing: still one incident, one attempt more at most.
    assert deliver(review, "declaration.submitted.v1", data) == "done"
    assert ok(client.get("/api/v1/incidents", headers=auth("title_office")))["total"] == 1

    again = client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth("title_office"))
    assert again.status_code == 500 and again.get_json()["errors"][0]["rule"] == "step_failed"

    assert deliver(review, "profile.organisation.registered.v1", {**org, "parent": DEPT1}) == "done"
    retried = ok(client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth("title_office")))
    assert retried["status"] == "resolved"
    assert instance_of(review, data["declaration_id"]) is not None
    from services.review.models import Task

    with review.uow() as uow:
        opened = [
            (t.stage, t.organisation)
            for t in uow.session.scalars(select(Task).where(Task.declaration_id == data["declaration_id"]))
        ]
    assert opened == [("unit_check", lone)]


def test_each_department_level_is_announced_with_its_own_name(review, clients, auth):
    """The applicant's notices differ per level: each stage change and decision names its organisation."""
    client = clients["review"]
    data = submit(review)
    through_unit(client, auth, data["declaration_id"])
    for user in ("dept1", "dept2"):
        act(client, auth, user, data["declaration_id"], "department_check")
    from services.review.models import Organisation

    with review.uow(readonly=True) as uow:
        names = {code: uow.session.get(Organisation, code).name for code in (DEPT1, DEPT2)}
    changed = [
        (m["organisation"], m["organisation_name"])
        for m in outbox(review, "review.stage.changed.v1", data["declaration_id"])
        if m["stage"] == "department_check"
    ]
    assert changed == [(DEPT1, names[DEPT1]), (DEPT2, names[DEPT2])] and names[DEPT1] != names[DEPT2]
    decided = [
        (m["organisation"], m["organisation_name"])
        for m in outbox(review, "review.decision.recorded.v1", data["declaration_id"])
        if m["stage"] == "department_check"
    ]
    assert decided == changed
