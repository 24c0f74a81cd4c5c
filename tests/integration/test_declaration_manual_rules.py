"""Rules of the applicant's manual that the declaration service enforces (issue 19): the catalogue chain
of every declaration, withdrawal only before the unit acts, and the integrity record (诚信档案)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.conftest import wait_for
from tests.integration.test_declaration import (
    UNIT,
    assert_problem,
    declare,
    deliver,
    detail,
    employ,
    envelope,
    fill,
    outbox,
    save_past_activity,
    submitted_declaration,
)
from tests.integration.test_declaration_lifecycle import drafted, submit

TWO_LEVELS = "00000000-0000-4000-8000-0000000000c2"


def two_level_activity(dbs) -> str:
    """An ongoing activity for 副高级 and 正高级 with both levels' qualification names."""
    return save_past_activity(
        dbs,
        id=TWO_LEVELS,
        name="2099年度工程系列高级职称评审",
        levels=["副高级", "正高级"],
        qualification_names=["高级工程师", "正高级工程师"],
        categories=["normal", "enterprise_direct"],
        opens_on=dt.date(2020, 1, 1),
        initial_deadline=dt.date(2099, 12, 31),
        modification_deadline=dt.date(2099, 12, 31),
    )


# -- §三(二)2 ※ 申报需求各项相互关联: level and qualification name hold together --------------------


@pytest.mark.parametrize("level, name", [("副高级", "正高级工程师"), ("正高级", "高级工程师")])
def test_a_qualification_name_of_another_level_is_refused_when_opening(clients, auth, demo, level, name):
    two_level_activity(demo)
    for category in ("normal", "enterprise_direct"):
        response = declare(
            clients, auth("applicant"), activity_id=TWO_LEVELS, level=level, qualification_name=name, category=category
        )
        body = assert_problem(response, 422, "qualification_name", "matches_level")
        assert level in body["errors"][0]["message"] and "资格名称与申报层级不符" in body["errors"][0]["message"]
    assert outbox(demo["declaration"], "profile.take_snapshot.v1") == []


def test_matching_level_and_qualification_name_are_accepted(clients, auth, demo):
    two_level_activity(demo)
    response = declare(
        clients, auth("applicant"), activity_id=TWO_LEVELS, level="正高级", qualification_name="正高级工程师"
    )
    assert response.status_code == 202, response.get_json()


def test_a_choice_the_catalogue_no_longer_holds_is_refused_at_submission(clients, auth, demo):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    drafted(demo, declaration_id)
    fill(clients, auth("applicant"), declaration_id)
    # the title office renames the qualification of 副高级 in the catalogue meanwhile
    series = next(
        s
        for s in clients["declaration"].get("/api/v1/catalogue", headers=auth("title_office")).get_json()["series"]
        if s["name"] == "工程"
    )
    for entry in series["levels"]:
        if entry["level"] == "副高级":
            entry["qualification_names"] = ["高级工程师（新）"]
    changed = clients["declaration"].put(
        "/api/v1/catalogue/series/工程",
        headers=auth("title_office"),
        json={key: series[key] for key in ("code", "levels", "specialties", "appointable")},
    )
    assert changed.status_code == 200, changed.get_json()
    body = assert_problem(submit(clients, auth("applicant"), declaration_id), 422)
    assert ("qualification_name", "in_catalogue") in {(e["field"], e["rule"]) for e in body["errors"]}
    assert outbox(demo["declaration"], "declaration.submitted.v1") == []


# -- §三(五) ※ withdrawal only while the unit has not acted (单位尚未审核) ---------------------------


def withdraw(clients, auth, declaration_id: str):
    return clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/withdraw", headers=auth("applicant"))


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def test_the_unit_approving_without_a_claim_ends_withdrawal_through_the_review(clients, auth, demo, workers):
    """The whole path: the unit approves its check straight away (no claim); what the review publishes
    reaches the declaration, which then refuses the withdrawal."""
    employ(clients, auth)
    applicant = auth("applicant")
    declaration_id = declare(clients, applicant).get_json()["id"]
    wait_for("the snapshot", lambda: detail(clients, applicant, declaration_id)["status"] == "draft")
    fill(clients, applicant, declaration_id)
    assert submit(clients, applicant, declaration_id).status_code == 200

    def unit_task():
        items = (
            clients["review"]
            .get("/api/v1/tasks", headers=auth("unit"), query_string={"declaration_id": declaration_id})
            .get_json()["items"]
        )
        return next((t for t in items if t["stage"] == "unit_check"), None)

    task = wait_for("the unit's check", unit_task)
    assert detail(clients, applicant, declaration_id)["withdrawable"] is True
    done = clients["review"].post(
        f"/api/v1/tasks/{task['id']}/complete", headers=auth("unit"), json={"decision": "approve"}
    )
    assert done.status_code == 200, done.get_json()
    current = wait_for(
        "the next stage",
        lambda: (d := detail(clients, applicant, declaration_id))["stage"] == "unit_recommendation" and d,
    )
    assert current["withdrawable"] is False
    body = assert_problem(withdraw(clients, auth, declaration_id), 409, "status", "unit_started")
    assert "单位已开始审核" in body["errors"][0]["message"]
    assert outbox(demo["declaration"], "declaration.withdrawn.v1") == []


@pytest.mark.parametrize(
    "message, handler",
    [
        ("review.decision.recorded.v1", "on_decision_recorded"),  # the decision arrives first
        ("review.stage.changed.v1", "on_stage_changed"),  # the next stage arrives first
    ],
)
def test_whichever_message_of_the_units_decision_arrives_first_ends_withdrawal(clients, auth, demo, message, handler):
    declaration_id = submitted_declaration(demo)
    data = {"declaration_id": declaration_id, "applicant": "applicant", "organisation": UNIT, "at": now()}
    if message == "review.decision.recorded.v1":
        data.update(
            stage="unit_check", stage_name="Unit check (单位审核)", decision="approve", reason=None, actor="unit"
        )
    else:
        data.update(stage="unit_recommendation", stage_name="推荐委员会评议", role="unit")
    assert deliver(demo, envelope(message, data), handler) == "done"
    assert detail(clients, auth("applicant"), declaration_id)["withdrawable"] is False
    assert_problem(withdraw(clients, auth, declaration_id), 409, "status", "unit_started")


def test_the_units_first_stage_opening_and_an_earlier_rounds_decision_leave_withdrawal_open(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    opened = {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "stage": "unit_check",
        "stage_name": "Unit check (单位审核)",
        "role": "unit",
        "organisation": UNIT,
        "at": now(),
    }
    deliver(demo, envelope("review.stage.changed.v1", opened), "on_stage_changed")
    earlier = {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "stage": "unit_check",
        "stage_name": "Unit check (单位审核)",
        "decision": "return",
        "reason": "补充材料",
        "actor": "unit",
        "organisation": UNIT,
        "at": "2020-01-01T00:00:00+00:00",
    }
    deliver(demo, envelope("review.decision.recorded.v1", earlier), "on_decision_recorded")
    assert detail(clients, auth("applicant"), declaration_id)["withdrawable"] is True
    assert withdraw(clients, auth, declaration_id).status_code == 200


def test_an_appointment_is_withdrawable_until_the_unit_agrees_and_then_no_longer(clients, auth, demo):
    """Independent appointment (自主聘任): the unit's first task is its agreement to appoint; once it has
    decided (without claiming first), the applicant can no longer withdraw."""
    from tests.integration.test_declaration import ELIGIBLE

    applicant = auth("applicant")
    created = clients["declaration"].post(
        "/api/v1/declarations",
        headers=applicant,
        json={
            "mode": "independent_appointment",
            "series": "工程",
            "level": "中级",
            "specialty": "软件工程",
            "qualification_name": "工程师",
            "category": "normal",
        },
    )
    assert created.status_code == 202, created.get_json()
    declaration_id = created.get_json()["id"]
    drafted(demo, declaration_id)
    clients["declaration"].patch(
        f"/api/v1/declarations/{declaration_id}",
        headers=applicant,
        json={
            "snapshot": {
                "educations": [{"level": "doctorate"}],
                "annual_assessments": ELIGIBLE["annual_assessments"],
                "continuing_education": ELIGIBLE["continuing_education"],
            }
        },
    )
    assert (
        clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=applicant).status_code
        == 200
    )
    opened = {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "stage": "unit_appointment",
        "stage_name": "Agree to appoint (单位同意聘任)",
        "role": "unit",
        "organisation": UNIT,
        "at": now(),
    }
    deliver(demo, envelope("review.stage.changed.v1", opened), "on_stage_changed")
    assert detail(clients, applicant, declaration_id)["withdrawable"] is True  # the task opened: not yet acted
    agreed = {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "stage": "unit_appointment",
        "stage_name": "Agree to appoint (单位同意聘任)",
        "decision": "approve",
        "reason": None,
        "actor": "unit",
        "organisation": UNIT,
        "at": now(),
    }
    deliver(demo, envelope("review.decision.recorded.v1", agreed), "on_decision_recorded")
    assert detail(clients, applicant, declaration_id)["withdrawable"] is False
    assert_problem(withdraw(clients, auth, declaration_id), 409, "status", "unit_started")
    assert outbox(demo["declaration"], "declaration.withdrawn.v1") == []


# -- the regulation (人社部令第40号): the integrity record (诚信档案) -------------------------------------------------


def issue_certificate(dbs) -> str:
    from sqlalchemy import select

    from services.certificate.models import Certificate
    from tests.integration.test_certificate import envelope_of, issue_command, run

    command = issue_command()
    run(dbs, envelope_of(command))
    with dbs["certificate"].uow(readonly=True) as uow:
        return uow.session.scalar(
            select(Certificate.number).where(Certificate.declaration_id == command["declaration_id"])
        )


def revoke(clients, auth, number: str, **body):
    return clients["certificate"].post(
        f"/api/v1/certificates/{number}/revoke", headers=auth("title_office"), json={"reason": "学历证书造假", **body}
    )


def records(clients, auth, **query) -> dict:
    response = clients["declaration"].get("/api/v1/integrity-records", headers=auth("title_office"), query_string=query)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_a_revocation_for_fraud_bars_the_holder_for_three_years(clients, auth, demo, workers):
    number = issue_certificate(demo)
    revoked = revoke(clients, auth, number, reason_kind="fraud")
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["revoked_kind"] == "fraud"
    page = wait_for("the integrity record", lambda: (p := records(clients, auth))["total"] == 1 and p)
    [record] = page["items"]
    assert (record["subject"], record["certificate_number"], record["reason"], record["running"]) == (
        "applicant",
        number,
        "学历证书造假",
        True,
    )
    starts = dt.datetime.fromisoformat(record["starts_at"])
    ends = dt.datetime.fromisoformat(record["ends_at"])
    assert (ends.year - starts.year, ends.month, ends.day) == (3, starts.month, starts.day)
    # while it runs, the person cannot open a declaration
    body = assert_problem(declare(clients, auth("applicant")), 403, "applicant", "integrity_record")
    message = body["errors"][0]["message"]
    assert record["id"] in message and record["ends_at"] in message and "诚信档案" in message
    assert outbox(demo["declaration"], "profile.take_snapshot.v1") == []
    assert records(clients, auth, running="true")["total"] == 1
    assert records(clients, auth, running="false")["total"] == 0


def test_a_draft_opened_before_the_record_cannot_be_submitted(clients, auth, demo):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    drafted(demo, declaration_id)
    fill(clients, auth("applicant"), declaration_id)
    number = issue_certificate(demo)
    assert revoke(clients, auth, number, reason_kind="fraud").status_code == 200
    deliver_revocation(demo)
    assert_problem(submit(clients, auth("applicant"), declaration_id), 403, "applicant", "integrity_record")
    assert outbox(demo["declaration"], "declaration.submitted.v1") == []


def deliver_revocation(dbs) -> None:
    """The certificate service's revocation event, processed by the declaration's consumer."""
    import json

    from sqlalchemy import select

    from shared.messaging.envelope import Envelope

    model = dbs["certificate"].outbox_model
    with dbs["certificate"].uow(readonly=True) as uow:
        [row] = uow.session.scalars(select(model).where(model.type == "certificate.revoked.v1"))
        env = Envelope.from_json(row.body)
    assert json.loads(row.body)["data"]["reason_kind"] in ("fraud", "other")
    assert deliver(dbs, env, "on_certificate_revoked") == "done"


def test_a_revocation_for_another_reason_bars_nobody(clients, auth, demo):
    number = issue_certificate(demo)
    response = revoke(clients, auth, number, reason="证书信息录入错误")  # reason_kind defaults to other
    assert response.status_code == 200 and response.get_json()["revoked_kind"] == "other"
    deliver_revocation(demo)
    assert records(clients, auth)["total"] == 0
    assert declare(clients, auth("applicant")).status_code == 202


def test_the_record_ends_three_years_after_the_revocation(clients, auth, demo, monkeypatch):
    from services.declaration import integrity

    number = issue_certificate(demo)
    revoke(clients, auth, number, reason_kind="fraud")
    deliver_revocation(demo)
    [record] = records(clients, auth)["items"]
    ends = dt.datetime.fromisoformat(record["ends_at"])
    monkeypatch.setattr(integrity, "utcnow", lambda: ends - dt.timedelta(seconds=1))
    assert_problem(declare(clients, auth("applicant")), 403, "applicant", "integrity_record")
    monkeypatch.setattr(integrity, "utcnow", lambda: ends)
    assert declare(clients, auth("applicant")).status_code == 202
    assert records(clients, auth, running="false")["items"][0]["running"] is False


def test_the_title_office_lifts_a_record_with_a_reason(clients, auth, demo):
    number = issue_certificate(demo)
    revoke(clients, auth, number, reason_kind="fraud")
    deliver_revocation(demo)
    [record] = records(clients, auth)["items"]
    url = f"/api/v1/integrity-records/{record['id']}"
    for user in ("applicant", "unit", "committee"):
        assert_problem(clients["declaration"].get(url, headers=auth(user)), 403)
        assert_problem(clients["declaration"].post(url + "/lift", headers=auth(user), json={"reason": "x"}), 403)
    assert_problem(
        clients["declaration"].post(url + "/lift", headers=auth("title_office"), json={"reason": " "}),
        422,
        "reason",
        "required",
    )
    lifted = clients["declaration"].post(
        url + "/lift", headers=auth("title_office"), json={"reason": "复查认定证书系他人冒用身份取得"}
    )
    assert lifted.status_code == 200, lifted.get_json()
    seen = clients["declaration"].get(url, headers=auth("title_office")).get_json()
    assert (seen["running"], seen["lifted_by"], seen["lift_reason"]) == (
        False,
        "title_office",
        "复查认定证书系他人冒用身份取得",
    )
    assert seen["lifted_at"] is not None
    assert_problem(
        clients["declaration"].post(url + "/lift", headers=auth("title_office"), json={"reason": "again"}),
        409,
        "record_id",
        "running",
    )
    assert declare(clients, auth("applicant")).status_code == 202
