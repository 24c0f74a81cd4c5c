"""The life of a declaration: deadlines at the boundary, one live declaration, withdrawal,
discard, read-only after submission, completeness, eligibility, snapshot independence."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from services.declaration import clock
from shared.contracts.profile import Snapshot
from tests.conftest import wait_for
from tests.integration.test_declaration import (
    ACTIVITY,
    COMPLETE,
    DECLARATION,
    PROJECT,
    UNIT,
    assert_problem,
    declare,
    deliver,
    detail,
    employ,
    envelope,
    fill,
    outbox,
    own_files,
    save_past_activity,
    submitted_declaration,
)

SNAPSHOT = {"name": "张伟", "id_number": "120101198806120032", "unit_code": UNIT, "unit_name": "天津市示范科技有限公司"}
DEADLINE_ACTIVITY = "00000000-0000-4000-8000-0000000000d1"
# 2030-06-30 closes at 23:59:59 Beijing time = 15:59:59 UTC.
DEADLINE = dt.datetime(2030, 6, 30, 15, 59, 59, tzinfo=dt.UTC)


def demo_requirements() -> dict:
    import json
    from importlib import resources

    demo = json.loads(resources.files("shared.demo").joinpath("activities.json").read_text("utf-8"))["activities"][0]
    return {key: demo[key] for key in ("item_types", "required_materials", "exception_conditions")}


def drafted(dbs, declaration_id: str) -> None:
    """The profile's answer, delivered directly (the broker path is tested in test_declaration)."""
    from services.declaration import service

    with dbs["declaration"].uow() as uow:
        service.snapshot_taken(uow, declaration_id, Snapshot.load(SNAPSHOT))
        uow.commit()


def submit(clients, headers, declaration_id: str):
    return clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=headers)


def at_time(monkeypatch, instant: dt.datetime) -> None:
    monkeypatch.setattr(clock, "now", lambda: instant)


# -- deadlines ---------------------------------------------------------------------


@pytest.mark.parametrize("after, status", [(dt.timedelta(0), 200), (dt.timedelta(seconds=1), 409)])
def test_the_initial_deadline_is_inclusive_to_the_second(clients, auth, demo, monkeypatch, after, status):
    save_past_activity(
        demo,
        id=DEADLINE_ACTIVITY,
        initial_deadline=dt.date(2030, 6, 30),
        modification_deadline=dt.date(2030, 7, 31),
        **demo_requirements(),
    )
    at_time(monkeypatch, DEADLINE - dt.timedelta(days=1))
    declaration_id = declare(clients, auth("applicant"), activity_id=DEADLINE_ACTIVITY).get_json()["id"]
    drafted(demo, declaration_id)
    fill(clients, auth("applicant"), declaration_id)
    at_time(monkeypatch, DEADLINE + after)
    response = submit(clients, auth("applicant"), declaration_id)
    if status == 200:
        assert response.status_code == 200, response.get_json()
    else:
        body = assert_problem(response, 409, "activity_id", "initial_deadline")
        assert "2030-06-30T23:59:59+08:00" in body["errors"][0]["message"] and "初次提交截止时间" in body["detail"]
        assert outbox(demo["declaration"], "declaration.submitted.v1") == []


def test_no_declaration_opens_one_second_after_the_initial_deadline(clients, auth, demo, monkeypatch):
    save_past_activity(
        demo, id=DEADLINE_ACTIVITY, initial_deadline=dt.date(2030, 6, 30), modification_deadline=dt.date(2030, 7, 31)
    )
    at_time(monkeypatch, DEADLINE + dt.timedelta(seconds=1))
    assert_problem(declare(clients, auth("applicant"), activity_id=DEADLINE_ACTIVITY), 409, "activity_id", "ongoing")


# -- one live declaration per applicant and activity ---------------------------------


def test_a_second_declaration_for_the_same_activity_is_refused(clients, auth, demo):
    first = declare(clients, auth("applicant"))
    assert first.status_code == 202
    body = assert_problem(declare(clients, auth("applicant")), 409, "activity_id", "one_live_declaration")
    assert "同一评审活动只能有一份有效申报" in body["errors"][0]["message"]
    # once discarded, the activity is free again
    discarded = clients["declaration"].delete(
        f"/api/v1/declarations/{first.get_json()['id']}", headers=auth("applicant")
    )
    assert discarded.status_code == 200 and discarded.get_json()["status"] == "discarded"
    assert declare(clients, auth("applicant")).status_code == 202


def test_two_concurrent_creates_make_one_declaration(apps, auth, demo):
    barrier = threading.Barrier(2)
    statuses: list[int] = []
    headers = auth("applicant")

    def create() -> None:
        client = apps["declaration"].test_client()
        barrier.wait()
        statuses.append(client.post("/api/v1/declarations", headers=headers, json=DECLARATION).status_code)

    threads = [threading.Thread(target=create) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [202, 409]
    mine = apps["declaration"].test_client().get("/api/v1/declarations", headers=headers).get_json()
    assert mine["total"] == 1
    assert len(outbox(demo["declaration"], "profile.take_snapshot.v1")) == 1


# -- withdraw, discard, read only ------------------------------------------------------


def claimed(demo, declaration_id: str, stage: str = "unit_check", organisation: str = UNIT) -> None:
    data = {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "stage": stage,
        "organisation": organisation,
        "actor": "unit",
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }
    assert deliver(demo, envelope("review.task.claimed.v1", data), "on_task_claimed") == "done"


def test_withdrawal_before_the_unit_claims(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    assert detail(clients, auth("applicant"), declaration_id)["withdrawable"] is True
    response = clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/withdraw", headers=auth("applicant"))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "withdrawn"
    [message] = outbox(demo["declaration"], "declaration.withdrawn.v1")
    assert message["data"]["declaration_id"] == declaration_id and message["data"]["applicant"] == "applicant"
    # the review's cancellation report leaves it withdrawn; the activity is free for a new declaration
    deliver(
        demo,
        envelope(
            "review.completed.v1",
            {
                "declaration_id": declaration_id,
                "applicant": "applicant",
                "outcome": "withdrawn",
                "at": clock.now().isoformat(),
            },
        ),
        "on_review_completed",
    )
    assert detail(clients, auth("applicant"), declaration_id)["status"] == "withdrawn"
    assert declare(clients, auth("applicant")).status_code == 202


def test_withdrawal_is_refused_once_the_unit_has_claimed(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    claimed(demo, declaration_id)
    assert detail(clients, auth("applicant"), declaration_id)["withdrawable"] is False
    response = clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/withdraw", headers=auth("applicant"))
    body = assert_problem(response, 409, "status", "unit_started")
    assert "单位已开始审核" in body["errors"][0]["message"]
    assert outbox(demo["declaration"], "declaration.withdrawn.v1") == []


def test_another_stages_claim_does_not_lock_withdrawal(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    claimed(demo, declaration_id, stage="department_check", organisation="111201010000123459")
    assert (
        clients["declaration"]
        .post(f"/api/v1/declarations/{declaration_id}/withdraw", headers=auth("applicant"))
        .status_code
        == 200
    )


def test_a_draft_cannot_be_withdrawn_and_a_submitted_one_cannot_be_discarded(clients, auth, demo):
    draft_id = declare(clients, auth("applicant")).get_json()["id"]
    assert_problem(
        clients["declaration"].post(f"/api/v1/declarations/{draft_id}/withdraw", headers=auth("applicant")),
        409,
        "status",
        "withdrawable",
    )
    clients["declaration"].delete(f"/api/v1/declarations/{draft_id}", headers=auth("applicant"))
    submitted_id = submitted_declaration(demo)
    assert_problem(
        clients["declaration"].delete(f"/api/v1/declarations/{submitted_id}", headers=auth("applicant")),
        409,
        "status",
        "draft_only",
    )


def test_a_submitted_declaration_is_read_only(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    url = f"/api/v1/declarations/{declaration_id}"
    assert_problem(
        clients["declaration"].patch(url, headers=auth("applicant"), json={"sections": {}}), 409, "status", "editable"
    )
    assert_problem(
        clients["declaration"].post(url + "/items", headers=auth("applicant"), json=PROJECT), 409, "status", "editable"
    )


# -- completeness and eligibility -------------------------------------------------------


def test_an_incomplete_declaration_is_refused_with_every_missing_part(clients, auth, demo):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    drafted(demo, declaration_id)
    body = assert_problem(submit(clients, auth("applicant"), declaration_id), 422)
    rules = {(e["field"], e["rule"]) for e in body["errors"]}
    assert rules == {
        ("category", "eligibility"),
        ("category", "annual_assessment"),
        ("category", "continuing_education"),
        ("items", "min_items"),
        ("materials.work_summary", "required"),
    }
    eligibility = next(e for e in body["errors"] if e["rule"] == "eligibility")["message"]
    assert "大学本科" in eligibility and "任工程师满5年" in eligibility
    last_year = clock.today().year - 1
    assessments = next(e for e in body["errors"] if e["rule"] == "annual_assessment")["message"]
    assert f"{last_year}: none recorded" in assessments and "称职及以上" in assessments


def test_eligibility_explains_the_failing_rule(clients, auth, demo):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    drafted(demo, declaration_id)
    url = f"/api/v1/declarations/{declaration_id}"
    clients["declaration"].patch(
        url,
        headers=auth("applicant"),
        json={
            "snapshot": {
                "educations": [{"level": "bachelor"}],
                "certificates": [
                    {
                        "kind": "title",
                        "name": "工程师",
                        "issued_on": (clock.today() - dt.timedelta(days=400)).isoformat(),
                    }
                ],
            }
        },
    )
    result = clients["declaration"].get(url + "/eligibility", headers=auth("applicant")).get_json()
    assert result["eligible"] is False and result["rule"] == "工程/高级工程师"
    assert any("has 1 years" in f for f in result["failures"])
    assert "seniority_exception" in result["exception_categories"]


def test_an_ineligible_applicant_may_choose_an_exception_category(clients, auth, demo):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    drafted(demo, declaration_id)
    url = f"/api/v1/declarations/{declaration_id}"
    headers = auth("applicant")
    changes = {"category": "seniority_exception", "materials": COMPLETE["materials"]}
    assert clients["declaration"].patch(url, headers=headers, json=changes).status_code == 200
    clients["declaration"].post(url + "/items", headers=headers, json=PROJECT)
    # the condition must be one the activity offers, and needs proof
    assert_problem(
        clients["declaration"].patch(
            url, headers=headers, json={"exception_claims": [{"code": "invented", "proof": []}]}
        ),
        422,
        "exception_claims",
        "activity_condition",
    )
    clients["declaration"].patch(
        url, headers=headers, json={"exception_claims": [{"code": "key_project", "proof": []}]}
    )
    assert_problem(submit(clients, headers, declaration_id), 422, "exception_claims", "proof")
    own_files(demo["declaration"], "applicant", "att-1")
    clients["declaration"].patch(
        url,
        headers=headers,
        json={"exception_claims": [{"code": "key_project", "proof": [{"name": "验收证书.pdf", "id": "att-1"}]}]},
    )
    response = submit(clients, headers, declaration_id)
    assert response.status_code == 200, response.get_json()
    [message] = outbox(demo["declaration"], "declaration.submitted.v1")
    assert message["data"]["category"] == "seniority_exception"
    assert message["data"]["attachment_ids"] == ["att-1"]


def test_items_follow_the_activity_item_types(clients, auth, demo):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    drafted(demo, declaration_id)
    url = f"/api/v1/declarations/{declaration_id}/items"
    headers = auth("applicant")
    assert_problem(
        clients["declaration"].post(url, headers=headers, json={"item_type": "patent"}),
        422,
        "item_type",
        "activity_item_type",
    )
    assert_problem(
        clients["declaration"].post(
            url, headers=headers, json={"item_type": "award", "fields": {"name": "x"}, "representative": True}
        ),
        422,
        "representative",
        "allowed",
    )
    first = clients["declaration"].post(url, headers=headers, json=PROJECT).get_json()
    second = clients["declaration"].post(url, headers=headers, json={**PROJECT, "representative": False}).get_json()
    items = detail(clients, headers, declaration_id)["items"]
    assert [(i["id"], i["representative"]) for i in items] == [(first["id"], True), (second["id"], False)]
    assert clients["declaration"].delete(f"{url}/{second['id']}", headers=headers).status_code == 204
    assert len(detail(clients, headers, declaration_id)["items"]) == 1


# -- snapshot independence ---------------------------------------------------------------


def test_the_snapshot_and_the_profile_do_not_sync(clients, auth, demo, workers):
    employ(clients, auth)
    headers = auth("applicant")
    declaration_id = declare(clients, headers).get_json()["id"]
    wait_for("the snapshot", lambda: detail(clients, headers, declaration_id)["status"] == "draft")
    profile_before = clients["profile"].get("/api/v1/profile", headers=headers).get_json()
    # the declaration's copy is edited: the profile does not change
    response = clients["declaration"].patch(
        f"/api/v1/declarations/{declaration_id}", headers=headers, json={"snapshot": {"mobile": "13800000000"}}
    )
    assert response.status_code == 200 and response.get_json()["snapshot"]["mobile"] == "13800000000"
    assert clients["profile"].get("/api/v1/profile", headers=headers).get_json() == profile_before
    # the profile changes later: the declaration's copy does not
    snapshot = detail(clients, headers, declaration_id)["snapshot"]
    added = clients["profile"].post(
        "/api/v1/profile/work-experiences",
        headers=headers,
        json={"status": "former", "unit_name": "天津市旧单位", "start_date": "2010-07-01", "end_date": "2015-06-30"},
    )
    assert added.status_code == 201, added.get_json()
    assert clients["profile"].get("/api/v1/profile", headers=headers).get_json() != profile_before
    assert detail(clients, headers, declaration_id)["snapshot"] == snapshot
    # the identity and the registered unit cannot be edited in a declaration
    assert_problem(
        clients["declaration"].patch(
            f"/api/v1/declarations/{declaration_id}", headers=headers, json={"snapshot": {"name": "别人"}}
        ),
        422,
        "snapshot.name",
        "locked",
    )


# -- access -------------------------------------------------------------------------------


def test_staff_see_a_declaration_at_or_past_their_organisation(clients, auth, demo):
    declaration_id = submitted_declaration(demo)
    path = f"/api/v1/declarations/{declaration_id}"
    assert clients["declaration"].get(path, headers=auth("unit")).status_code == 200  # submitted to the unit
    for user in ("dept1", "committee", "title_office"):
        assert_problem(
            clients["declaration"].get(path, headers=auth(user)), 403, "declaration_id", "organisation_access"
        )
    stage = {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "stage": "department_check",
        "stage_name": "主管部门审核",
        "role": "department",
        "organisation": "111201010000123459",
        "at": clock.now().isoformat(),
    }
    deliver(demo, envelope("review.stage.changed.v1", stage), "on_stage_changed")
    assert clients["declaration"].get(path, headers=auth("dept1")).status_code == 200
    assert clients["declaration"].get(path, headers=auth("unit")).status_code == 200  # passed through
    assert_problem(clients["declaration"].get(path, headers=auth("dept2")), 403)
    assert_problem(clients["declaration"].get(path, headers=auth("expert1")), 403)
    # staff never edit or submit
    assert_problem(clients["declaration"].patch(path, headers=auth("unit"), json={}), 403)


def test_a_draft_is_invisible_to_its_unit(clients, auth, demo):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    drafted(demo, declaration_id)
    assert_problem(clients["declaration"].get(f"/api/v1/declarations/{declaration_id}", headers=auth("unit")), 403)
    assert ACTIVITY
