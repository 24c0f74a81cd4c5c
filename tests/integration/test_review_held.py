"""Messages for an instance that cannot take them (suspended, or an open incident) are held,
acknowledged, and delivered in arrival order when it runs again; a withdrawal where the diagram
does not wait for one ends the instance with an audit entry, its tasks and timers cancelled."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.review_flow_helpers import (
    act,
    envelope,
    ok,
    open_stages,
    outbox,
    outcome_of,
    review_db,
    start,
    submitted,
    tasks_of,
    through_unit,
)
from tests.integration.test_review_runtime import audit_entries, consume, deploy, instance, issued
from tests.integration.test_review_runtime import start as start_on

WITHDRAWAL = {"applicant": "applicant", "at": "2026-03-03T09:00:00+08:00"}


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def withdrawal(declaration_id: str) -> Any:
    return envelope("declaration.withdrawn.v1", {"declaration_id": declaration_id, **WITHDRAWAL})


def resubmission(data: dict[str, Any], **changes: Any) -> Any:
    return envelope("declaration.resubmitted.v1", {**data, "submitted_at": "2026-03-03T10:00:00+08:00", **changes})


def timer_of(db: Any, declaration_id: str) -> Any:
    from services.review.models import Timer

    with db.uow(readonly=True) as uow:
        return uow.session.get(Timer, instance(db, declaration_id).id)


def held_rows(db: Any, declaration_id: str) -> list[Any]:
    from services.review.models import HeldMessage

    with db.uow(readonly=True) as uow:
        return list(
            uow.session.scalars(
                select(HeldMessage).where(HeldMessage.declaration_id == declaration_id).order_by(HeldMessage.id)
            )
        )


def suspend(client: Any, auth: Any, declaration_id: str, resume: bool = False, **body: Any) -> dict[str, Any]:
    action = "resume" if resume else "suspend"
    return ok(client.post(f"/api/v1/instances/{declaration_id}/{action}", headers=auth("title_office"), json=body))


def process(client: Any, auth: Any, declaration_id: str) -> dict[str, Any]:
    return ok(client.get(f"/api/v1/processes/{declaration_id}", headers=auth("title_office")))


# -- the withdrawal where the diagram does not wait for it ---------------------------------------

# Start, then wait an hour: nothing in it waits for a withdrawal.
WAITING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_wait_test" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="wait_test" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="cooling_off" name="Cooling off">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="hour"><bpmn:timeDuration>"PT1H"</bpmn:timeDuration></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done" name="Done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="cooling_off" />
    <bpmn:sequenceFlow id="f2" sourceRef="cooling_off" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_a_withdrawal_where_the_diagram_waits_on_a_timer_ends_it_cancels_the_timer_and_is_audited(dbs, clients, auth):
    db, client = dbs["review"], clients["review"]
    declaration_id = start_on(db, deploy(db, WAITING.encode(), "wait_test.bpmn"))
    timer = timer_of(db, declaration_id)
    assert timer is not None and instance(db, declaration_id).stage == "cooling_off"

    env = withdrawal(declaration_id)
    assert consume(db, env) == "done"
    assert outcome_of(db, declaration_id) == ("completed", "withdrawn")
    assert timer_of(db, declaration_id) is None and instance(db, declaration_id).stage == "completed"
    last = audit_entries(client, auth, declaration_id)[-1]
    assert (last["source"], last["actor"], last["decision"]) == ("message", env.id, "withdrawn")
    assert "withdrawn by the applicant" in last["reason"] and "cooling_off" in last["reason"]
    assert (last["changes"]["applicant"], last["changes"]["at"]) == ("applicant", WITHDRAWAL["at"])
    assert last["changes"]["cancelled_timer"] == timer.due_at.isoformat()
    # The outcome is announced once, as by a diagram's own withdrawal path (no extra stage notice).
    assert [d["outcome"] for d in outbox(db, "review.completed.v1", declaration_id)] == ["withdrawn"]
    assert outbox(db, "review.stage.changed.v1", declaration_id) == []

    # Redelivered, or sent again: nothing more happens and nothing more is announced.
    assert consume(db, env) == "duplicate"
    assert consume(db, withdrawal(declaration_id)) == "done"
    assert len(outbox(db, "review.completed.v1", declaration_id)) == 1
    assert audit_entries(client, auth, declaration_id)[-1]["actor"] == env.id


def test_a_withdrawal_at_a_department_cancels_its_task_and_its_queue_entry(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    [department] = [t for t in tasks_of(review, declaration_id, bpmn_id="department_check")]
    assert consume(review, withdrawal(declaration_id)) == "done"
    assert outcome_of(review, declaration_id) == ("completed", "withdrawn")
    assert [t.status for t in tasks_of(review, declaration_id, bpmn_id="department_check")] == ["cancelled"]
    assert (
        ok(client.get("/api/v1/tasks", headers=auth("dept1"), query_string={"declaration_id": declaration_id}))["items"]
        == []
    )
    last = audit_entries(client, auth, declaration_id)[-1]
    assert last["changes"]["cancelled_tasks"] == [f"department_check:{department.id}"]
    assert last["changes"]["stage"] == "department_check" and "department_check" in last["reason"]


# -- held while suspended ------------------------------------------------------------------------


def test_messages_for_a_suspended_instance_are_held_and_delivered_in_arrival_order_on_resume(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check", "return", "请补充")
    suspend(client, auth, declaration_id, reason="举报核查中")
    before = instance(review, declaration_id)

    amended, withdrawn = resubmission(data, specialty="软件工程"), withdrawal(declaration_id)
    assert consume(review, amended) == "done"
    assert consume(review, withdrawn) == "done"
    assert consume(review, amended) == "duplicate"  # a redelivery is held once
    assert [(h.message_id, h.type, h.reason) for h in held_rows(review, declaration_id)] == [
        (amended.id, "declaration.resubmitted.v1", "suspended"),
        (withdrawn.id, "declaration.withdrawn.v1", "suspended"),
    ]
    after = instance(review, declaration_id)
    assert (after.status, after.state) == ("running", before.state) and open_stages(review, declaration_id) == []
    assert process(client, auth, declaration_id)["held_messages"] == 2
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("unit")))
    assert (view["held_messages"], [h["type"] for h in view["held"]]) == (
        2,
        ["declaration.resubmitted.v1", "declaration.withdrawn.v1"],
    )

    resumed = suspend(client, auth, declaration_id, resume=True, reason="核查完毕")
    # The resubmission first (back at the unit), then the withdrawal, caught there by the diagram.
    assert (resumed["suspended"], resumed["held_messages"], resumed["status"]) == (False, 0, "completed")
    assert outcome_of(review, declaration_id) == ("completed", "withdrawn")
    assert [t.status for t in tasks_of(review, declaration_id, bpmn_id="unit_check")] == ["completed", "cancelled"]
    entries = audit_entries(client, auth, declaration_id)
    assert [(e["actor"], e["decision"]) for e in entries[-5:]] == [
        (amended.id, "held"),
        (withdrawn.id, "held"),
        ("title_office", "resume"),
        (amended.id, "delivered_after_resume"),
        (withdrawn.id, "delivered_after_resume"),
    ]
    assert entries[-2]["changes"]["specialty"] == "软件工程" and "after the resume" in entries[-2]["reason"]
    assert held_rows(review, declaration_id) == []
    assert [d["outcome"] for d in outbox(review, "review.completed.v1", declaration_id)] == ["withdrawn"]


def test_a_held_message_the_process_never_waits_for_is_audited_not_delivered(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    suspend(client, auth, declaration_id)
    stray = resubmission(data)  # nothing was returned: the process waits at the unit check
    assert consume(review, stray) == "done"
    suspend(client, auth, declaration_id, resume=True)
    assert open_stages(review, declaration_id) == [("unit_check", data["unit_code"])]
    last = audit_entries(client, auth, declaration_id)[-1]
    assert (last["actor"], last["decision"]) == (stray.id, "not_delivered")
    assert "does not wait for it" in last["reason"] and last["changes"]["message"] == "declaration.resubmitted.v1"
    assert held_rows(review, declaration_id) == [] and process(client, auth, declaration_id)["held_messages"] == 0


# -- held while an incident is open --------------------------------------------------------------

# Wait for the resubmission, check it with a script, then wait for the certificate.
TWO_MESSAGES = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_held_test" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="msg_resubmitted" name="declaration.resubmitted" />
  <bpmn:message id="msg_issued" name="certificate.issued" />
  <bpmn:process id="held_test" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="resubmitted" name="Resubmitted">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:messageEventDefinition id="resubmitted_def" messageRef="msg_resubmitted">
        <bpmn:extensionElements><spiffworkflow:messageVariable>resubmission</spiffworkflow:messageVariable></bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="check" name="Check">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>CHECK</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:intermediateCatchEvent id="issued" name="Certificate issued">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:messageEventDefinition id="issued_def" messageRef="msg_issued">
        <bpmn:extensionElements><spiffworkflow:messageVariable>issued</spiffworkflow:messageVariable></bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="certified" name="Certified"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="certified" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="resubmitted" />
    <bpmn:sequenceFlow id="f2" sourceRef="resubmitted" targetRef="check" />
    <bpmn:sequenceFlow id="f3" sourceRef="check" targetRef="issued" />
    <bpmn:sequenceFlow id="f4" sourceRef="issued" targetRef="certified" />
  </bpmn:process>
</bpmn:definitions>
"""


def test_messages_wait_behind_an_open_incident_and_follow_its_successful_retry(dbs, clients, auth):
    from services.review.engine import versions

    db, client = dbs["review"], clients["review"]
    broken = deploy(
        db, TWO_MESSAGES.replace("CHECK", "checked = resubmission['no_such_key']").encode(), "held_test.bpmn"
    )
    declaration_id = start_on(db, broken)
    first = resubmission(submitted(declaration_id))
    assert consume(db, first) == "done"  # its step failed: an incident, consumed once
    assert instance(db, declaration_id).has_incident
    certificate = issued(declaration_id)
    assert consume(db, certificate) == "done"
    assert [(h.message_id, h.reason) for h in held_rows(db, declaration_id)] == [(certificate.id, "incident")]
    assert process(client, auth, declaration_id)["held_messages"] == 1

    fixed = deploy(
        db, TWO_MESSAGES.replace("CHECK", "checked = resubmission.get('no_such_key')").encode(), "held_test.bpmn"
    )
    with db.uow() as uow:
        versions.migrate(uow, declaration_id, fixed.id[:10], operator="designer1")
        uow.commit()
    [incident] = ok(
        client.get("/api/v1/incidents", headers=auth("title_office"), query_string={"declaration_id": declaration_id})
    )["items"]
    assert (
        ok(client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth("title_office")))["status"]
        == "resolved"
    )
    final = instance(db, declaration_id)
    assert (final.status, final.outcome, final.has_incident) == ("completed", "certified", False)
    entries = audit_entries(client, auth, declaration_id)
    assert [(e["source"], e["actor"], e["decision"]) for e in entries[-4:]] == [
        ("message", certificate.id, "held"),
        ("operator", "designer1", "migrate"),
        ("message", None, "retry"),  # the retry re-runs it
        ("message", certificate.id, "delivered_after_retry"),
    ]
    assert "open incident" in entries[-4]["reason"] and "after the retry" in entries[-1]["reason"]
    assert entries[-2]["reason"] == f"incident {incident['id']} re-run by title_office"
    assert entries[-1]["element"] == "issued" and "certified" in entries[-1]["completed"]
    assert held_rows(db, declaration_id) == []


def test_a_held_message_that_fails_on_resume_becomes_an_incident_and_the_rest_stay_held(dbs, clients, auth):
    db, client = dbs["review"], clients["review"]
    broken = deploy(
        db, TWO_MESSAGES.replace("CHECK", "checked = resubmission['no_such_key']").encode(), "held_test.bpmn"
    )
    declaration_id = start_on(db, broken)
    suspend(client, auth, declaration_id)
    first, certificate = resubmission(submitted(declaration_id)), issued(declaration_id)
    assert consume(db, first) == "done" and consume(db, certificate) == "done"

    # The resume itself succeeds; the failing step is an incident, and what came after it waits for its retry.
    resumed = suspend(client, auth, declaration_id, resume=True)
    assert (resumed["suspended"], resumed["has_incident"], resumed["held_messages"]) == (False, True, 1)
    [incident] = ok(
        client.get("/api/v1/incidents", headers=auth("title_office"), query_string={"declaration_id": declaration_id})
    )["items"]
    assert (incident["source"], incident["element"]) == ("message", "check")
    assert [(h.message_id, h.reason) for h in held_rows(db, declaration_id)] == [(certificate.id, "suspended")]
    assert instance(db, declaration_id).stage == "resubmitted"  # as last saved

    from services.review.engine import versions

    fixed = deploy(db, TWO_MESSAGES.replace("CHECK", "checked = 1").encode(), "held_test.bpmn")
    with db.uow() as uow:
        versions.migrate(uow, declaration_id, fixed.id[:10], operator="designer1")
        uow.commit()
    ok(client.post(f"/api/v1/incidents/{incident['id']}/retry", headers=auth("title_office")))
    assert outcome_of(db, declaration_id) == ("completed", "certified") and held_rows(db, declaration_id) == []
    assert audit_entries(client, auth, declaration_id)[-1]["decision"] == "delivered_after_retry"


def test_the_scheduler_delivers_messages_left_held_for_a_running_instance_in_arrival_order(dbs, clients, auth):
    """Say a crash left a held message behind a resume: later ones queue behind it, the tick delivers both."""
    from services.review import scheduler
    from services.review.models import HeldMessage

    db, client = dbs["review"], clients["review"]
    declaration_id = start_on(db, deploy(db, TWO_MESSAGES.replace("CHECK", "checked = 1").encode(), "held_test.bpmn"))
    first, certificate = resubmission(submitted(declaration_id)), issued(declaration_id)
    with db.uow() as uow:
        uow.session.add(
            HeldMessage(
                instance_id=instance(db, declaration_id).id,
                declaration_id=declaration_id,
                message_id=first.id,
                type=first.type,
                data=first.data,
                reason="suspended",
            )
        )
        uow.commit()
    assert consume(db, certificate) == "done"
    assert [(h.message_id, h.reason) for h in held_rows(db, declaration_id)] == [
        (first.id, "suspended"),
        (certificate.id, "queued"),
    ]
    assert scheduler.release_held(db) == 2
    assert outcome_of(db, declaration_id) == ("completed", "certified") and held_rows(db, declaration_id) == []
    entries = audit_entries(client, auth, declaration_id)
    assert [(e["actor"], e["decision"]) for e in entries[-2:]] == [
        (first.id, "delivered_after_recovery"),
        (certificate.id, "delivered_after_recovery"),
    ]
    assert scheduler.release_held(db) == 0


def test_an_incident_that_can_never_succeed_is_dismissed_with_a_reason_and_what_it_held_is_released(dbs, clients, auth):
    db, client = dbs["review"], clients["review"]
    # The check passes only for a resubmission whose specialty the office corrected to "fixed".
    definition = deploy(
        db,
        TWO_MESSAGES.replace("CHECK", "checked = {'fixed': 1}[resubmission['specialty']]").encode(),
        "held_test.bpmn",
    )
    declaration_id = start_on(db, definition)
    assert consume(db, resubmission(submitted(declaration_id))) == "done"  # fails: an incident
    early = issued(declaration_id)
    assert consume(db, early) == "done" and len(held_rows(db, declaration_id)) == 1
    [incident] = ok(
        client.get("/api/v1/incidents", headers=auth("title_office"), query_string={"declaration_id": declaration_id})
    )["items"]
    url = f"/api/v1/incidents/{incident['id']}/dismiss"

    refused = client.post(url, headers=auth("title_office"), json={})
    assert refused.status_code == 422 and "reason" in str(refused.get_json())
    assert client.post(url, headers=auth("unit"), json={"reason": "x"}).status_code == 403
    dismissed = ok(client.post(url, headers=auth("title_office"), json={"reason": "申报人已重新提交更正后的材料"}))
    assert (dismissed["status"], dismissed["resolved_by"]) == ("dismissed", "title_office")
    assert client.post(url, headers=auth("title_office"), json={"reason": "again"}).status_code == 409
    assert not instance(db, declaration_id).has_incident
    assert (
        ok(
            client.get(
                "/api/v1/incidents",
                headers=auth("title_office"),
                query_string={"declaration_id": declaration_id, "status": "dismissed"},
            )
        )["total"]
        == 1
    )

    # The failed step is not re-run: the process still waits for a resubmission, so the certificate
    # held behind the incident is released as not delivered; both decisions are in the audit log.
    assert held_rows(db, declaration_id) == []
    entries = audit_entries(client, auth, declaration_id)
    assert [(e["source"], e["decision"]) for e in entries[-2:]] == [
        ("operator", "dismiss_incident"),
        ("message", "not_delivered"),
    ]
    assert entries[-2]["actor"] == "title_office" and entries[-2]["reason"] == "申报人已重新提交更正后的材料"

    # It runs on from where it was saved: a corrected resubmission, then the certificate, end it.
    assert consume(db, resubmission(submitted(declaration_id), specialty="fixed")) == "done"
    assert consume(db, issued(declaration_id)) == "done"
    assert outcome_of(db, declaration_id) == ("completed", "certified")
