"""Expert panels through the diagram: vote and attendance boundaries in integer arithmetic (two
thirds of 5 and of 7 are not whole), abstentions, and recusal (回避) before and after the draw."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from tests.integration.review_flow_helpers import (
    COMMITTEE,
    act,
    add_experts,
    attend,
    expert_headers,
    ok,
    open_stages,
    outbox,
    outcome_of,
    panel_of,
    review_db,
    start,
    tasks_of,
    through_departments,
    through_unit,
    today,
    vote_all,
)

APPLICANT_ID = "120101198806120032"


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    db = review_db(demo, monkeypatch)
    add_experts(db, 4)  # expert1..expert7
    return db


def to_the_meeting(client: Any, auth: Any, db: Any, panel_size: int = 7) -> tuple[str, list[str]]:
    data, _ = start(db, panel_size=panel_size)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    panel = panel_of(client, auth, declaration_id)
    assert len(panel) == panel_size
    return declaration_id, panel


def tally(client: Any, auth: Any, declaration_id: str) -> dict[str, Any]:
    return ok(client.get(f"/api/v1/declarations/{declaration_id}/tally", headers=auth("committee")))


def voting_opened_for(db: Any, declaration_id: str) -> list[str]:
    return sorted(t.assignee for t in tasks_of(db, declaration_id, bpmn_id="expert_vote"))


# -- votes: agree*3 >= present*2 -------------------------------------------------------------------


@pytest.mark.parametrize(
    "present,agree,disagree,abstain,passed",
    [
        (7, 5, 2, 0, True),  # 15 >= 14: exactly two thirds rounded up
        (7, 4, 3, 0, False),  # 12 < 14: one fewer
        (7, 5, 0, 2, True),
        (7, 4, 0, 3, False),  # abstaining is not agreeing
        (5, 4, 1, 0, True),  # 12 >= 10 (five of seven present: quorate)
        (5, 3, 1, 1, False),  # 9 < 10
    ],
)
def test_the_vote_passes_at_two_thirds_of_those_present_in_integers(
    review, clients, auth, present, agree, disagree, abstain, passed
):
    client = clients["review"]
    declaration_id, panel = to_the_meeting(client, auth, review)
    attending = panel[:present]
    attend(client, auth, declaration_id, attending)
    choices = ["agree"] * agree + ["disagree"] * disagree + ["abstain"] * abstain
    vote_all(client, auth, declaration_id, dict(zip(attending, choices)))
    counts = tally(client, auth, declaration_id)
    assert (counts["members"], counts["present"], counts["agree"], counts["disagree"], counts["abstain"]) == (
        7,
        present,
        agree,
        disagree,
        abstain,
    )
    if passed:
        assert [s for s, _ in open_stages(review, declaration_id)] == ["result_publicity"]
        assert outcome_of(review, declaration_id) == ("running", None)
    else:  # not passed: the applicant may ask for re-examination (复查) before it ends so
        assert open_stages(review, declaration_id) == []
        assert outcome_of(review, declaration_id) == ("running", None)
        assert len(outbox(review, "review.re_examination.opened.v1", declaration_id)) == 1


# -- attendance: present*3 >= members*2 -----------------------------------------------------------


@pytest.mark.parametrize("members,present,quorate", [(7, 5, True), (7, 4, False), (5, 4, True), (5, 3, False)])
def test_the_meeting_needs_two_thirds_of_the_panel_present(review, clients, auth, members, present, quorate):
    client = clients["review"]
    declaration_id, panel = to_the_meeting(client, auth, review, panel_size=members)
    attend(client, auth, declaration_id, panel[:present])
    view = panel_of_view(client, auth, declaration_id)
    assert [(len(m["members"]), len(m["present"]), m["quorate"]) for m in view["attendance"]] == [
        (members, present, quorate)
    ]
    if quorate:
        assert voting_opened_for(review, declaration_id) == sorted(panel[:present])
        return
    # Not quorate: no vote opens; the meeting is held again and its attendance recorded anew.
    assert voting_opened_for(review, declaration_id) == []
    assert open_stages(review, declaration_id) == [("record_attendance", COMMITTEE)]
    attend(client, auth, declaration_id, panel[: present + 1])
    assert voting_opened_for(review, declaration_id) == sorted(panel[: present + 1])


def panel_of_view(client: Any, auth: Any, declaration_id: str) -> dict[str, Any]:
    return ok(client.get(f"/api/v1/declarations/{declaration_id}/panel", headers=auth("committee")))


# -- recusal --------------------------------------------------------------------------------------


def declare_conflict(client: Any, auth: Any, expert: str, id_number: str = APPLICANT_ID) -> None:
    ok(
        client.post(
            "/api/v1/conflicts", headers=expert_headers(auth, expert), json={"id_number": id_number, "reason": "近亲属"}
        ),
        201,
    )


def test_an_expert_with_a_declared_conflict_is_never_drawn(review, clients, auth):
    from services.review import operations

    client = clients["review"]
    declare_conflict(client, auth, "expert5")
    declare_conflict(client, auth, "expert6", id_number="11010519491231002X")  # someone else's conflict
    with review.uow() as uow:
        for attempt in range(30):
            panel = operations.draw_panel(uow, f"draw-{attempt}", COMMITTEE, 5, APPLICANT_ID)["panel"]
            assert "expert5" not in panel and len(set(panel)) == 5
        uow.rollback()

    declaration_id, panel = to_the_meeting(client, auth, review, panel_size=6)
    assert sorted(panel) == ["expert1", "expert2", "expert3", "expert4", "expert6", "expert7"]
    view = panel_of_view(client, auth, declaration_id)
    assert "expert5" not in view["pool"] and len(view["pool"]) == 6
    # The draw is recorded with its seed: the seed and the recorded pool give the same panel again.
    assert random.Random(view["seed"]).sample(view["pool"], 6) == view["panel"]


def test_a_panel_cannot_be_filled_when_too_many_experts_recused(review, clients, auth):
    client = clients["review"]
    declare_conflict(client, auth, "expert5")
    data, _ = start(review, panel_size=7)
    through_unit(client, auth, data["declaration_id"])
    through_departments(client, auth, data["declaration_id"])
    act(client, auth, "committee", data["declaration_id"], "committee_acceptance")
    # Six of the seven experts have no conflict: the committee office is asked to enlarge the pool.
    assert open_stages(review, data["declaration_id"]) == [("enlarge_pool", COMMITTEE)]


def test_recusal_after_the_draw_removes_the_expert_from_the_meeting_and_the_quorum(review, clients, auth):
    client = clients["review"]
    declaration_id, panel = to_the_meeting(client, auth, review, panel_size=5)
    leaving, staying = panel[0], panel[1:]
    outsider = next(e for e in (f"expert{i}" for i in range(1, 8)) if e not in panel)
    refused = client.post(
        f"/api/v1/declarations/{declaration_id}/panel/recusal",
        headers=expert_headers(auth, outsider),
        json={"reason": "not mine"},
    )
    assert refused.status_code == 403
    ok(
        client.post(
            f"/api/v1/declarations/{declaration_id}/panel/recusal",
            headers=expert_headers(auth, leaving),
            json={"reason": "曾为申报人导师"},
        ),
        201,
    )
    assert panel_of_view(client, auth, declaration_id)["recused"] == [leaving]

    # A recused expert cannot be recorded present; the quorum is two thirds of the four remaining.
    response = client.post(
        f"/api/v1/declarations/{declaration_id}/panel/attendance",
        headers=auth("committee"),
        json={"present": panel[:3]},
    )
    assert response.status_code == 422 and response.get_json()["errors"][0]["rule"] == "panel_member"
    attend(client, auth, declaration_id, staying[:3])  # 3*3 >= 4*2
    assert voting_opened_for(review, declaration_id) == sorted(staying[:3])
    view = panel_of_view(client, auth, declaration_id)
    assert (sorted(view["attendance"][0]["members"]), view["attendance"][0]["quorate"]) == (sorted(staying), True)

    # After the meeting nobody recuses any more.
    late = client.post(
        f"/api/v1/declarations/{declaration_id}/panel/recusal", headers=expert_headers(auth, staying[0]), json={}
    )
    assert late.status_code == 409 and late.get_json()["errors"][0]["rule"] == "before_meeting"
    vote_all(client, auth, declaration_id, {e: "agree" for e in staying[:3]})
    counts = tally(client, auth, declaration_id)
    assert (counts["members"], counts["present"], counts["agree"]) == (4, 3, 3)


def test_a_conflict_with_an_id_number_failing_its_check_is_refused(review, clients, auth):
    """A typo would record a conflict that never matches, and the expert would be drawn after all."""
    client = clients["review"]
    valid = "11010519491231002X"
    mutations = {valid[:i] + c + valid[i + 1 :] for i in range(18) for c in "0123456789X" if c != valid[i]}
    for mutated in sorted(mutations):
        response = client.post(
            "/api/v1/conflicts",
            headers=expert_headers(auth, "expert1"),
            json={"id_number": mutated, "reason": "近亲属"},
        )
        assert response.status_code == 422, mutated
        assert response.get_json()["errors"][0]["rule"] == "gb11643"
    ok(
        client.post(
            "/api/v1/conflicts",
            headers=expert_headers(auth, "expert1"),
            json={"id_number": "E12345678", "id_type": "passport", "reason": "同事"},
        ),
        201,
    )
    assert [c["id_number"] for c in ok(client.get("/api/v1/conflicts", headers=expert_headers(auth, "expert1")))] == [
        "E12345678"
    ]


def test_a_conflict_can_be_withdrawn_by_whoever_declared_it_and_the_record_stays(review, clients, auth):
    from services.review import operations

    client = clients["review"]
    declare_conflict(client, auth, "expert5")
    path = f"/api/v1/conflicts/{APPLICANT_ID}/withdraw"
    other = client.post(path, headers=expert_headers(auth, "expert4"), json={"reason": "误报"})
    assert other.status_code == 404  # not theirs to withdraw
    assert client.post(path, headers=expert_headers(auth, "expert5"), json={}).status_code == 422  # a reason
    withdrawn = ok(client.post(path, headers=expert_headers(auth, "expert5"), json={"reason": "申报有误"}))
    assert withdrawn["withdraw_reason"] == "申报有误" and withdrawn["withdrawn_at"]
    again = client.post(path, headers=expert_headers(auth, "expert5"), json={"reason": "x"})
    assert again.status_code == 409 and again.get_json()["errors"][0]["rule"] == "not_withdrawn"
    [kept] = ok(client.get("/api/v1/conflicts", headers=expert_headers(auth, "expert5")))
    assert (kept["id_number"], kept["withdraw_reason"]) == (APPLICANT_ID, "申报有误")
    with review.uow() as uow:  # every expert of the pool of 7 can be drawn again
        assert sorted(operations.draw_panel(uow, "after-withdrawal", COMMITTEE, 7, APPLICANT_ID)["panel"]) == [
            f"expert{i}" for i in range(1, 8)
        ]
        uow.rollback()


def test_a_recusal_applies_to_its_declaration_only(review, clients, auth):
    client = clients["review"]
    first, panel = to_the_meeting(client, auth, review, panel_size=7)  # the whole pool of seven
    ok(
        client.post(
            f"/api/v1/declarations/{first}/panel/recusal",
            headers=expert_headers(auth, panel[0]),
            json={"reason": "曾为申报人导师"},
        ),
        201,
    )
    assert panel_of_view(client, auth, first)["recused"] == [panel[0]]
    # The same applicant's next declaration draws from the whole pool again (it used to fail the draw).
    second, again = to_the_meeting(client, auth, review, panel_size=7)
    assert sorted(again) == sorted(panel)
    assert panel_of_view(client, auth, second)["recused"] == []


# -- defence (答辩) for the levels that require it ----------------------------------------------------


def test_a_level_that_requires_a_defence_schedules_it_a_week_ahead_before_the_meeting(review, clients, auth):
    client = clients["review"]
    data, _ = start(review, level="正高级", panel_size=5)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    assert open_stages(review, declaration_id) == [("schedule_defence", COMMITTEE)]
    day = today(review)
    too_soon = client.post(
        f"/api/v1/declarations/{declaration_id}/defence",
        headers=auth("committee"),
        json={"at": f"{day + dt.timedelta(days=6)}T09:00:00+08:00", "place": "第一会议室"},
    )
    assert too_soon.status_code == 422 and too_soon.get_json()["errors"][0]["rule"] == "week_ahead"
    at = day + dt.timedelta(days=7)
    ok(
        client.post(
            f"/api/v1/declarations/{declaration_id}/defence",
            headers=auth("committee"),
            json={"at": f"{at}T09:00:00+08:00", "place": "第一会议室"},
        )
    )
    [notice] = outbox(review, "review.defence.scheduled.v1", declaration_id)
    assert (notice["first_notice_on"], notice["reminder_on"], notice["place"]) == (
        day.isoformat(),
        (at - dt.timedelta(days=1)).isoformat(),
        "第一会议室",
    )
    assert open_stages(review, declaration_id) == [("record_attendance", COMMITTEE)]
    assert panel_of_view(client, auth, declaration_id)["defences"][0]["place"] == "第一会议室"


def test_a_level_without_a_defence_goes_straight_to_the_meeting(review, clients, auth):
    client = clients["review"]
    declaration_id, _ = to_the_meeting(client, auth, review, panel_size=5)
    assert open_stages(review, declaration_id) == [("record_attendance", COMMITTEE)]
    assert outbox(review, "review.defence.scheduled.v1", declaration_id) == []


# -- the meeting belongs to its defence: not recorded before it (issue 19) ------------------------------


def scheduled_for_defence(client: Any, auth: Any, db: Any) -> tuple[str, dt.date]:
    data, _ = start(db, level="正高级", panel_size=5)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    day = today(db) + dt.timedelta(days=7)
    ok(
        client.post(
            f"/api/v1/declarations/{declaration_id}/defence",
            headers=auth("committee"),
            json={"at": f"{day}T09:00:00+08:00", "place": "第一会议室"},
        )
    )
    return declaration_id, day


def test_attendance_is_refused_before_the_defence_it_belongs_to(review, clients, auth):
    from tests.integration.review_flow_helpers import advance_clock

    client = clients["review"]
    declaration_id, day = scheduled_for_defence(client, auth, review)
    panel = panel_of(client, auth, declaration_id)
    early = attend(client, auth, declaration_id, panel, status=409)
    assert early["errors"][0]["rule"] == "after_defence"
    assert f"{day}T09:00:00+08:00" in early["errors"][0]["message"]
    assert panel_of_view(client, auth, declaration_id)["attendance"] == []
    assert open_stages(review, declaration_id) == [("record_attendance", COMMITTEE)]
    advance_clock(client, auth, 6)  # the day before the defence
    attend(client, auth, declaration_id, panel, status=409)
    advance_clock(client, auth, 2)  # the day after
    attend(client, auth, declaration_id, panel)
    assert sorted(voting_opened_for(review, declaration_id)) == sorted(panel)


def test_a_vote_is_refused_before_a_defence_scheduled_for_the_declaration(review, clients, auth):
    from services.review.models import Defence
    from tests.integration.review_flow_helpers import advance_clock

    client = clients["review"]
    declaration_id, day = scheduled_for_defence(client, auth, review)
    advance_clock(client, auth, 8)
    panel = panel_of(client, auth, declaration_id)
    attend(client, auth, declaration_id, panel)
    later = dt.datetime.combine(today(review) + dt.timedelta(days=3), dt.time(9), dt.timezone(dt.timedelta(hours=8)))
    with review.uow() as uow:  # a defence set again for the declaration, after the meeting was recorded
        uow.session.add(Defence(declaration_id=declaration_id, at=later, place="第二会议室", scheduled_by="committee"))
        uow.commit()
    task = next(t for t in tasks_of(review, declaration_id, bpmn_id="expert_vote") if t.assignee == panel[0])
    response = client.post(
        f"/api/v1/tasks/{task.id}/complete", headers=expert_headers(auth, panel[0]), json={"decision": "agree"}
    )
    assert response.status_code == 409 and response.get_json()["errors"][0]["rule"] == "after_defence"
    # The meeting was the day the attendance was recorded: voting closes at its end, no vote given.
    advance_clock(client, auth, 4)
    assert {t.status for t in tasks_of(review, declaration_id, bpmn_id="expert_vote")} == {"cancelled"}
    assert tally(client, auth, declaration_id)["not_voted"] == len(panel)


# -- voting closes at the end of the meeting day (会议结束，表决截止) ----------------------------------


def test_an_expert_who_never_votes_counts_as_present_and_not_agreeing_when_voting_closes(review, clients, auth):
    from shared import clock
    from tests.integration.review_flow_helpers import advance_to

    client = clients["review"]
    declaration_id, panel = to_the_meeting(client, auth, review, panel_size=3)
    attend(client, auth, declaration_id, panel)
    # Two of three agree; the third never votes. Two thirds agree so far, but voting is still open.
    vote_all(client, auth, declaration_id, {panel[0]: "agree", panel[1]: "agree"})
    assert [s for s, _ in open_stages(review, declaration_id)] == ["expert_vote"]
    closed = tally_response(client, auth, declaration_id)
    assert closed.status_code == 409 and closed.get_json()["errors"][0]["rule"] == "voting_closed"
    # Voting closes at the end of the meeting day (the day the attendance was recorded, no defence).
    end_of_meeting = clock.end_of_day(clock.today())
    advance_to(client, auth, end_of_meeting - dt.timedelta(seconds=2))
    assert [s for s, _ in open_stages(review, declaration_id)] == ["expert_vote"]
    advance_to(client, auth, end_of_meeting + dt.timedelta(seconds=1))
    [late] = [t for t in tasks_of(review, declaration_id, bpmn_id="expert_vote") if t.assignee == panel[2]]
    assert late.status == "cancelled"
    assert sorted(t.status for t in tasks_of(review, declaration_id, bpmn_id="expert_vote")) == [
        "cancelled",
        "completed",
        "completed",
    ]
    counts = tally(client, auth, declaration_id)
    assert (counts["present"], counts["agree"], counts["disagree"], counts["abstain"], counts["not_voted"]) == (
        3,
        2,
        0,
        0,
        1,
    )
    # 2 * 3 >= 3 * 2: two of three present agree, the silent one counted as not agreeing: passed.
    assert [s for s, _ in open_stages(review, declaration_id)] == ["result_publicity"]


def test_two_silent_experts_of_three_make_the_vote_fail_when_it_closes(review, clients, auth):
    from shared import clock
    from tests.integration.review_flow_helpers import advance_to

    client = clients["review"]
    declaration_id, panel = to_the_meeting(client, auth, review, panel_size=3)
    attend(client, auth, declaration_id, panel)
    vote_all(client, auth, declaration_id, {panel[0]: "agree"})
    advance_to(client, auth, clock.end_of_day(clock.today()) + dt.timedelta(seconds=1))
    counts = tally(client, auth, declaration_id)
    assert (counts["present"], counts["agree"], counts["not_voted"]) == (3, 1, 2)
    # Not passed: the applicant may ask for re-examination (复查) before it ends so.
    assert outcome_of(review, declaration_id) == ("running", None)
    assert len(outbox(review, "review.re_examination.opened.v1", declaration_id)) == 1


def test_a_vote_after_voting_closed_is_refused_even_before_the_scheduler_ends_it(review, clients, auth):
    from shared import clock

    client = clients["review"]
    declaration_id, panel = to_the_meeting(client, auth, review, panel_size=3)
    attend(client, auth, declaration_id, panel)
    vote_all(client, auth, declaration_id, {panel[0]: "agree"})
    # The clock passes the end of the meeting day; no scheduler tick has run yet.
    clock.set_now_for_tests(clock.end_of_day(clock.today()) + dt.timedelta(seconds=1))
    [late] = [t for t in tasks_of(review, declaration_id, bpmn_id="expert_vote") if t.assignee == panel[1]]
    response = client.post(
        f"/api/v1/tasks/{late.id}/complete", headers=expert_headers(auth, panel[1]), json={"decision": "agree"}
    )
    assert response.status_code == 409 and response.get_json()["errors"][0]["rule"] == "closed"
    assert tally_response(client, auth, declaration_id).status_code == 409  # still open until the timer fires


def tally_response(client: Any, auth: Any, declaration_id: str) -> Any:
    return client.get(f"/api/v1/declarations/{declaration_id}/tally", headers=auth("committee"))


# -- a pool too small for the panel (专家库人数不足) -------------------------------------------------


def test_a_pool_too_small_goes_to_the_committee_office_which_enlarges_it_and_the_panel_is_drawn_again(
    review, clients, auth
):
    from services.review.models import PanelDraw

    client = clients["review"]
    data, _ = start(review, panel_size=9)  # the pool holds seven
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")  # accepted: no error
    assert open_stages(review, declaration_id) == [("enlarge_pool", COMMITTEE)]
    with review.uow(readonly=True) as uow:
        assert uow.session.query(PanelDraw).filter_by(declaration_id=declaration_id).count() == 0
    # Still too small: drawn again, back to the office.
    add_experts_from(review, 8, 1)
    act(client, auth, "committee", declaration_id, "enlarge_pool")
    assert open_stages(review, declaration_id) == [("enlarge_pool", COMMITTEE)]
    add_experts_from(review, 9, 1)
    act(client, auth, "committee", declaration_id, "enlarge_pool")
    assert len(panel_of(client, auth, declaration_id)) == 9
    assert [s for s, _ in open_stages(review, declaration_id)] == ["record_attendance"]


def add_experts_from(db: Any, first: int, count: int) -> None:
    from services.review import service

    with db.uow() as uow:
        for i in range(first, first + count):
            service.add_expert(uow, COMMITTEE, f"expert{i}", f"expert{i}")
        uow.commit()


def test_the_process_view_shows_where_the_declaration_stands_inside_the_called_diagrams(review, clients, auth):
    client = clients["review"]
    declaration_id, panel = to_the_meeting(client, auth, review, panel_size=3)
    attend(client, auth, declaration_id, panel)
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    called = {c["process_id"]: c for c in view["called"]}
    assert set(called) == {"department_chain", "expert_review", "return_and_resubmit", "re_examination"}
    assert 'calledElement="expert_review"' in view["bpmn"] and 'id="expert_vote"' in called["expert_review"]["bpmn"]
    assert "review_by_experts" in view["active"]  # the call, in the mode's diagram
    assert "expert_vote" in called["expert_review"]["active"]  # and inside it, the vote
    assert {"draw_panel", "pool_enough", "record_attendance"} <= set(called["expert_review"]["completed"])
    assert called["department_chain"]["active"] == [] and "department_check" in called["department_chain"]["completed"]
