"""Returns for revision (退回修改) through the diagrams: from the unit, from each department
level, from the committee; resubmission goes through the chain again from the unit; past the
modification deadline a return ends the declaration; withdrawal while returned or at the unit.
Every return runs the called process bpmn/return_and_resubmit.bpmn, whose outcome the mode reads."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.integration.review_flow_helpers import (
    COMMITTEE,
    UNIT,
    act,
    advance_clock,
    advance_to,
    finish_social,
    headers_for,
    incidents,
    instance_of,
    ok,
    only_task,
    open_stages,
    outbox,
    outcome_of,
    process_data,
    publicise,
    register,
    resubmit,
    review_db,
    start,
    tasks_of,
    through_departments,
    through_unit,
    timers_of,
    today,
    withdraw,
)

BEIJING = dt.timezone(dt.timedelta(hours=8))
DEPT1 = "111201010000123459"
DEPT2 = "11120000000067890J"
# A four-level chain above a unit of its own: L1 -> L2 -> DEPT1 -> DEPT2.
LEVEL1, LEVEL2, DEEP_UNIT = "111201010000400001", "111201010000400002", "91120101DEEP400001"


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def returned(db: Any, declaration_id: str) -> list[dict[str, Any]]:
    return outbox(db, "declaration.return_for_revision.v1", declaration_id)


def assert_waits_for_the_applicant(db: Any, declaration_id: str) -> None:
    assert outcome_of(db, declaration_id) == ("running", None)
    assert open_stages(db, declaration_id) == []
    assert incidents(db, declaration_id) == []


def returned_before_its_deadline(
    client: Any, auth: Any, db: Any, reason: str, days: int = 20
) -> tuple[dict[str, Any], dt.date]:
    """A declaration whose modification deadline is ``days`` ahead, returned at the unit check."""
    deadline = today(db) + dt.timedelta(days=days)
    data, _ = start(db, modification_deadline=deadline.isoformat())
    act(client, auth, "unit", data["declaration_id"], "unit_check", "return", reason)
    return data, deadline


def resubmitted_back_at_the_unit(db: Any, data: dict[str, Any], unit: str = UNIT) -> None:
    """After a resubmission the chain starts again at the unit, with the stale decision cleared."""
    resubmit(db, data)
    assert open_stages(db, data["declaration_id"]) == [("unit_check", unit)]
    fresh = process_data(db, data["declaration_id"], "unit_check")
    assert (fresh["decision"], fresh["reason"]) == (None, None)


# -- from the unit ----------------------------------------------------------------------------


def test_a_return_at_the_unit_check_waits_for_the_resubmission_then_goes_through_again(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check", "return", "附件不清晰")
    [sent] = returned(review, declaration_id)
    assert (sent["stage"], sent["organisation"], sent["reason"], sent["actor"]) == (
        "unit_check",
        UNIT,
        "附件不清晰",
        "unit",
    )
    assert_waits_for_the_applicant(review, declaration_id)

    amended = {**data, "specialty": "software engineering"}
    resubmitted_back_at_the_unit(review, amended)
    # The unit sees the amended declaration and, in the trail, its own return.
    task = only_task(client, auth("unit"), declaration_id, "unit_check")
    context = ok(client.get(f"/api/v1/tasks/{task['id']}/context", headers=auth("unit")))
    assert context["declaration"]["content"]["specialty"] == "software engineering"
    assert [(t["stage"], t["decision"], t["reason"]) for t in context["trail"]] == [
        ("unit_check", "return", "附件不清晰")
    ]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, data)
    assert len(returned(review, declaration_id)) == 1
    [issue] = outbox(review, "certificate.issue.v1", declaration_id)
    assert issue["specialty"] == "software engineering"  # the certificate names what was amended


def test_a_return_when_recommending_upward_after_the_publicity(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check")
    act(client, auth, "unit", declaration_id, "unit_recommendation", "recommend")
    publicise(client, auth, "unit", declaration_id, "unit")
    advance_clock(client, auth, 14)
    act(client, auth, "unit", declaration_id, "unit_recommend", "return", "业绩材料需补充")
    [sent] = returned(review, declaration_id)
    assert (sent["stage"], sent["organisation"], sent["reason"]) == ("unit_recommend", UNIT, "业绩材料需补充")
    assert_waits_for_the_applicant(review, declaration_id)
    resubmitted_back_at_the_unit(review, data)
    # A new publicity is needed the second time round: the first one was closed by the return.
    through_unit(client, auth, declaration_id)
    assert [s for s, _ in open_stages(review, declaration_id)] == ["department_check"]


# -- from each department level -----------------------------------------------------------------


@pytest.mark.parametrize("level", [0, 1])
def test_a_return_from_each_level_of_a_two_level_chain(review, clients, auth, level):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    users = ("dept1", "dept2")
    through_departments(client, auth, declaration_id, users[:level])
    act(client, auth, users[level], declaration_id, "department_check", "return", f"第{level + 1}级退回")
    [sent] = returned(review, declaration_id)
    assert (sent["stage"], sent["organisation"], sent["reason"]) == (
        "department_check",
        (DEPT1, DEPT2)[level],
        f"第{level + 1}级退回",
    )
    assert_waits_for_the_applicant(review, declaration_id)

    resubmitted_back_at_the_unit(review, data)
    through_unit(client, auth, declaration_id)
    assert open_stages(review, declaration_id) == [("department_check", DEPT1)]
    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, data)


def test_a_return_from_each_level_of_a_four_level_chain_each_time_from_the_unit(review, clients, auth):
    client = clients["review"]
    register(review, LEVEL2, "department", DEPT1, "区级二层主管部门")
    register(review, LEVEL1, "department", LEVEL2, "区级一层主管部门")
    register(review, DEEP_UNIT, "unit", LEVEL1, "四级链单位")
    chain = (LEVEL1, LEVEL2, DEPT1, DEPT2)
    departments = tuple(headers_for(f"d{i}", "department", code) for i, code in enumerate(chain))
    unit = headers_for("u-deep", "unit", DEEP_UNIT)
    data, _ = start(review, unit_code=DEEP_UNIT)
    declaration_id = data["declaration_id"]
    for level in range(4):
        through_unit(client, auth, declaration_id, unit)
        through_departments(client, auth, declaration_id, departments[:level])
        act(client, auth, departments[level], declaration_id, "department_check", "return", f"level {level + 1}")
        sent = returned(review, declaration_id)
        assert [(s["organisation"], s["reason"]) for s in sent] == [
            (chain[i], f"level {i + 1}") for i in range(level + 1)
        ]
        assert_waits_for_the_applicant(review, declaration_id)
        resubmitted_back_at_the_unit(review, data, DEEP_UNIT)
    through_unit(client, auth, declaration_id, unit)
    through_departments(client, auth, declaration_id, departments)
    finish_social(client, auth, review, data)


# -- from the committee ------------------------------------------------------------------------


def test_a_return_at_committee_acceptance_goes_back_through_the_whole_chain(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance", "return", "不符合申报条件说明")
    [sent] = returned(review, declaration_id)
    assert (sent["stage"], sent["organisation"], sent["reason"]) == (
        "committee_acceptance",
        COMMITTEE,
        "不符合申报条件说明",
    )
    assert_waits_for_the_applicant(review, declaration_id)
    resubmitted_back_at_the_unit(review, data)
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, data)


# -- the modification deadline -----------------------------------------------------------------


def test_a_return_past_the_modification_deadline_ends_the_declaration_not_accepted(review, clients, auth):
    client = clients["review"]
    yesterday = (today(review) - dt.timedelta(days=1)).isoformat()
    data, _ = start(review, modification_deadline=yesterday)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check", "return", "too late")
    assert returned(review, declaration_id) == []
    assert outcome_of(review, declaration_id) == ("completed", "not_accepted")
    [done] = outbox(review, "review.completed.v1", declaration_id)
    assert done["outcome"] == "not_accepted"


def test_on_the_deadline_day_itself_a_return_still_lets_the_applicant_amend(review, clients, auth):
    data, _ = start(review, modification_deadline=today(review).isoformat())
    act(clients["review"], auth, "unit", data["declaration_id"], "unit_check", "return", "last day")
    assert len(returned(review, data["declaration_id"])) == 1
    assert_waits_for_the_applicant(review, data["declaration_id"])


def test_the_test_clock_passing_the_deadline_makes_the_next_return_final(review, clients, auth):
    client = clients["review"]
    data, _ = returned_before_its_deadline(client, auth, review, "on the deadline day still fine")
    declaration_id = data["declaration_id"]
    assert len(returned(review, declaration_id)) == 1
    resubmitted_back_at_the_unit(review, data)
    through_unit(client, auth, declaration_id)  # moves the clock 14 days: still before the deadline
    advance_clock(client, auth, 7)  # now past it
    act(client, auth, "dept1", declaration_id, "department_check", "return", "past the deadline")
    assert len(returned(review, declaration_id)) == 1
    assert outcome_of(review, declaration_id) == ("completed", "not_accepted")
    assert [d["outcome"] for d in outbox(review, "review.completed.v1", declaration_id)] == ["not_accepted"]


def test_a_returned_declaration_not_resubmitted_ends_not_accepted_at_its_deadline_and_the_applicant_is_told(
    review, clients, auth, dbs
):
    from tests.integration.test_notify import deliver as notify_deliver
    from tests.integration.test_notify import envelope as notify_envelope
    from tests.integration.test_notify import messages

    client = clients["review"]
    data, deadline = returned_before_its_deadline(client, auth, review, "请补充业绩材料")
    declaration_id = data["declaration_id"]
    # The applicant's wait races the resubmission, the withdrawal and the deadline: the timer is shown, due
    # the instant the declaration service starts refusing a resubmission (the day's end, Beijing).
    closes = dt.datetime.combine(deadline, dt.time(23, 59, 59), BEIJING)
    assert timers_of(client, auth, declaration_id) == [
        ("modification_deadline_passed", "return_and_resubmit", closes.isoformat())
    ]

    advance_to(client, auth, closes - dt.timedelta(seconds=1))  # one second before: still waiting
    assert_waits_for_the_applicant(review, declaration_id)
    advance_clock(client, auth, seconds=2)  # past it: the scheduler fires, nobody acts
    assert outcome_of(review, declaration_id) == ("completed", "not_accepted")
    assert timers_of(client, auth, declaration_id) == []
    completed = set(view_of(client, auth, declaration_id)["completed"])
    assert {"modification_deadline_passed", "past_deadline_merge", "record_past_deadline", "not_accepted"} <= completed
    assert len(returned(review, declaration_id)) == 1
    [done] = outbox(review, "review.completed.v1", declaration_id)
    assert (done["outcome"], done["applicant"]) == ("not_accepted", "applicant")
    # The applicant is told, in words (notify's result notice).
    assert notify_deliver(dbs, notify_envelope("review.completed.v1", done)) == "done"
    [notice] = [m for m in messages(dbs) if m.declaration_id == declaration_id]
    assert notice.kind == "result" and "未在修改截止时间前重新提交，不予受理" in notice.body
    # A resubmission that would come now finds nothing waiting for it (the declaration service refuses it).
    assert incidents(review, declaration_id) == []


def test_a_resubmission_before_the_deadline_wins_the_race_and_the_deadline_timer_is_gone(review, clients, auth):
    client = clients["review"]
    data, deadline = returned_before_its_deadline(client, auth, review, "请补充")
    declaration_id = data["declaration_id"]
    advance_to(client, auth, dt.datetime.combine(deadline, dt.time(23, 59, 58), BEIJING))
    resubmitted_back_at_the_unit(review, data)
    assert timers_of(client, auth, declaration_id) == []
    advance_clock(client, auth, 2)  # past the deadline: the declaration is at the unit, nothing fires
    assert open_stages(review, declaration_id) == [("unit_check", UNIT)]


def test_an_appointment_without_a_modification_deadline_waits_for_the_applicant_without_a_timer(review, clients, auth):
    client = clients["review"]
    data, _ = start(
        review,
        mode="independent_appointment",
        committee_code=None,
        committee_name=None,
        panel_size=1,
        modification_deadline=None,
    )
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_appointment", "return", "请补充")
    assert timers_of(client, auth, declaration_id) == []
    advance_clock(client, auth, 366)
    assert_waits_for_the_applicant(review, data["declaration_id"])


def test_a_resubmission_brings_the_amended_category_and_an_extended_deadline(review, clients, auth):
    client = clients["review"]
    first_deadline = today(review) + dt.timedelta(days=20)
    data, _ = start(review, modification_deadline=first_deadline.isoformat())
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check", "return", "请按破格条件申报")
    extended = first_deadline + dt.timedelta(days=40)  # the committee extended the modification deadline
    resubmit(review, {**data, "category": "exception", "modification_deadline": extended.isoformat()})
    [task] = [t for t in tasks_of(review, declaration_id, bpmn_id="unit_check") if t.status == "ready"]
    assert task.summary["category"] == "exception"
    assert process_data(review, declaration_id, "unit_check")["modification_deadline"] == extended.isoformat()
    through_unit(client, auth, declaration_id)
    advance_clock(client, auth, 10)  # past the first deadline, before the extended one
    assert today(review) > first_deadline
    act(client, auth, "dept1", declaration_id, "department_check", "return", "still open for amendment")
    assert len(returned(review, declaration_id)) == 2
    assert_waits_for_the_applicant(review, declaration_id)


# -- withdrawal ---------------------------------------------------------------------------------


def test_a_withdrawal_while_returned_ends_the_declaration_withdrawn(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    act(client, auth, "dept1", declaration_id, "department_check", "return", "请补充")
    withdraw(review, declaration_id)
    assert outcome_of(review, declaration_id) == ("completed", "withdrawn")
    assert [d["outcome"] for d in outbox(review, "review.completed.v1", declaration_id)] == ["withdrawn"]
    assert incidents(review, declaration_id) == []


def test_a_withdrawal_at_the_unit_ends_the_declaration_withdrawn_and_cancels_the_task(review, clients, auth):
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    withdraw(review, declaration_id)
    assert outcome_of(review, declaration_id) == ("completed", "withdrawn")
    assert open_stages(review, declaration_id) == []
    assert [d["outcome"] for d in outbox(review, "review.completed.v1", declaration_id)] == ["withdrawn"]
    task = (
        clients["review"]
        .get("/api/v1/tasks", headers=auth("unit"), query_string={"declaration_id": declaration_id})
        .get_json()["items"]
    )
    assert task == []


def test_a_withdrawal_at_the_unit_after_a_resubmission_ends_it_withdrawn(review, clients, auth):
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    act(clients["review"], auth, "unit", declaration_id, "unit_check", "return", "请补充")
    resubmitted_back_at_the_unit(review, data)
    withdraw(review, declaration_id)
    assert outcome_of(review, declaration_id) == ("completed", "withdrawn")
    assert [t.status for t in tasks_of(review, declaration_id, bpmn_id="unit_check")] == ["completed", "cancelled"]


# -- the called return-and-resubmit process -----------------------------------------------------


def view_of(client: Any, auth: Any, declaration_id: str) -> dict[str, Any]:
    return ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))


def called_runs(db: Any, declaration_id: str) -> list[tuple[str, bool]]:
    """The called processes the instance ran (or runs): their process id and whether they ended."""
    from services.review.engine import runtime

    workflow = runtime.SERIALIZER.deserialize_json(instance_of(db, declaration_id).state)
    return [
        (sub.spec.name, sub.is_completed())
        for sub in workflow.subprocesses.values()
        if sub.spec.name != "department_chain_review"
    ]


@pytest.mark.parametrize("mode", ["social_review", "independent_review", "independent_appointment"])
def test_a_return_runs_the_called_process_and_its_outcome_comes_back_to_the_mode(review, clients, auth, mode):
    client = clients["review"]
    data, _ = start(
        review,
        mode=mode,
        **(
            {"committee_code": None, "committee_name": None, "panel_size": 1}
            if mode == "independent_appointment"
            else {}
        ),
    )
    declaration_id = data["declaration_id"]
    first = "unit_appointment" if mode == "independent_appointment" else "unit_check"
    act(client, auth, "unit", declaration_id, first, "return", "请补充")
    assert len(returned(review, declaration_id)) == 1  # thrown inside the called process, published
    view = view_of(client, auth, declaration_id)
    assert {"return_for_revision", "await_applicant"} <= set(view["active"])  # the call, and where it waits
    assert {"returned", "check_modification_deadline", "return_to_applicant"} <= set(view["completed"])
    # The called diagram comes with the view, its element ids apart from the mode's, for a second viewer.
    [called] = [c for c in view["called"] if c["process_id"] == "return_and_resubmit"]
    assert called["process_id"] == "return_and_resubmit" and 'id="await_applicant"' in called["bpmn"]
    assert called["active"] == ["await_applicant"] and "return_to_applicant" in called["completed"]
    assert 'id="await_applicant"' not in view["bpmn"] and "returned" not in called["completed"]
    assert called_runs(review, declaration_id) == [("return_and_resubmit", False)]

    marker = "representative-work-" + "x" * 2000
    resubmit(review, {**data, "specialty": "software engineering", "content": {"items": [{"title": marker}]}})
    assert open_stages(review, declaration_id) == [(first, UNIT)]
    # The amended content is kept for the task views, not in the process state (where it would pile up).
    assert marker not in instance_of(review, declaration_id).state
    [task] = [t for t in tasks_of(review, declaration_id, bpmn_id=first) if t.status == "ready"]
    shown = ok(client.get(f"/api/v1/tasks/{task.id}/context", headers=auth("unit")))
    assert shown["declaration"]["content"]["content"]["items"][0]["title"] == marker
    # What the called process set flows back into the mode's data: its declared outputs, and only those.
    back = process_data(review, declaration_id, first)
    assert (back["revision_outcome"], back["specialty"], back["decision"]) == (
        "resubmitted",
        "software engineering",
        None,
    )
    assert "resubmission" not in back  # the message itself stays inside the called process
    assert called_runs(review, declaration_id) == [("return_and_resubmit", True)]

    # A second return calls it afresh; a withdrawal there ends the mode withdrawn through the caller.
    act(client, auth, "unit", declaration_id, first, "return", "还需补充")
    withdraw(review, declaration_id)
    assert outcome_of(review, declaration_id) == ("completed", "withdrawn")
    assert called_runs(review, declaration_id) == [("return_and_resubmit", True)] * 2
    completed = set(view_of(client, auth, declaration_id)["completed"])
    assert {"withdrawn_while_returned", "record_withdrawal", "revision_result", "withdrawn_merge"} <= completed
    assert incidents(review, declaration_id) == []


def test_past_the_deadline_the_called_process_says_so_and_the_mode_ends_not_accepted(review, clients, auth):
    client = clients["review"]
    yesterday = (today(review) - dt.timedelta(days=1)).isoformat()
    data, _ = start(review, modification_deadline=yesterday)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check", "return", "too late")
    assert outcome_of(review, declaration_id) == ("completed", "not_accepted")
    completed = set(view_of(client, auth, declaration_id)["completed"])
    assert {"record_past_deadline", "revision_result", "not_accepted"} <= completed
    assert "return_to_applicant" not in completed
