"""Re-examination (复查) of a failed vote, drawn in bpmn/re_examination.bpmn and called by the review modes
where the experts' vote fails: the applicant may ask within the period (bpmn/re_examination_period.dmn) on
the declaration service; the request reaches the waiting process; the committee office upholds (the
declaration ends not passed) or overturns (the review goes on to the result publicity) with a reason; the
decision reaches the declaration and the applicant's messages. Without a request the period's timer ends
the declaration not passed."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from tests.conftest import wait_for
from tests.integration.review_flow_helpers import (
    COMMITTEE,
    act,
    advance_clock,
    advance_to,
    after_vote,
    certificate_issued,
    complete,
    handle,
    ok,
    outbox,
    outcome_of,
    review_db,
    start,
    tasks_of,
    through_the_vote,
    timers_of,
    today,
)
from tests.integration.test_declaration import other_applicant  # noqa: F401 - a fixture

BEIJING = dt.timezone(dt.timedelta(hours=8))
PERIOD_DAYS = 30  # bpmn/re_examination_period.dmn


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def failed_vote(client: Any, auth: Any, db: Any, **overrides: Any) -> dict[str, Any]:
    data, _ = start(db, **overrides)
    through_the_vote(client, auth, data["declaration_id"], "disagree")
    return data


def requested(db: Any, data: dict[str, Any], reason: str = "代表作被误认为合著") -> str:
    return handle(
        db,
        "declaration.re_examination.requested.v1",
        {
            "declaration_id": data["declaration_id"],
            "applicant": data["applicant"],
            "reason": reason,
            "at": dt.datetime.now(dt.UTC).isoformat(),
        },
    )


def open_stages(db: Any, declaration_id: str) -> list[tuple[str, str | None]]:
    """The open tasks' stages (the stage property: the diagram's element ids are its own business)."""
    return [(t.stage, t.organisation) for t in tasks_of(db, declaration_id) if t.status in ("ready", "claimed")]


def open_until(db: Any, declaration_id: str) -> dt.datetime:
    [opened] = outbox(db, "review.re_examination.opened.v1", declaration_id)
    return dt.datetime.fromisoformat(opened["open_until"])


# -- the review: the diagram's wait, the committee office's task, the outcomes ------------------------


def test_a_failed_vote_offers_re_examination_until_the_end_of_the_period_instead_of_ending(review, clients, auth):
    client = clients["review"]
    data = failed_vote(client, auth, review)
    declaration_id = data["declaration_id"]
    assert outcome_of(review, declaration_id) == ("running", None)
    assert outbox(review, "review.completed.v1", declaration_id) == []
    [opened] = outbox(review, "review.re_examination.opened.v1", declaration_id)
    last_day = today(review) + dt.timedelta(days=PERIOD_DAYS)
    end = dt.datetime.combine(last_day, dt.time(23, 59, 59), BEIJING)  # the end of the 30th day, Beijing
    assert dt.datetime.fromisoformat(opened.pop("open_until")) == end
    assert opened == {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "qualification_name": data["qualification_name"],
        "organisation": COMMITTEE,
        "days": PERIOD_DAYS,
    }
    # The wait is drawn: the process view shows the period's timer in the called process.
    assert timers_of(client, auth, declaration_id) == [
        ("re_examination_period_over", "re_examination", end.isoformat())
    ]
    assert open_stages(review, declaration_id) == []


def test_a_request_gives_the_committee_office_a_task_and_upholding_it_ends_not_passed(review, clients, auth):
    client = clients["review"]
    data = failed_vote(client, auth, review)
    declaration_id = data["declaration_id"]
    assert requested(review, data) == "done"
    [task] = [
        t
        for t in ok(
            client.get("/api/v1/tasks", headers=auth("committee"), query_string={"declaration_id": declaration_id})
        )["items"]
    ]
    assert (task["stage"], task["decisions"], task["organisation"]) == (
        "re_examination",
        ["uphold", "overturn"],
        COMMITTEE,
    )
    assert [t["stage"] for t in outbox(review, "review.stage.changed.v1", declaration_id)][-1] == "re_examination"
    # Its reason is published: the decision needs one.
    refused = complete(client, auth("committee"), task["id"], "uphold")
    assert refused.status_code == 422, refused.get_json()
    assert refused.get_json()["errors"][0]["field"] == "reason"
    assert refused.get_json()["errors"][0]["rule"] == "required"
    assert complete(client, auth("committee"), task["id"], "reject", "x").status_code == 422  # not offered
    ok(complete(client, auth("committee"), task["id"], "uphold", "经复查，表决程序和结果无误"))
    [decided] = outbox(review, "review.re_examination.decided.v1", declaration_id)
    at = decided.pop("at")
    assert decided == {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "decision": "uphold",
        "reason": "经复查，表决程序和结果无误",
        "organisation": COMMITTEE,
        "actor": "committee",
    }
    assert dt.datetime.fromisoformat(at).tzinfo is not None
    assert outcome_of(review, declaration_id) == ("completed", "not_passed")
    assert [c["outcome"] for c in outbox(review, "review.completed.v1", declaration_id)] == ["not_passed"]
    assert timers_of(client, auth, declaration_id) == []


def test_overturning_the_result_goes_on_to_the_result_publicity_as_a_pass_would(review, clients, auth):
    client = clients["review"]
    data = failed_vote(client, auth, review)
    declaration_id = data["declaration_id"]
    requested(review, data)
    act(client, auth, "committee", declaration_id, "re_examination", "overturn", "专家对代表作认定有误，改为通过")
    [decided] = outbox(review, "review.re_examination.decided.v1", declaration_id)
    assert decided["decision"] == "overturn"
    assert open_stages(review, declaration_id) == [("result_publicity", COMMITTEE)]
    # The period's timer is gone with the request; the publicity's service level runs.
    assert [t[:2] for t in timers_of(client, auth, declaration_id)] == [("result_publicity_overdue", "social_review")]
    after_vote(client, auth, declaration_id)
    certificate_issued(review, data)
    assert outcome_of(review, declaration_id) == ("completed", "certified")


def test_without_a_request_the_declaration_ends_not_passed_when_the_period_is_over(review, clients, auth):
    client = clients["review"]
    data = failed_vote(client, auth, review)
    declaration_id = data["declaration_id"]
    until = open_until(review, declaration_id)
    advance_to(client, auth, until - dt.timedelta(seconds=1))  # the last second: still open
    assert outcome_of(review, declaration_id) == ("running", None)
    advance_clock(client, auth, seconds=2)
    assert outcome_of(review, declaration_id) == ("completed", "not_passed")
    assert outbox(review, "review.re_examination.decided.v1", declaration_id) == []
    assert [c["outcome"] for c in outbox(review, "review.completed.v1", declaration_id)] == ["not_passed"]
    # A request arriving after the end changes nothing (the declaration service refuses one by then).
    assert requested(review, data) == "done"
    assert outcome_of(review, declaration_id) == ("completed", "not_passed")
    assert open_stages(review, declaration_id) == []


def test_a_redelivered_request_changes_nothing(review, clients, auth):
    from tests.integration.test_review import deliver, envelope

    client = clients["review"]
    data = failed_vote(client, auth, review)
    message = envelope(
        "declaration.re_examination.requested.v1",
        {
            "declaration_id": data["declaration_id"],
            "applicant": "applicant",
            "reason": "理由",
            "at": dt.datetime.now(dt.UTC).isoformat(),
        },
    )
    assert deliver(review, message, "on_re_examination_requested") == "done"
    assert deliver(review, message, "on_re_examination_requested") == "duplicate"
    assert open_stages(review, data["declaration_id"]) == [("re_examination", COMMITTEE)]


def test_independent_review_offers_re_examination_too(review, clients, auth):
    client = clients["review"]
    data = failed_vote(client, auth, review, mode="independent_review")
    assert outcome_of(review, data["declaration_id"]) == ("running", None)
    assert len(outbox(review, "review.re_examination.opened.v1", data["declaration_id"])) == 1


# -- the declaration service: the applicant's request, its rules, the decision shown ----------------


def to_service(
    dbs: dict[str, Any], service: str, message_type: str, data: dict[str, Any], message_id: str | None = None
) -> str:
    """What a service's consumer does with one delivery of a review event."""
    from shared.messaging.consumer import process
    from shared.messaging.envelope import Envelope
    from shared.messaging.topology import subscriptions_of
    from titles import bootstrap

    env = Envelope(
        type=message_type,
        source="review",
        data=data,
        correlation_id=data["declaration_id"],
        id=message_id or str(uuid.uuid4()),
    )
    [sub] = [s for s in subscriptions_of(service) if message_type in s.types]
    return process(dbs[service], sub, env, bootstrap.service(service).handlers()[message_type])


def opened_event(declaration_id: str, until: dt.datetime) -> dict[str, Any]:
    return {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "qualification_name": "高级工程师",
        "organisation": COMMITTEE,
        "days": PERIOD_DAYS,
        "open_until": until.isoformat(),
    }


def decided_event(
    declaration_id: str, decision: str = "uphold", reason: str = "经复查，表决结果无误"
) -> dict[str, Any]:
    return {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "decision": decision,
        "reason": reason,
        "organisation": COMMITTEE,
        "actor": "committee",
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }


def declaration(clients: Any, headers: dict[str, str], declaration_id: str) -> dict[str, Any]:
    return ok(clients["declaration"].get(f"/api/v1/declarations/{declaration_id}", headers=headers))


def ask(clients: Any, headers: dict[str, str], declaration_id: str, body: dict[str, Any] | None = None) -> Any:
    return clients["declaration"].post(
        f"/api/v1/declarations/{declaration_id}/re-examination",
        headers=headers,
        json={"reason": "代表作被误认为合著"} if body is None else body,
    )


def refusal(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_json()
    return response.get_json()["errors"][0]


def declaration_outbox(dbs: dict[str, Any], message_type: str, declaration_id: str) -> list[dict[str, Any]]:
    return outbox(dbs["declaration"], message_type, declaration_id)


@pytest.fixture
def failed(demo: Any, clients: Any, auth: Any, workers: Any) -> str:
    """A submitted declaration whose vote failed: the review offers re-examination for 30 days."""
    from tests.integration.test_declaration_returns import _submitted

    declaration_id = _submitted(clients, auth, workers)
    # The review's first stage arrives over the workers: waited for, so that it cannot land after (and
    # over) the stages the tests hand the declaration service themselves.
    wait_for(
        "the unit check on the declaration",
        lambda: declaration(clients, auth("applicant"), declaration_id)["stage"] == "unit_check",
    )
    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=PERIOD_DAYS)
    assert (
        to_service(demo, "declaration", "review.re_examination.opened.v1", opened_event(declaration_id, until))
        == "done"
    )
    return declaration_id


def test_the_applicant_asks_once_within_the_period_and_with_a_reason(demo, clients, auth, failed, other_applicant):
    shown = declaration(clients, auth("applicant"), failed)
    assert (shown["status"], shown["stage"], shown["re_examination_requestable"]) == (
        "in_review",
        "re_examination_open",
        True,
    )
    assert shown["re_examination_open_until"] is not None
    assert [t["kind"] for t in shown["trail"]][-1] == "re_examination"

    assert refusal(ask(clients, auth("applicant"), failed, {}), 422)["field"] == "reason"
    assert refusal(ask(clients, auth("applicant"), failed, {"reason": "  "}), 422)["rule"] == "required"
    assert refusal(ask(clients, other_applicant, failed), 403)["rule"] == "own_declaration"
    assert declaration_outbox(demo, "declaration.re_examination.requested.v1", failed) == []

    asked = ok(ask(clients, auth("applicant"), failed))
    assert (asked["stage"], asked["re_examination_reason"], asked["re_examination_requestable"]) == (
        "re_examination_requested",
        "代表作被误认为合著",
        False,
    )
    [request] = declaration_outbox(demo, "declaration.re_examination.requested.v1", failed)
    assert (request["applicant"], request["reason"]) == ("applicant", "代表作被误认为合著")
    again = refusal(ask(clients, auth("applicant"), failed), 409)
    assert again["rule"] == "one_request" and "已申请复查" in again["message"]
    assert len(declaration_outbox(demo, "declaration.re_examination.requested.v1", failed)) == 1


def test_a_request_after_the_period_is_refused_naming_the_rule(demo, clients, auth, failed, monkeypatch):
    from shared import clock

    until = dt.datetime.fromisoformat(declaration(clients, auth("applicant"), failed)["re_examination_open_until"])
    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")
    clock.set_now_for_tests(until - dt.timedelta(seconds=5))  # the period's last seconds: still taken
    assert declaration(clients, auth("applicant"), failed)["re_examination_requestable"] is True
    clock.set_now_for_tests(until + dt.timedelta(seconds=1))
    assert declaration(clients, auth("applicant"), failed)["re_examination_requestable"] is False
    late = refusal(ask(clients, auth("applicant"), failed), 409)
    assert late["rule"] == "re_examination_period" and "复查申请期已过" in late["message"]
    assert declaration_outbox(demo, "declaration.re_examination.requested.v1", failed) == []


def test_a_declaration_the_vote_did_not_fail_cannot_ask(demo, clients, auth, workers):
    from tests.integration.test_declaration_returns import _submitted

    declaration_id = _submitted(clients, auth, workers)
    assert declaration(clients, auth("applicant"), declaration_id)["re_examination_requestable"] is False
    refused = refusal(ask(clients, auth("applicant"), declaration_id), 409)
    assert refused["rule"] == "not_passed" and "仅评审未通过的申报可申请复查" in refused["message"]


def test_the_decision_reaches_the_declaration_once_and_the_applicant_in_chinese(demo, clients, auth, failed):
    ok(ask(clients, auth("applicant"), failed))
    message_id = str(uuid.uuid4())
    event = decided_event(failed, "overturn", "专家对代表作认定有误")
    assert to_service(demo, "declaration", "review.re_examination.decided.v1", event, message_id) == "done"
    assert to_service(demo, "declaration", "review.re_examination.decided.v1", event, message_id) == "duplicate"
    shown = declaration(clients, auth("applicant"), failed)
    assert (shown["re_examination_decision"], shown["re_examination_decision_reason"], shown["stage"]) == (
        "overturn",
        "专家对代表作认定有误",
        "re_examination_overturned",
    )

    until = dt.datetime.now(dt.UTC) + dt.timedelta(days=PERIOD_DAYS)
    for message_type, data in (
        ("review.re_examination.opened.v1", opened_event(failed, until)),
        ("review.re_examination.decided.v1", event),
    ):
        assert to_service(demo, "notify", message_type, data, message_type) == "done"
        assert to_service(demo, "notify", message_type, data, message_type) == "duplicate"
    items = ok(clients["notify"].get("/api/v1/messages", headers=auth("applicant")))["items"]
    # (the review started on the submission meanwhile: its stage notices are no matter here)
    by_kind = {m["kind"]: m for m in items if m["declaration_id"] == failed and m["kind"].startswith("re_exam")}
    assert sorted(by_kind) == ["re_examination_decided", "re_examination_open"]
    day = until.astimezone(BEIJING)
    assert f"{day.year}年{day.month}月{day.day}日前" in by_kind["re_examination_open"]["body"]
    assert "复查" in by_kind["re_examination_open"]["body"]
    assert "改变原评审结果" in by_kind["re_examination_decided"]["body"]
    assert "专家对代表作认定有误" in by_kind["re_examination_decided"]["body"]


# -- over the services: declaration, review, notify on the broker -----------------------------------


def test_over_the_services_a_request_reaches_the_committee_and_the_upheld_result_the_applicant(
    demo, clients, auth, workers, monkeypatch
):
    from tests.integration.review_flow_helpers import (
        attend,
        panel_of,
        register_directory,
        through_departments,
        through_unit,
        vote_all,
    )
    from tests.integration.test_declaration_returns import _submitted

    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")  # the periods pass on the test clock
    register_directory(demo["review"])
    review_client = clients["review"]
    declaration_id = _submitted(clients, auth, workers)
    wait_for("the unit's task", lambda: open_stages(demo["review"], declaration_id))
    through_unit(review_client, auth, declaration_id)
    through_departments(review_client, auth, declaration_id)
    act(review_client, auth, "committee", declaration_id, "committee_acceptance")
    if open_stages(demo["review"], declaration_id) == [("schedule_defence", COMMITTEE)]:  # 副高级 defends here
        day = today() + dt.timedelta(days=7)
        ok(
            review_client.post(
                f"/api/v1/declarations/{declaration_id}/defence",
                headers=auth("committee"),
                json={"at": f"{day}T09:00:00+08:00", "place": "第一会议室"},
            )
        )
        advance_clock(review_client, auth, 8)
    panel = panel_of(review_client, auth, declaration_id)
    attend(review_client, auth, declaration_id, panel)
    vote_all(review_client, auth, declaration_id, {e: "disagree" for e in panel})

    def shown() -> dict[str, Any]:
        return declaration(clients, auth("applicant"), declaration_id)

    wait_for("re-examination offered", lambda: shown()["re_examination_requestable"])
    ok(ask(clients, auth("applicant"), declaration_id, {"reason": "评审专家未看到补充材料"}))
    task = wait_for(
        "the committee office's task",
        lambda: [
            t
            for t in ok(
                review_client.get(
                    "/api/v1/tasks", headers=auth("committee"), query_string={"declaration_id": declaration_id}
                )
            )["items"]
            if t["stage"] == "re_examination"
        ],
    )[0]
    ok(complete(review_client, auth("committee"), task["id"], "uphold", "补充材料不影响评审结论"))

    final = wait_for(
        "the declaration ends not passed",
        lambda: (lambda d: d if d["status"] == "completed" and d["re_examination_decision"] else None)(shown()),
    )
    assert (final["outcome"], final["re_examination_decision"], final["re_examination_decision_reason"]) == (
        "not_passed",
        "uphold",
        "补充材料不影响评审结论",
    )
    decisions = [
        (t["kind"], t["decision"], t["reason"]) for t in final["trail"] if t["decision"] in ("requested", "uphold")
    ]
    assert decisions == [
        ("re_examination", "requested", "评审专家未看到补充材料"),
        ("decision", "uphold", "补充材料不影响评审结论"),
    ]
    # Staff see it too: the committee office opens the declaration with its trail.
    assert [
        t["decision"]
        for t in declaration(clients, auth("committee"), declaration_id)["trail"]
        if t["kind"] == "re_examination"
    ] == ["not_passed", "requested"]

    def notices() -> dict[str, dict[str, Any]]:
        items = ok(clients["notify"].get("/api/v1/messages", headers=auth("applicant")))["items"]
        return {m["kind"]: m for m in items if m["declaration_id"] == declaration_id}

    kinds = wait_for(
        "the applicant's notices",
        lambda: (lambda n: n if {"re_examination_open", "re_examination_decided", "result"} <= set(n) else None)(
            notices()
        ),
    )
    assert "维持原评审结果" in kinds["re_examination_decided"]["body"]
    assert "补充材料不影响评审结论" in kinds["re_examination_decided"]["body"]
    assert "评审未通过" in kinds["result"]["body"]
