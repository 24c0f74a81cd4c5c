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

from tests.integration.review_flow_helpers import (COMMITTEE, act, advance_clock, advance_to, after_vote,
                                                   certificate_issued, complete, handle, ok, outbox, outcome_of,
                                                   review_db, start, tasks_of, through_the_vote, timers_of, today)

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
    return handle(db, "declaration.re_examination.requested.v1", {
        "declaration_id": data["declaration_id"], "applicant": data["applicant"], "reason": reason,
        "at": dt.datetime.now(dt.timezone.utc).isoformat()})


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
    assert opened == {"declaration_id": declaration_id, "applicant": "applicant",
                      "qualification_name": data["qualification_name"], "organisation": COMMITTEE,
                      "days": PERIOD_DAYS}
    # The wait is drawn: the process view shows the period's timer in the called process.
    assert timers_of(client, auth, declaration_id) == [
        ("re_examination_period_over", "re_examination", end.isoformat())]
    assert open_stages(review, declaration_id) == []


def test_a_request_gives_the_committee_office_a_task_and_upholding_it_ends_not_passed(review, clients, auth):
    client = clients["review"]
    data = failed_vote(client, auth, review)
    declaration_id = data["declaration_id"]
    assert requested(review, data) == "done"
    [task] = [t for t in ok(client.get("/api/v1/tasks", headers=auth("committee"),
                                       query_string={"declaration_id": declaration_id}))["items"]]
    assert (task["stage"], task["decisions"], task["organisation"]) == (
        "re_examination", ["uphold", "overturn"], COMMITTEE)
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
    assert decided == {"declaration_id": declaration_id, "applicant": "applicant", "decision": "uphold",
                       "reason": "经复查，表决程序和结果无误", "organisation": COMMITTEE, "actor": "committee"}
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
    message = envelope("declaration.re_examination.requested.v1", {
        "declaration_id": data["declaration_id"], "applicant": "applicant", "reason": "理由",
        "at": dt.datetime.now(dt.timezone.utc).isoformat()})
    assert deliver(review, message, "on_re_examination_requested") == "done"
    assert deliver(review, message, "on_re_examination_requested") == "duplicate"
    assert open_stages(review, data["declaration_id"]) == [("re_examination", COMMITTEE)]


def test_independent_review_offers_re_examination_too(review, clients, auth):
    client = clients["review"]
    data = failed_vote(client, auth, review, mode="independent_review")
    assert outcome_of(review, data["declaration_id"]) == ("running", None)
    assert len(outbox(review, "review.re_examination.opened.v1", data["declaration_id"])) == 1
