"""Independent review and independent appointment end to end through their diagrams, and the
department chain read from the directory (one level, four levels)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.review_flow_helpers import (
    UNIT,
    act,
    add_experts,
    advance_clock,
    certificate_issued,
    headers_for,
    incidents,
    instance_of,
    ok,
    open_stages,
    outbox,
    outcome_of,
    register,
    resubmit,
    review_db,
    start,
    tasks_of,
    through_departments,
    through_unit,
)

DEPT1 = "111201010000123459"
DEPT2 = "11120000000067890J"
TITLE_OFFICE = "11120000000054321L"
# An organisation's own committee for independent review (自主评审), and a unit outside it.
OWN_COMMITTEE = "12120000MBOWNC0001"
OTHER_UNIT = "91120101OTHER00001"


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def returned(db: Any, declaration_id: str) -> list[tuple[str, str | None, str | None]]:
    return [
        (r["stage"], r["organisation"], r["reason"])
        for r in outbox(db, "declaration.return_for_revision.v1", declaration_id)
    ]


# -- independent review ------------------------------------------------------------------------


@pytest.fixture
def own_committee(review: Any) -> dict[str, Any]:
    """The demo unit's own committee: the directory records the organisation it belongs to."""
    register(review, OWN_COMMITTEE, "committee", UNIT, "天津市示范科技有限公司工程技术职称评审委员会")
    register(review, OTHER_UNIT, "unit", DEPT1, "另一家单位")
    experts = add_experts(review, 3, committee=OWN_COMMITTEE)
    return {
        "office": headers_for("own-office", "committee", OWN_COMMITTEE),
        "experts": {e: headers_for(e, "expert", OWN_COMMITTEE) for e in experts},
    }


def independent(db: Any, **overrides: Any) -> dict[str, Any]:
    data, _ = start(
        db,
        mode="independent_review",
        committee_code=OWN_COMMITTEE,
        committee_name="天津市示范科技有限公司工程技术职称评审委员会",
        **overrides,
    )
    return data


def test_independent_review_end_to_end_for_the_organisations_own_staff(review, clients, auth, own_committee):
    client, office = clients["review"], own_committee["office"]
    data = independent(review)
    declaration_id = data["declaration_id"]
    assert instance_of(review, declaration_id).process_id == "social_review"  # one process, two modes
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, office, declaration_id, "committee_acceptance")
    panel = ok(client.get(f"/api/v1/declarations/{declaration_id}/panel", headers=office))["panel"]
    assert sorted(panel) == sorted(own_committee["experts"])  # drawn from this committee's own pool
    ok(client.post(f"/api/v1/declarations/{declaration_id}/panel/attendance", headers=office, json={"present": panel}))
    for expert in panel:
        act(client, auth, own_committee["experts"][expert], declaration_id, "expert_vote", "agree")
    ok(client.post(f"/api/v1/declarations/{declaration_id}/publicities", headers=office, json={"kind": "result"}), 201)
    advance_clock(client, auth, 14)  # the result publicity's timer fires: the report task appears
    act(client, auth, office, declaration_id, "report_results")
    act(client, auth, "title_office", declaration_id, "title_office_filing")
    [issue] = outbox(review, "certificate.issue.v1", declaration_id)
    assert (issue["mode"], issue["committee_name"]) == ("independent_review", data["committee_name"])
    certificate_issued(review, data)
    assert outcome_of(review, declaration_id) == ("completed", "certified")


def test_independent_review_does_not_accept_an_applicant_from_another_organisation(
    review, clients, auth, own_committee
):
    client = clients["review"]
    outsider = headers_for("u-other", "unit", OTHER_UNIT)
    data = independent(review, unit_code=OTHER_UNIT)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id, outsider)
    through_departments(client, auth, declaration_id, ("dept1", "dept2"))
    # The diagram's own-staff check (核对本单位人员) ends it before the committee is asked to accept it.
    assert open_stages(review, declaration_id) == []
    assert [t for t in tasks_of(review, declaration_id) if t.bpmn_id == "committee_acceptance"] == []
    assert outcome_of(review, declaration_id) == ("completed", "not_accepted")
    [done] = outbox(review, "review.completed.v1", declaration_id)
    assert done["outcome"] == "not_accepted"


def test_a_social_review_takes_anyone_the_departments_forwarded(review, clients, auth, own_committee):
    client = clients["review"]
    data, _ = start(review, unit_code=OTHER_UNIT)
    through_unit(client, auth, data["declaration_id"], headers_for("u-other", "unit", OTHER_UNIT))
    through_departments(client, auth, data["declaration_id"])
    assert [s for s, _ in open_stages(review, data["declaration_id"])] == ["committee_acceptance"]


def test_independent_review_refuses_nobody_when_the_directory_does_not_say_whose_committee_it_is(
    review, clients, auth, own_committee
):
    client, office = clients["review"], own_committee["office"]
    register(review, OWN_COMMITTEE, "committee", None, "未登记上级的评委会")
    data = independent(review, unit_code=OTHER_UNIT)
    through_unit(client, auth, data["declaration_id"], headers_for("u-other", "unit", OTHER_UNIT))
    through_departments(client, auth, data["declaration_id"])
    act(client, auth, office, data["declaration_id"], "committee_acceptance")
    assert [s for s, _ in open_stages(review, data["declaration_id"])] == ["record_attendance"]


# -- independent appointment ---------------------------------------------------------------------


def appointment(db: Any, **overrides: Any) -> dict[str, Any]:
    data, _ = start(
        db, mode="independent_appointment", committee_code=None, committee_name=None, panel_size=1, **overrides
    )
    return data


def test_independent_appointment_has_no_committee_and_ends_certified(review, clients, auth):
    client = clients["review"]
    data = appointment(review)
    declaration_id = data["declaration_id"]
    assert instance_of(review, declaration_id).process_id == "independent_appointment"
    assert open_stages(review, declaration_id) == [("unit_appointment", UNIT)]
    act(client, auth, "unit", declaration_id, "unit_appointment")
    through_departments(client, auth, declaration_id)
    assert open_stages(review, declaration_id) == [("title_office_check", TITLE_OFFICE)]
    act(client, auth, "title_office", declaration_id, "title_office_check")
    [issue] = outbox(review, "certificate.issue.v1", declaration_id)
    assert (issue["mode"], issue["committee_name"]) == ("independent_appointment", "天津市示范科技有限公司")
    certificate_issued(review, data)
    assert outcome_of(review, declaration_id) == ("completed", "certified")
    stages = [t.bpmn_id for t in tasks_of(review, declaration_id)]
    assert stages == ["unit_appointment", "department_check", "department_check", "title_office_check"]
    assert not any(s in stages for s in ("committee_acceptance", "expert_vote", "record_attendance"))


def test_independent_appointment_returns_at_each_check_and_finishes(review, clients, auth):
    client = clients["review"]
    data = appointment(review)
    declaration_id = data["declaration_id"]
    checks = [
        ("unit", "unit_appointment", UNIT, ()),
        ("dept1", "department_check", DEPT1, ()),
        ("dept2", "department_check", DEPT2, ("dept1",)),
        ("title_office", "title_office_check", TITLE_OFFICE, ("dept1", "dept2")),
    ]
    expected = []
    for user, stage, organisation, before in checks:
        if stage != "unit_appointment":
            act(client, auth, "unit", declaration_id, "unit_appointment")
        through_departments(client, auth, declaration_id, before)
        act(client, auth, user, declaration_id, stage, "return", f"{stage} 退回")
        expected.append((stage, organisation, f"{stage} 退回"))
        assert returned(review, declaration_id) == expected
        assert (outcome_of(review, declaration_id), open_stages(review, declaration_id)) == (("running", None), [])
        resubmit(review, data)
        assert open_stages(review, declaration_id) == [("unit_appointment", UNIT)]
    act(client, auth, "unit", declaration_id, "unit_appointment")
    through_departments(client, auth, declaration_id)
    act(client, auth, "title_office", declaration_id, "title_office_check")
    certificate_issued(review, data)
    assert outcome_of(review, declaration_id) == ("completed", "certified")
    assert incidents(review, declaration_id) == []


@pytest.mark.parametrize(
    "user,stage,before",
    [
        ("unit", "unit_appointment", ()),
        ("title_office", "title_office_check", ("dept1", "dept2")),
    ],
)
def test_independent_appointment_rejected_is_not_appointed(review, clients, auth, user, stage, before):
    client = clients["review"]
    data = appointment(review)
    declaration_id = data["declaration_id"]
    if stage != "unit_appointment":
        act(client, auth, "unit", declaration_id, "unit_appointment")
    through_departments(client, auth, declaration_id, before)
    act(client, auth, user, declaration_id, stage, "reject", "不符合聘任条件")
    assert outcome_of(review, declaration_id) == ("completed", "not_appointed")
    assert outbox(review, "certificate.issue.v1", declaration_id) == []
    assert [d["outcome"] for d in outbox(review, "review.completed.v1", declaration_id)] == ["not_appointed"]


# -- department chains from the directory ---------------------------------------------------------


def test_a_one_level_chain_makes_exactly_one_department_task(review, clients, auth):
    client = clients["review"]
    register(review, "91120000DIRECT0002", "unit", DEPT2, "市直单位")
    data, _ = start(review, unit_code="91120000DIRECT0002")
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id, headers_for("u-direct", "unit", "91120000DIRECT0002"))
    assert open_stages(review, declaration_id) == [("department_check", DEPT2)]
    act(client, auth, "dept2", declaration_id, "department_check")
    departments = tasks_of(review, declaration_id, bpmn_id="department_check")
    assert [(t.organisation, t.status) for t in departments] == [(DEPT2, "completed")]
    assert [s for s, _ in open_stages(review, declaration_id)] == ["committee_acceptance"]


def test_a_four_level_chain_makes_exactly_four_department_tasks_in_order(review, clients, auth):
    client = clients["review"]
    chain = ("111201010000400011", "111201010000400012", DEPT1, DEPT2)
    register(review, chain[1], "department", DEPT1, "二级")
    register(review, chain[0], "department", chain[1], "一级")
    register(review, "91120101DEEP400011", "unit", chain[0], "四级单位")
    data, _ = start(review, unit_code="91120101DEEP400011")
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id, headers_for("u-deep", "unit", "91120101DEEP400011"))
    for level, code in enumerate(chain):
        assert open_stages(review, declaration_id) == [("department_check", code)]
        act(client, auth, headers_for(f"d{level}", "department", code), declaration_id, "department_check")
    departments = tasks_of(review, declaration_id, bpmn_id="department_check")
    assert [(t.organisation, t.status) for t in departments] == [(c, "completed") for c in chain]
    assert [s for s, _ in open_stages(review, declaration_id)] == ["committee_acceptance"]
    changes = [(s["stage"], s["organisation"]) for s in outbox(review, "review.stage.changed.v1", declaration_id)]
    assert [o for s, o in changes if s == "department_check"] == list(chain)
