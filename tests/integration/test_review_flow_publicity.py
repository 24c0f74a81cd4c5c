"""Publicity periods on the working-day calendar, over the National Day holiday; objections and
reports raised during publicity, resolved before the unit can recommend."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.integration.review_flow_helpers import (UNIT, act, advance_clock, attend, complete, handle, ok,
                                                   only_task, open_stages, outbox, outcome_of, panel_of, publicise,
                                                   review_db, start, through_departments, through_unit, today,
                                                   vote_all)

# A Wednesday: five working days from it end on Monday 2026-10-12 (1-7 October are the holiday,
# Saturday 10 October is a working day made up for it: 调休).
NATIONAL_DAY_EVE = dt.date(2026, 9, 30)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch, NATIONAL_DAY_EVE)


def publicity_started(client: Any, auth: Any, db: Any) -> tuple[str, dict[str, Any]]:
    data, _ = start(db)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check")
    act(client, auth, "unit", declaration_id, "unit_recommendation", "recommend")
    return declaration_id, publicise(client, auth, "unit", declaration_id, "unit")


def recommend(client: Any, auth: Any, declaration_id: str, decision: str = "approve") -> Any:
    task = only_task(client, auth("unit"), declaration_id, "unit_recommend")
    return complete(client, auth("unit"), task["id"], decision)


def rules(response: Any) -> list[str]:
    return [e["rule"] for e in response.get_json()["errors"]]


def test_a_publicity_over_the_national_day_holiday_ends_on_12_october(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    assert (publicity["starts_on"], publicity["ends_on"], publicity["working_days"]) == \
        ("2026-09-30", "2026-10-12", 5)
    advance_clock(client, auth, 12)
    assert today(review) == dt.date(2026, 10, 12)
    early = recommend(client, auth, declaration_id)
    assert early.status_code == 409 and rules(early) == ["publicity_over"]
    assert "2026-10-12" in early.get_json()["errors"][0]["message"]
    assert open_stages(review, declaration_id) == [("unit_recommend", UNIT)]
    assert [d["stage"] for d in outbox(review, "review.decision.recorded.v1", declaration_id)] == \
        ["unit_check", "unit_recommendation", "unit_publicity"]

    advance_clock(client, auth, 1)
    assert recommend(client, auth, declaration_id).status_code == 200
    assert [s for s, _ in open_stages(review, declaration_id)] == ["department_check"]


def test_an_objection_must_be_resolved_before_the_unit_recommends(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    objection = ok(client.post(f"/api/v1/publicities/{publicity['id']}/objections", headers=auth("unit"),
                               json={"content": "论文署名存疑"}), 201)
    advance_clock(client, auth, 14)
    refused = recommend(client, auth, declaration_id)
    assert refused.status_code == 409 and rules(refused) == ["objections_resolved"]
    resolved = ok(client.post(f"/api/v1/objections/{objection['id']}/resolve", headers=auth("unit"),
                              json={"upheld": False, "resolution": "经核实署名无误"}))
    assert (resolved["status"], resolved["upheld"]) == ("resolved", False)
    [answer] = outbox(review, "review.objection.resolved.v1", declaration_id)
    assert (answer["upheld"], answer["report_reference"], answer["organisation"]) == (False, None, UNIT)
    assert recommend(client, auth, declaration_id).status_code == 200


def test_an_upheld_objection_stops_the_recommendation(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    objection = ok(client.post(f"/api/v1/publicities/{publicity['id']}/objections", headers=auth("unit"),
                               json={"content": "业绩造假"}), 201)
    ok(client.post(f"/api/v1/objections/{objection['id']}/resolve", headers=auth("unit"),
                   json={"upheld": True, "resolution": "经查属实"}))
    advance_clock(client, auth, 14)
    refused = recommend(client, auth, declaration_id)
    assert refused.status_code == 422 and rules(refused) == ["objection_upheld"]
    assert open_stages(review, declaration_id) == [("unit_recommend", UNIT)]
    # What the unit can do is not recommend it: the declaration ends there.
    assert recommend(client, auth, declaration_id, "reject").status_code == 200
    assert outcome_of(review, declaration_id) == ("completed", "not_recommended")
    assert [d["outcome"] for d in outbox(review, "review.completed.v1", declaration_id)] == ["not_recommended"]


def test_a_report_during_the_publicity_becomes_an_objection_answered_with_its_reference(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    report = {"reference": "JB-2026-0001", "declaration_id": declaration_id, "content": "实际工作年限不足",
              "reporter": None, "filed_at": "2026-10-08T09:00:00+08:00"}
    assert handle(review, "notify.report.filed.v1", report, source="notify") == "done"
    [shown] = ok(client.get(f"/api/v1/declarations/{declaration_id}/publicities", headers=auth("unit")))
    [objection] = shown["objections"]
    assert (objection["report_reference"], objection["content"], objection["status"]) == \
        ("JB-2026-0001", "实际工作年限不足", "open")
    advance_clock(client, auth, 14)
    assert rules(recommend(client, auth, declaration_id)) == ["objections_resolved"]
    ok(client.post(f"/api/v1/objections/{objection['id']}/resolve", headers=auth("unit"),
                   json={"upheld": False, "resolution": "经核实工作年限符合要求"}))
    [answer] = outbox(review, "review.objection.resolved.v1", declaration_id)
    assert (answer["report_reference"], answer["upheld"], answer["resolution"]) == \
        ("JB-2026-0001", False, "经核实工作年限符合要求")
    assert recommend(client, auth, declaration_id).status_code == 200


def test_a_report_when_no_publicity_runs_is_answered_at_once(review, clients, auth):
    data, _ = start(review)
    report = {"reference": "JB-2026-0002", "declaration_id": data["declaration_id"], "content": "举报内容",
              "reporter": "someone", "filed_at": "2026-10-08T09:00:00+08:00"}
    assert handle(review, "notify.report.filed.v1", report, source="notify") == "done"
    [answer] = outbox(review, "review.objection.resolved.v1", data["declaration_id"])
    assert (answer["report_reference"], answer["upheld"]) == ("JB-2026-0002", False)


def test_an_upheld_objection_to_the_result_publicity_withholds_the_result(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    panel = panel_of(client, auth, declaration_id)
    attend(client, auth, declaration_id, panel)
    vote_all(client, auth, declaration_id, {e: "agree" for e in panel})
    shown = publicise(client, auth, "committee", declaration_id, "result")
    objection = ok(client.post(f"/api/v1/publicities/{shown['id']}/objections", headers=auth("committee"),
                               json={"content": "评审程序违规"}), 201)
    ok(client.post(f"/api/v1/objections/{objection['id']}/resolve", headers=auth("committee"),
                   json={"upheld": True, "resolution": "经查属实"}))
    advance_clock(client, auth, 14)
    task = only_task(client, auth("committee"), declaration_id, "report_results")
    refused = complete(client, auth("committee"), task["id"], "approve")
    assert refused.status_code == 422 and rules(refused) == ["objection_upheld"]
    assert complete(client, auth("committee"), task["id"], "reject").status_code == 200
    assert outcome_of(review, declaration_id) == ("completed", "withheld")
    assert outbox(review, "certificate.issue.v1", declaration_id) == []
