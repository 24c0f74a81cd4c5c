"""Publicity periods as the diagrams run them: a service task computes the end on the working-day
calendar (holidays and make-up days), a timer waits for it and the next task appears with nobody
acting; objections and reports raised meanwhile hold the process until the last one is resolved, and
an upheld one ends the declaration there. Time moves only by the test clock, and only the scheduler
(``scheduler.fire_due``) fires what fell due."""

from __future__ import annotations

import datetime as dt
from typing import Any

import chinese_calendar
import pytest

from tests.integration.review_flow_helpers import (
    COMMITTEE,
    UNIT,
    act,
    advance_clock,
    advance_to,
    handle,
    ok,
    open_stages,
    outbox,
    outcome_of,
    publicise,
    review_db,
    start,
    through_the_vote,
    timers_of,
)

BEIJING = dt.timezone(dt.timedelta(hours=8))
NATIONAL_DAY_EVE = dt.date(2026, 9, 30)  # a Wednesday; 1-7 October are the holiday, Saturday 10 October a make-up day
SPRING_FESTIVAL_EVE = dt.date(2026, 2, 13)  # a Friday; 15-23 February the holiday, Saturday 14 February a make-up day


def fifth_working_day(first: dt.date) -> dt.date:
    """The expectation, from the chinese-calendar package itself: the fifth working day from ``first``."""
    day, seen = first, 0
    while True:
        seen += chinese_calendar.is_workday(day)
        if seen == 5:
            return day
        day += dt.timedelta(days=1)


def end_of(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(23, 59, 59), BEIJING)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch, NATIONAL_DAY_EVE)


def publicity_started(client: Any, auth: Any, db: Any) -> tuple[str, dict[str, Any]]:
    data, _ = start(db)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check")
    act(client, auth, "unit", declaration_id, "unit_recommendation", "recommend")
    return declaration_id, publicise(client, auth, "unit", declaration_id, "unit")


def decided_stages(db: Any, declaration_id: str) -> list[str]:
    return [d["stage"] for d in outbox(db, "review.decision.recorded.v1", declaration_id)]


def object_to(client: Any, auth: Any, publicity: dict[str, Any], content: str, user: str = "unit") -> dict[str, Any]:
    return ok(
        client.post(f"/api/v1/publicities/{publicity['id']}/objections", headers=auth(user), json={"content": content}),
        201,
    )


def resolve(client: Any, auth: Any, objection: dict[str, Any], upheld: bool, user: str = "unit") -> dict[str, Any]:
    return ok(
        client.post(
            f"/api/v1/objections/{objection['id']}/resolve",
            headers=auth(user),
            json={"upheld": upheld, "resolution": "经核实" + ("属实" if upheld else "不属实")},
        )
    )


@pytest.mark.parametrize("first_day", [NATIONAL_DAY_EVE, SPRING_FESTIVAL_EVE], ids=["national_day", "spring_festival"])
def test_a_publicity_ends_by_its_timer_on_the_working_day_calendar_with_nobody_acting(
    demo, monkeypatch, clients, auth, first_day
):
    review = review_db(demo, monkeypatch, first_day)
    client = clients["review"]
    last_day = fifth_working_day(first_day)
    assert last_day == {NATIONAL_DAY_EVE: dt.date(2026, 10, 12), SPRING_FESTIVAL_EVE: dt.date(2026, 2, 26)}[first_day]
    declaration_id, publicity = publicity_started(client, auth, review)
    assert (publicity["starts_on"], publicity["ends_on"], publicity["working_days"], publicity["status"]) == (
        first_day.isoformat(),
        last_day.isoformat(),
        5,
        "running",
    )
    # The process waits at the diagram's timer, shown with its element and due time: the end of the last day.
    assert open_stages(review, declaration_id) == []
    assert timers_of(client, auth, declaration_id) == [
        ("unit_publicity_over", "social_review", end_of(last_day).isoformat())
    ]

    advance_to(client, auth, end_of(last_day) - dt.timedelta(seconds=1))  # the last second of the period
    assert open_stages(review, declaration_id) == []
    assert [t[0] for t in timers_of(client, auth, declaration_id)] == ["unit_publicity_over"]

    advance_clock(client, auth, seconds=2)  # the period is over: the scheduler fires, nobody acts
    assert open_stages(review, declaration_id) == [("unit_recommend", UNIT)]
    assert timers_of(client, auth, declaration_id) == []
    assert decided_stages(review, declaration_id) == ["unit_check", "unit_recommendation", "unit_publicity"]
    [shown] = ok(client.get(f"/api/v1/declarations/{declaration_id}/publicities", headers=auth("unit")))
    assert shown["status"] == "closed"
    act(client, auth, "unit", declaration_id, "unit_recommend")
    assert [s for s, _ in open_stages(review, declaration_id)] == ["department_check"]


def test_an_objection_raised_during_the_period_holds_the_process_until_it_is_resolved(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    objection = object_to(client, auth, publicity, "论文署名存疑")
    advance_clock(client, auth, 14)  # well past the period
    assert open_stages(review, declaration_id) == []
    assert outcome_of(review, declaration_id) == ("running", None)
    assert timers_of(client, auth, declaration_id) == []  # no longer a timer: it waits for the resolution
    # Still open to objections while it waits: a second one (a report from the public) holds it too.
    report = {
        "reference": "JB-2026-0009",
        "declaration_id": declaration_id,
        "content": "工作年限存疑",
        "reporter": None,
        "filed_at": "2026-10-20T09:00:00+08:00",
    }
    assert handle(review, "notify.report.filed.v1", report, source="notify") == "done"
    [shown] = ok(client.get(f"/api/v1/declarations/{declaration_id}/publicities", headers=auth("unit")))
    second = next(o for o in shown["objections"] if o["report_reference"] == "JB-2026-0009")

    assert (resolve(client, auth, objection, False)["status"]) == "resolved"
    assert open_stages(review, declaration_id) == []  # one is still open
    resolve(client, auth, second, False)
    assert open_stages(review, declaration_id) == [("unit_recommend", UNIT)]  # nobody else acted
    answers = outbox(review, "review.objection.resolved.v1", declaration_id)
    assert [(a["report_reference"], a["upheld"], a["organisation"]) for a in answers] == [
        (None, False, UNIT),
        ("JB-2026-0009", False, UNIT),
    ]
    act(client, auth, "unit", declaration_id, "unit_recommend")


def test_an_objection_resolved_within_the_period_lets_the_timer_move_on(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    resolve(client, auth, object_to(client, auth, publicity, "材料存疑"), False)
    assert open_stages(review, declaration_id) == []  # resolved, but the period is not over
    advance_clock(client, auth, 14)
    assert open_stages(review, declaration_id) == [("unit_recommend", UNIT)]


def test_an_upheld_objection_ends_the_declaration_not_recommended(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    objection = object_to(client, auth, publicity, "业绩造假")
    advance_clock(client, auth, 14)
    assert outcome_of(review, declaration_id) == ("running", None)
    resolve(client, auth, objection, True)
    assert outcome_of(review, declaration_id) == ("completed", "not_recommended")
    assert open_stages(review, declaration_id) == []
    assert [d["outcome"] for d in outbox(review, "review.completed.v1", declaration_id)] == ["not_recommended"]
    # Nobody recommended anything: the unit's last decision was starting the publicity.
    assert decided_stages(review, declaration_id)[-1] == "unit_publicity"


def test_an_objection_upheld_during_the_period_ends_it_when_the_period_is_over(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    resolve(client, auth, object_to(client, auth, publicity, "业绩造假"), True)
    assert outcome_of(review, declaration_id) == ("running", None)  # the period runs its course
    advance_clock(client, auth, 14)
    assert outcome_of(review, declaration_id) == ("completed", "not_recommended")


def test_a_report_during_the_publicity_becomes_an_objection_answered_with_its_reference(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    report = {
        "reference": "JB-2026-0001",
        "declaration_id": declaration_id,
        "content": "实际工作年限不足",
        "reporter": None,
        "filed_at": "2026-10-08T09:00:00+08:00",
    }
    assert handle(review, "notify.report.filed.v1", report, source="notify") == "done"
    [shown] = ok(client.get(f"/api/v1/declarations/{declaration_id}/publicities", headers=auth("unit")))
    [objection] = shown["objections"]
    assert (objection["report_reference"], objection["content"], objection["status"]) == (
        "JB-2026-0001",
        "实际工作年限不足",
        "open",
    )
    advance_clock(client, auth, 14)
    assert open_stages(review, declaration_id) == []
    ok(
        client.post(
            f"/api/v1/objections/{objection['id']}/resolve",
            headers=auth("unit"),
            json={"upheld": False, "resolution": "经核实工作年限符合要求"},
        )
    )
    [answer] = outbox(review, "review.objection.resolved.v1", declaration_id)
    assert (answer["report_reference"], answer["upheld"], answer["resolution"]) == (
        "JB-2026-0001",
        False,
        "经核实工作年限符合要求",
    )
    assert open_stages(review, declaration_id) == [("unit_recommend", UNIT)]


def test_after_the_publicity_closed_a_report_is_answered_at_once_and_an_objection_refused(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    advance_clock(client, auth, 14)
    assert open_stages(review, declaration_id) == [("unit_recommend", UNIT)]
    report = {
        "reference": "JB-2026-0003",
        "declaration_id": declaration_id,
        "content": "迟到的举报",
        "reporter": None,
        "filed_at": "2026-10-20T09:00:00+08:00",
    }
    assert handle(review, "notify.report.filed.v1", report, source="notify") == "done"
    [answer] = outbox(review, "review.objection.resolved.v1", declaration_id)
    assert (answer["report_reference"], answer["upheld"]) == ("JB-2026-0003", False)
    late = client.post(
        f"/api/v1/publicities/{publicity['id']}/objections", headers=auth("unit"), json={"content": "迟到的异议"}
    )
    assert late.status_code == 409 and late.get_json()["errors"][0]["rule"] == "running"


def test_a_report_when_no_publicity_runs_is_answered_at_once(review, clients, auth):
    data, _ = start(review)
    report = {
        "reference": "JB-2026-0002",
        "declaration_id": data["declaration_id"],
        "content": "举报内容",
        "reporter": "someone",
        "filed_at": "2026-10-08T09:00:00+08:00",
    }
    assert handle(review, "notify.report.filed.v1", report, source="notify") == "done"
    [answer] = outbox(review, "review.objection.resolved.v1", data["declaration_id"])
    assert (answer["report_reference"], answer["upheld"]) == ("JB-2026-0002", False)


def test_a_publicity_cannot_start_in_the_past(review, clients, auth):
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    act(clients["review"], auth, "unit", declaration_id, "unit_check")
    act(clients["review"], auth, "unit", declaration_id, "unit_recommendation", "recommend")
    refused = clients["review"].post(
        f"/api/v1/declarations/{declaration_id}/publicities",
        headers=auth("unit"),
        json={"kind": "unit", "starts_on": "2026-09-29"},
    )
    assert refused.status_code == 422 and refused.get_json()["errors"][0]["rule"] == "not_past"
    assert open_stages(review, declaration_id) == [("unit_publicity", UNIT)]


def test_the_result_publicity_ends_by_its_timer_and_an_upheld_objection_withholds_the_result(review, clients, auth):
    client = clients["review"]
    results = []
    for upheld in (False, True):
        data, _ = start(review)
        declaration_id = data["declaration_id"]
        through_the_vote(client, auth, declaration_id)
        shown = publicise(client, auth, "committee", declaration_id, "result")
        assert [t[0] for t in timers_of(client, auth, declaration_id)] == ["result_publicity_over"]
        if upheld:
            objection = object_to(client, auth, shown, "评审程序违规", "committee")
            resolve(client, auth, objection, True, "committee")
        advance_clock(client, auth, 14)
        results.append((open_stages(review, declaration_id), outcome_of(review, declaration_id)))
        assert outbox(review, "certificate.issue.v1", declaration_id) == []
    assert results == [([("report_results", COMMITTEE)], ("running", None)), ([], ("completed", "withheld"))]


def test_the_last_resolution_for_a_suspended_process_is_held_and_delivered_on_resume(review, clients, auth):
    client = clients["review"]
    declaration_id, publicity = publicity_started(client, auth, review)
    objection = object_to(client, auth, publicity, "材料存疑")
    advance_clock(client, auth, 14)
    ok(
        client.post(
            f"/api/v1/instances/{declaration_id}/suspend", headers=auth("title_office"), json={"reason": "核查中"}
        )
    )
    resolve(client, auth, objection, False)
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    assert [h["type"] for h in view["held"]] == ["review.objections.resolved"]
    assert open_stages(review, declaration_id) == []
    ok(client.post(f"/api/v1/instances/{declaration_id}/resume", headers=auth("title_office"), json={}))
    assert open_stages(review, declaration_id) == [("unit_recommend", UNIT)]
