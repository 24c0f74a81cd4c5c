"""The runtime a designer can trust: incidents and their retry, suspension, the
hash-chained audit log, versions (diff, migrate or refuse), one winner when two
reviewers complete one task at once."""

from __future__ import annotations

import json
import threading
import time
import uuid
from typing import Any

import pytest
from sqlalchemy import select, text

UNIT = "91120101MA05K1XT13"
COMMITTEE = "12120000MB1234567L"

# A small diagram of our own (the evaluation modes belong to the flows' tests):
# unit check -> a script -> committee acceptance -> wait for certificate.issued -> a script -> end.
DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_runtime_test" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="msg_issued" name="certificate.issued" />
  <bpmn:process id="runtime_test" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_unit" name="unit"><bpmn:flowNodeRef>unit_check</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="lane_committee" name="committee"><bpmn:flowNodeRef>committee_acceptance</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="unit_check" name="Unit check">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="unit_code" />
        <spiffworkflow:property name="decisions" value="approve" />
        <spiffworkflow:property name="stage" value="unit_check" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:scriptTask id="score" name="Score">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>SCRIPT_ONE</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="committee_acceptance" name="Committee acceptance">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="committee_code" />
        <spiffworkflow:property name="decisions" value="approve" />
        <spiffworkflow:property name="stage" value="committee_acceptance" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:intermediateCatchEvent id="issued" name="Certificate issued">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:messageEventDefinition id="issued_def" messageRef="msg_issued">
        <bpmn:extensionElements><spiffworkflow:messageVariable>issued</spiffworkflow:messageVariable></bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="file" name="File">
      <bpmn:incoming>f5</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing>
      <bpmn:script>SCRIPT_TWO</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="certified" name="Certified"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="certified" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="unit_check" />
    <bpmn:sequenceFlow id="f2" sourceRef="unit_check" targetRef="score" />
    <bpmn:sequenceFlow id="f3" sourceRef="score" targetRef="committee_acceptance" />
    <bpmn:sequenceFlow id="f4" sourceRef="committee_acceptance" targetRef="issued" />
    <bpmn:sequenceFlow id="f5" sourceRef="issued" targetRef="file" />
    <bpmn:sequenceFlow id="f6" sourceRef="file" targetRef="certified" />
  </bpmn:process>
</bpmn:definitions>
"""
GOOD = {"SCRIPT_ONE": "score = 1", "SCRIPT_TWO": "filed = issued['number']"}


def diagram(**scripts: str) -> bytes:
    body = DIAGRAM
    for key, value in {**GOOD, **scripts}.items():
        body = body.replace(key, value)
    return body.encode("utf-8")


def deploy(db: Any, bpmn: bytes, name: str = "runtime_test.bpmn") -> Any:
    from services.review.engine import definitions

    with db.uow() as uow:
        definition, _ = definitions.deploy(uow, name, bpmn)
        uow.commit()
        return definition


def start(db: Any, definition: Any, **data: Any) -> str:
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


def instance(db: Any, declaration_id: str) -> Any:
    from services.review.models import Instance

    with db.uow(readonly=True) as uow:
        return uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))


def open_task(db: Any, declaration_id: str, stage: str) -> Any:
    from services.review.models import Task

    with db.uow(readonly=True) as uow:
        return uow.session.scalar(
            select(Task).where(
                Task.declaration_id == declaration_id, Task.bpmn_id == stage, Task.status.in_(("ready", "claimed"))
            )
        )


def complete(client: Any, headers: dict[str, str], task_id: str, decision: str = "approve", **extra: Any) -> Any:
    return client.post(f"/api/v1/tasks/{task_id}/complete", headers=headers, json={"decision": decision, **extra})


def incidents_of(client: Any, auth: Any, declaration_id: str, status: str = "open") -> list[dict[str, Any]]:
    response = client.get(
        "/api/v1/incidents",
        headers=auth("title_office"),
        query_string={"declaration_id": declaration_id, "status": status},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def issued(declaration_id: str) -> Any:
    from shared.messaging.envelope import Envelope

    data = {
        "certificate_id": str(uuid.uuid4()),
        "number": "TJ-2026-000001",
        "declaration_id": declaration_id,
        "holder": "applicant",
        "holder_name": "张伟",
        "series": "工程",
        "level": "副高级",
        "specialty": "软件工程",
        "qualification_name": "高级工程师",
        "issued_on": "2026-06-01",
    }
    return Envelope(type="certificate.issued.v1", source="certificate", data=data, correlation_id=declaration_id)


def consume(db: Any, env: Any) -> str:
    """What review's consumer does with one delivery of the envelope (inbox, wired handlers, commit)."""
    from services.review.bootstrap import handlers
    from shared.messaging.consumer import process

    return process(db, subscription_of(env), env, handlers()[env.type])


def subscription_of(env: Any) -> Any:
    """Review's subscription that takes the envelope's type (its queue names the inbox rows)."""
    from shared.messaging import topology

    return next(s for s in topology.subscriptions_of("review") if env.type in s.types)


def deliver_issued(db: Any, declaration_id: str) -> tuple[str, Any]:
    env = issued(declaration_id)
    return consume(db, env), env


def audit_entries(client: Any, auth: Any, declaration_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/processes/{declaration_id}/audit", headers=auth("title_office"))
    assert response.status_code == 200 and response.get_json()["intact"], response.get_json()
    return response.get_json()["entries"]


@pytest.fixture
def db(dbs: dict[str, Any]) -> Any:
    return dbs["review"]


# -- incidents ---------------------------------------------------------------------


def test_a_failing_completion_becomes_an_incident_and_retries_after_a_migration(db, clients, auth):
    client = clients["review"]
    broken = deploy(db, diagram(SCRIPT_ONE="score = int(bonus) * 2"))
    declaration_id = start(db, broken)
    task = open_task(db, declaration_id, "unit_check")
    before = instance(db, declaration_id)

    response = complete(client, auth("unit"), task.id, reason="ok")
    assert response.status_code == 500
    body = response.get_json()
    assert body["errors"][0]["rule"] == "step_failed" and "bonus" in body["errors"][0]["message"]
    after = instance(db, declaration_id)
    # Nothing half written: the instance is as last saved, the task still open.
    assert (after.state, after.version - 1, after.status) == (before.state, before.version, "running")
    assert after.has_incident
    assert open_task(db, declaration_id, "unit_check").status == "ready"
    [incident] = incidents_of(client, auth, declaration_id)
    assert (incident["source"], incident["element"], incident["task_id"], incident["attempts"]) == (
        "task",
        "score",
        task.id,
        1,
    )
    assert "NameError" in incident["error"] or "bonus" in incident["error"]
    assert client.get("/api/v1/incidents", headers=auth("unit")).status_code == 403

    # Retrying before the fix fails again: the same incident counts the attempt.
    again = client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth("title_office"))
    assert again.status_code == 500
    [incident] = incidents_of(client, auth, declaration_id)
    assert incident["attempts"] == 2

    # The fix: a new version, this instance migrated onto it, then retry.
    fixed = deploy(db, diagram(SCRIPT_ONE="score = int(bonus) * 2 if 'bonus' in dir() else 0"))
    from services.review.engine import versions

    with db.uow() as uow:
        versions.migrate(uow, declaration_id, fixed.id[:10], operator="designer1")
        uow.commit()
    assert instance(db, declaration_id).definition_id == fixed.id
    retried = client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth("title_office"))
    assert retried.status_code == 200, retried.get_json()
    assert (retried.get_json()["status"], retried.get_json()["resolved_by"]) == ("resolved", "title_office")
    assert not instance(db, declaration_id).has_incident
    assert open_task(db, declaration_id, "committee_acceptance") is not None
    assert incidents_of(client, auth, declaration_id) == []


def test_a_failing_message_step_is_consumed_once_and_becomes_an_incident(db, clients, auth):
    from services.review.models import Incident

    client = clients["review"]
    declaration_id = start(db, deploy(db, diagram(SCRIPT_TWO="filed = issued['no_such_key']")))
    assert complete(client, auth("unit"), open_task(db, declaration_id, "unit_check").id).status_code == 200
    assert (
        complete(client, auth("committee"), open_task(db, declaration_id, "committee_acceptance").id).status_code == 200
    )
    before = instance(db, declaration_id)
    outcome, env = deliver_issued(db, declaration_id)
    assert outcome == "done"  # consumed (with the incident as its effect), not poison or retried
    after = instance(db, declaration_id)
    assert after.state == before.state and after.has_incident
    with db.uow(readonly=True) as uow:
        [incident] = uow.session.scalars(select(Incident)).all()
        # The inbox holds the message under the queue that took it, in the incident's transaction.
        assert uow.seen(env.id, subscription_of(env).queue)
    assert (incident.source, incident.element, incident.step["message"]) == ("message", "file", "certificate.issued")
    assert incident.step["payload"]["number"] == "TJ-2026-000001"
    # Once: delivered again, it finds itself in the inbox and changes nothing.
    assert consume(db, env) == "duplicate"
    with db.uow(readonly=True) as uow:
        assert len(uow.session.scalars(select(Incident)).all()) == 1


def test_a_failing_timer_becomes_one_incident_and_the_scheduler_waits(db):
    from services.review import scheduler
    from services.review.models import Incident, Timer

    bpmn = (
        diagram()
        .decode()
        .replace(
            '<bpmn:messageEventDefinition id="issued_def" messageRef="msg_issued">\n'
            "        <bpmn:extensionElements><spiffworkflow:messageVariable>issued</spiffworkflow:messageVariable>"
            "</bpmn:extensionElements>\n      </bpmn:messageEventDefinition>",
            '<bpmn:timerEventDefinition id="wait"><bpmn:timeDuration>"PT1S"</bpmn:timeDuration></bpmn:timerEventDefinition>',
        )
    )
    definition = deploy(
        db,
        bpmn.replace('<bpmn:message id="msg_issued" name="certificate.issued" />', "")
        .replace("filed = issued['number']", "filed = 1 / 0")
        .encode(),
    )
    from services.review import service
    from shared.identity.principal import Principal

    declaration_id = start(db, definition)
    for stage, principal in (
        ("unit_check", Principal("unit", "unit", UNIT)),
        ("committee_acceptance", Principal("committee", "committee", COMMITTEE)),
    ):
        with db.uow() as uow:
            service.complete(uow, principal, open_task(db, declaration_id, stage).id, "approve", None)
            uow.commit()
    assert scheduler.fire_due(db) == 0  # not due yet
    time.sleep(1.1)
    assert scheduler.fire_due(db) == 0  # it failed: an incident, not a firing
    assert scheduler.fire_due(db) == 0  # and the scheduler does not retry it every tick
    with db.uow(readonly=True) as uow:
        [incident] = uow.session.scalars(select(Incident)).all()
        assert (incident.source, incident.element, incident.attempts) == ("timer", "file", 1)
        assert uow.session.get(Timer, incident.instance_id) is not None  # still due, waiting for the retry
    assert instance(db, declaration_id).has_incident


# -- suspension --------------------------------------------------------------------


def test_a_suspended_instance_refuses_completions_and_holds_messages_until_it_resumes(db, clients, auth):
    client = clients["review"]
    declaration_id = start(db, deploy(db, diagram()))
    inst = instance(db, declaration_id)
    task = open_task(db, declaration_id, "unit_check")
    assert client.post(f"/api/v1/instances/{inst.id}/suspend", headers=auth("committee"), json={}).status_code == 403
    suspended = client.post(
        f"/api/v1/instances/{declaration_id}/suspend",
        headers=auth("title_office"),
        json={"reason": "complaint under investigation"},
    )
    assert suspended.status_code == 200 and suspended.get_json()["suspended"] is True
    refused = complete(client, auth("unit"), task.id)
    assert refused.status_code == 409 and refused.get_json()["errors"][0]["rule"] == "not_suspended"
    assert open_task(db, declaration_id, "unit_check").status == "ready"

    resumed = client.post(f"/api/v1/instances/{inst.id}/resume", headers=auth("title_office"), json={})
    assert resumed.status_code == 200 and resumed.get_json()["suspended"] is False
    assert complete(client, auth("unit"), task.id).status_code == 200
    assert (
        complete(client, auth("committee"), open_task(db, declaration_id, "committee_acceptance").id).status_code == 200
    )
    assert client.post(f"/api/v1/instances/{inst.id}/suspend", headers=auth("title_office"), json={}).status_code == 200
    # The message is acknowledged and held (not bounced to the broker's retries and dead letters) ...
    env, before = issued(declaration_id), instance(db, declaration_id)
    assert consume(db, env) == "done"
    assert consume(db, env) == "duplicate"  # ... once, however often it is redelivered
    waiting = instance(db, declaration_id)
    assert (waiting.status, waiting.state) == ("running", before.state)
    process = client.get(f"/api/v1/processes/{declaration_id}", headers=auth("title_office")).get_json()
    assert (process["suspended"], process["held_messages"]) == (True, 1)
    view = client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")).get_json()
    assert [(h["message_id"], h["type"], h["reason"]) for h in view["held"]] == [
        (env.id, "certificate.issued.v1", "suspended")
    ]
    assert "issued" in view["active"]  # still waiting at the catch event

    resumed = client.post(
        f"/api/v1/instances/{inst.id}/resume", headers=auth("title_office"), json={"reason": "核查完毕"}
    ).get_json()
    assert (resumed["suspended"], resumed["status"], resumed["held_messages"]) == (False, "completed", 0)
    final = instance(db, declaration_id)
    assert (final.status, final.outcome) == ("completed", "certified")
    entries = audit_entries(client, auth, declaration_id)
    assert [(e["source"], e["actor"], e["decision"]) for e in entries[-4:]] == [
        ("operator", "title_office", "suspend"),
        ("message", env.id, "held"),
        ("operator", "title_office", "resume"),
        ("message", env.id, "delivered_after_resume"),
    ]
    assert "suspended" in entries[-3]["reason"] and "after the resume" in entries[-1]["reason"]
    assert entries[-1]["element"] == "issued" and "certified" in entries[-1]["completed"]
    assert entries[-1]["changes"]["number"] == "TJ-2026-000001"


# -- the audit log -------------------------------------------------------------------


def test_every_transition_is_audited_and_tampering_shows(db, clients, auth):
    from services.review.engine import audit

    client = clients["review"]
    declaration_id = start(db, deploy(db, diagram()))
    assert (
        complete(client, auth("unit"), open_task(db, declaration_id, "unit_check").id, reason="材料齐全").status_code
        == 200
    )
    assert (
        complete(client, auth("committee"), open_task(db, declaration_id, "committee_acceptance").id).status_code == 200
    )
    _, env = deliver_issued(db, declaration_id)

    response = client.get(f"/api/v1/processes/{declaration_id}/audit", headers=auth("title_office"))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["intact"] is True and body["problems"] == []
    entries = body["entries"]
    assert [(e["seq"], e["source"], e["actor"], e["element"], e["decision"]) for e in entries] == [
        (1, "start", None, None, None),
        (2, "task", "unit", "unit_check", "approve"),
        (3, "task", "committee", "committee_acceptance", "approve"),
        (4, "message", env.id, "issued", None),
    ]
    assert entries[1]["reason"] == "材料齐全" and entries[1]["changes"]["decision"] == "approve"
    assert entries[1]["completed"] == ["unit_check", "score"]
    assert entries[3]["completed"] == ["issued", "file", "certified"]
    assert entries[3]["changes"]["number"] == "TJ-2026-000001"
    assert all(e["prev_hash"] == p["hash"] for p, e in zip(entries, entries[1:]))
    assert client.get(f"/api/v1/processes/{declaration_id}/audit", headers=auth("unit")).status_code == 403

    with db.engine.begin() as conn:  # someone edits a reason behind the application's back
        conn.execute(text("UPDATE audit_log SET reason = 'changed' WHERE seq = 2"))
    body = client.get(f"/api/v1/processes/{declaration_id}/audit", headers=auth("title_office")).get_json()
    assert body["intact"] is False and [p["seq"] for p in body["problems"]] == [2]
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET reason = '材料齐全' WHERE seq = 2"))
        conn.execute(text("DELETE FROM audit_log WHERE seq = 4"))
    body = client.get(f"/api/v1/processes/{declaration_id}/audit", headers=auth("title_office")).get_json()
    assert body["intact"] is False and "removed" in body["problems"][0]["problem"]
    with db.uow(readonly=True) as uow:
        assert audit.verify(uow, instance(db, declaration_id))


def test_an_experts_vote_never_enters_the_audit_log(db):
    from services.review.engine import audit
    from services.review.models import Instance

    declaration_id = start(db, deploy(db, diagram()))
    from services.review.engine import runtime

    task = open_task(db, declaration_id, "unit_check")
    with db.uow() as uow:
        with runtime.locked(uow, declaration_id=declaration_id) as (inst, workflow):
            runtime.run_task(
                uow,
                inst,
                workflow,
                task.id,
                {
                    "decision": "disagree",
                    "reason": "weak",
                    "decided_by": "expert1",
                    "vote": {"expert": "expert1", "choice": "disagree"},
                },
            )
        uow.commit()
    with db.uow(readonly=True) as uow:
        inst = uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))
        entry = audit.entries(uow, inst.id)[-1]
        assert (entry.decision, entry.reason) == ("voted", None)
        assert "disagree" not in json.dumps(entry.changes) and "weak" not in json.dumps(entry.changes)
        assert audit.verify(uow, inst) == []


# -- one winner --------------------------------------------------------------------------


def test_two_colleagues_completing_one_task_at_once_one_wins_and_the_other_changes_nothing(db):
    from services.review import service
    from services.review.models import AuditEntry
    from shared.errors import Conflict
    from shared.identity.principal import Principal

    declaration_id = start(db, deploy(db, diagram()))
    task = open_task(db, declaration_id, "unit_check")
    version = instance(db, declaration_id).version
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def finish(who: str) -> None:
        try:
            barrier.wait(timeout=10)
            with db.uow() as uow:
                service.complete(uow, Principal(who, "unit", UNIT), task.id, "approve", f"by {who}")
                time.sleep(0.05)  # hold the lock a while: the other must wait, then see it done
                uow.commit()
            results[who] = "ok"
        except Conflict as exc:
            results[who] = exc.errors[0].rule
        except BaseException as exc:  # noqa: BLE001
            results[who] = repr(exc)

    threads = [threading.Thread(target=finish, args=(who,)) for who in ("unit", "unit-colleague")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results.values()) == ["already_done", "ok"], results
    winner = next(who for who, r in results.items() if r == "ok")
    assert instance(db, declaration_id).version == version + 1
    with db.uow(readonly=True) as uow:
        entries = list(uow.session.scalars(select(AuditEntry).where(AuditEntry.task_id == task.id)))
        assert [(e.actor, e.reason) for e in entries] == [(winner, f"by {winner}")]
        outbox = [
            json.loads(r.body)["data"]
            for r in uow.session.scalars(
                select(db.outbox_model).where(db.outbox_model.type == "review.decision.recorded.v1")
            )
        ]
    assert [o["actor"] for o in outbox] == [winner]


# -- versions ----------------------------------------------------------------------------


def test_diff_by_element_id_and_a_refused_migration_names_the_lost_task(db, capsys):
    from services.review import bpmn_cli
    from services.review.engine import versions
    from shared.errors import Conflict

    v1 = deploy(db, diagram())
    shorter = (
        diagram()
        .decode()
        .replace('name="Committee acceptance"', 'name="Committee intake"')
        .replace("filed = issued['number']", "filed = True")
    )
    without_unit_check = shorter.replace("<bpmn:flowNodeRef>unit_check</bpmn:flowNodeRef>", "")
    start_idx = without_unit_check.index('<bpmn:userTask id="unit_check"')
    end_idx = without_unit_check.index("</bpmn:userTask>", start_idx) + len("</bpmn:userTask>")
    without_unit_check = (
        (without_unit_check[:start_idx] + without_unit_check[end_idx:])
        .replace(
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="unit_check" />',
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="score" />',
        )
        .replace('<bpmn:sequenceFlow id="f2" sourceRef="unit_check" targetRef="score" />', "")
        .replace(
            "<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>\n      <bpmn:script>",
            "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>\n      <bpmn:script>",
        )
    )
    v2 = deploy(db, without_unit_check.encode())

    with db.uow(readonly=True) as uow:
        change = versions.diff(v1.bpmn, v2.bpmn).as_dict()
        labels = [v["label"] for v in versions.listing(uow)]
    assert [e["id"] for e in change["removed"]] == ["f2", "unit_check"]
    changed = {c["id"]: c["what"] for c in change["changed"]}
    assert changed["committee_acceptance"] == ["name"] and "content" in changed["file"]
    assert changed["f1"] == ["attributes"] and "lane_unit" in changed
    assert labels == ["runtime_test@1", "runtime_test@2"]

    declaration_id = start(db, v1)
    with db.uow() as uow, pytest.raises(Conflict) as refused:
        versions.migrate(uow, declaration_id, "runtime_test@2", operator="designer1")
    assert refused.value.errors[0].rule == "no_lost_tasks"
    assert "running task on element 'unit_check' would be lost" in refused.value.message
    assert instance(db, declaration_id).definition_id == v1.id

    assert bpmn_cli.main(["migrate", declaration_id, "runtime_test@2"]) == 2
    assert "unit_check' would be lost" in capsys.readouterr().err
    assert bpmn_cli.main(["diff", "runtime_test@1", v2.id[:8]]) == 0
    out = capsys.readouterr().out
    assert "- unit_check (userTask)" in out and "~ committee_acceptance (userTask) name" in out
    assert bpmn_cli.main(["versions"]) == 0
    assert "runtime_test@2" in capsys.readouterr().out


def test_an_instance_migrates_when_its_running_task_survives(db, clients, auth):
    from services.review.engine import versions

    v1 = deploy(db, diagram())
    declaration_id = start(db, v1)
    v2 = deploy(db, diagram(SCRIPT_ONE="score = 2"))
    assert v2.id != v1.id
    with db.uow() as uow:
        versions.migrate(uow, declaration_id, v2.id, operator="designer1")
        uow.commit()
    assert instance(db, declaration_id).definition_id == v2.id
    client = clients["review"]
    task = open_task(db, declaration_id, "unit_check")
    assert complete(client, auth("unit"), task.id).status_code == 200
    from services.review.engine import runtime

    with db.uow() as uow:
        with runtime.locked(uow, declaration_id=declaration_id) as (_, workflow):
            assert workflow.data.get("score", workflow.last_task.data.get("score")) == 2
    history = client.get(f"/api/v1/processes/{declaration_id}/audit", headers=auth("title_office")).get_json()
    assert [(e["source"], e["decision"]) for e in history["entries"]][1] == ("operator", "migrate")
    assert history["intact"]
