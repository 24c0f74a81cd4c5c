"""The catalogue, committee-managed activities, independent review and independent appointment."""

from __future__ import annotations

import shutil

from shared.config import bpmn_dir
from tests.integration.test_declaration import COMMITTEE, ELIGIBLE, UNIT, assert_problem, outbox
from tests.integration.test_declaration_lifecycle import SNAPSHOT, drafted

NEW_ACTIVITY = {
    "name": "2026年度工程系列自主评审",
    "mode": "social_review",
    "committee_name": "天津市工程技术系列高级职称评审委员会",
    "series": "工程",
    "levels": ["正高级"],
    "specialties": ["软件工程"],
    "qualification_names": ["正高级工程师"],
    "categories": ["normal"],
    "opens_on": "2026-01-01",
    "initial_deadline": "2099-06-30",
    "modification_deadline": "2099-07-31",
    "consultation_phone": "022-1",
    "defence_levels": ["正高级"],
    "item_types": [{"code": "project", "name": "项目", "fields": [{"name": "title", "required": True}], "min": 1}],
}


def test_the_catalogue_holds_the_series_ladders_and_categories(clients, auth, demo):
    body = clients["declaration"].get("/api/v1/catalogue", headers=auth("applicant")).get_json()
    assert [c["code"] for c in body["categories"]] == [
        "normal",
        "education_exception",
        "seniority_exception",
        "lateral_transfer",
        "civil_servant_transfer",
        "enterprise_direct",
    ]
    assert {m["name"] for m in body["modes"]} == {"社会化评审", "自主评审", "自主聘任"}
    series = {s["name"]: s for s in body["series"]}
    assert {"工程", "卫生", "中小学教师", "高等学校教师", "自然科学研究", "经济", "会计"} <= set(series)
    assert [q for lv in series["工程"]["levels"] for q in lv["qualification_names"]] == [
        "技术员",
        "助理工程师",
        "工程师",
        "高级工程师",
        "正高级工程师",
    ]


def test_the_title_office_manages_the_catalogue(clients, auth, demo):
    audit = {
        "code": "audit",
        "specialties": ["审计"],
        "appointable": [],
        "levels": [
            {"level": "助理级", "qualification_names": ["助理审计师"]},
            {"level": "中级", "qualification_names": ["审计师"]},
        ],
    }
    assert_problem(
        clients["declaration"].put("/api/v1/catalogue/series/审计", headers=auth("committee"), json=audit), 403
    )
    response = clients["declaration"].put("/api/v1/catalogue/series/审计", headers=auth("title_office"), json=audit)
    assert response.status_code == 200, response.get_json()
    wrong = {**audit, "levels": list(reversed(audit["levels"]))}
    assert_problem(
        clients["declaration"].put("/api/v1/catalogue/series/审计", headers=auth("title_office"), json=wrong),
        422,
        "levels",
        "ladder_order",
    )


def test_a_committee_sets_up_and_changes_only_its_own_activities(clients, auth, demo):
    response = clients["declaration"].post("/api/v1/activities", headers=auth("committee"), json=NEW_ACTIVITY)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["committee_code"] == COMMITTEE and created["service_levels"]["committee_acceptance"] == 5
    assert created["initial_deadline"] == "2099-06-30T23:59:59+08:00"
    assert_problem(clients["declaration"].post("/api/v1/activities", headers=auth("applicant"), json=NEW_ACTIVITY), 403)
    assert_problem(
        clients["declaration"].post(
            "/api/v1/activities", headers=auth("committee"), json={**NEW_ACTIVITY, "qualification_names": ["工程师"]}
        ),
        422,
        "qualification_names",
        "in_catalogue",
    )
    assert_problem(
        clients["declaration"].post(
            "/api/v1/activities",
            headers=auth("committee"),
            json={**NEW_ACTIVITY, "vote_numerator": 1, "vote_denominator": 2},
        ),
        422,
        "vote_numerator",
        "not_looser",
    )
    changed = clients["declaration"].put(
        f"/api/v1/activities/{created['id']}",
        headers=auth("committee"),
        json={**NEW_ACTIVITY, "consultation_phone": "022-2"},
    )
    assert changed.status_code == 200 and changed.get_json()["consultation_phone"] == "022-2"
    mine = clients["declaration"].get("/api/v1/activities/mine", headers=auth("committee")).get_json()
    assert created["id"] in [a["id"] for a in mine]
    # another committee office (a token of another organisation) may not change it
    from tests.integration.test_declaration_catalogue_tokens import other_committee_headers

    assert_problem(
        clients["declaration"].put(
            f"/api/v1/activities/{created['id']}", headers=other_committee_headers(), json=NEW_ACTIVITY
        ),
        403,
        "activity_id",
        "own_activity",
    )


def test_an_activity_s_rule_settings_are_checked_against_the_decision_tables(
    clients, auth, demo, tmp_path, monkeypatch
):
    def create(**settings):
        return clients["declaration"].post(
            "/api/v1/activities", headers=auth("committee"), json={**NEW_ACTIVITY, **settings}
        )

    # Left out: the tables' values as of now (bpmn/publicity_days.dmn, pass_threshold.dmn, panel_size.dmn).
    created = create().get_json()
    assert (
        created["publicity_working_days"],
        created["vote_numerator"],
        created["vote_denominator"],
        created["panel_size"],
    ) == (5, 2, 3, 3)
    stricter = create(publicity_working_days=7, vote_numerator=3, vote_denominator=4, panel_size=5)
    assert stricter.status_code == 201, stricter.get_json()
    body = assert_problem(create(publicity_working_days=4), 422, "publicity_working_days", "not_looser")
    assert "不得低于5" in body["errors"][0]["message"] and "bpmn/publicity_days.dmn" in body["errors"][0]["message"]
    body = assert_problem(create(vote_numerator=3, vote_denominator=5), 422, "vote_numerator", "not_looser")
    assert "2/3" in body["errors"][0]["message"]
    assert_problem(create(vote_numerator=4, vote_denominator=3), 422, "vote_numerator", "at_most_one")
    assert_problem(create(vote_numerator=3), 422, "vote_numerator", "both")
    # A designer lengthens the publicity period in bpmn/: the next activity is held to it.
    folder = tmp_path / "bpmn"
    shutil.copytree(bpmn_dir(), folder)
    table = folder / "publicity_days.dmn"
    table.write_text(
        table.read_text("utf-8")
        .replace("&gt;= 5", "&gt;= 10")
        .replace("&lt; 5", "&lt; 10")
        .replace("<text>5</text>", "<text>10</text>"),
        "utf-8",
    )
    monkeypatch.setenv("TITLES_BPMN_DIR", str(folder))
    body = assert_problem(create(publicity_working_days=7), 422, "publicity_working_days", "not_looser")
    assert "不得低于10" in body["errors"][0]["message"]
    assert create().get_json()["publicity_working_days"] == 10
    # Service levels: the plan's, the activity's own for the stages it gives, and only stages the table keeps.
    levels = create(service_levels={"meeting": 15}).get_json()["service_levels"]
    assert levels == {"committee_acceptance": 5, "meeting": 15, "result_publicity": 5, "report": 5, "certificate": 10}
    body = assert_problem(create(service_levels={"unit_check": 2}), 422, "service_levels", "known_stage")
    assert "committee_acceptance" in body["errors"][0]["message"]


def test_independent_review_is_for_the_organisations_own_staff(clients, auth, demo):
    from tests.integration.test_declaration_directory import register_committee

    register_committee(demo, COMMITTEE, owner="91120000OTHER00001")  # the directory says whose it is
    independent = {**NEW_ACTIVITY, "mode": "independent_review"}
    created = clients["declaration"].post("/api/v1/activities", headers=auth("committee"), json=independent)
    assert created.status_code == 201, created.get_json()
    activity_id = created.get_json()["id"]
    assert created.get_json()["owner_organisation"] == "91120000OTHER00001"
    listed = (
        clients["declaration"]
        .get("/api/v1/activities", headers=auth("applicant"), query_string={"mode": "independent_review"})
        .get_json()
    )
    assert listed == []
    assert_problem(clients["declaration"].get(f"/api/v1/activities/{activity_id}", headers=auth("unit")), 404)
    assert clients["declaration"].get(f"/api/v1/activities/{activity_id}", headers=auth("committee")).status_code == 200


def test_independent_appointment_only_where_the_catalogue_allows(clients, auth, demo):
    allowed = {
        "mode": "independent_appointment",
        "series": "工程",
        "level": "中级",
        "specialty": "软件工程",
        "qualification_name": "工程师",
        "category": "normal",
    }
    response = clients["declaration"].post("/api/v1/declarations", headers=auth("applicant"), json=allowed)
    assert response.status_code == 202, response.get_json()
    declaration_id = response.get_json()["id"]
    assert response.get_json()["activity_id"] is None
    refused = {**allowed, "level": "副高级", "qualification_name": "高级工程师"}
    assert_problem(
        clients["declaration"].post("/api/v1/declarations", headers=auth("applicant"), json=refused),
        422,
        "level",
        "appointable",
    )
    drafted(demo, declaration_id)
    clients["declaration"].patch(
        f"/api/v1/declarations/{declaration_id}",
        headers=auth("applicant"),
        json={
            "snapshot": {
                "educations": [{"level": "doctorate"}],
                "annual_assessments": ELIGIBLE["annual_assessments"],
                "continuing_education": ELIGIBLE["continuing_education"],
            }
        },
    )
    submitted = clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=auth("applicant"))
    assert submitted.status_code == 200, submitted.get_json()
    [message] = outbox(demo["declaration"], "declaration.submitted.v1")
    assert message["data"]["committee_code"] is None and message["data"]["mode"] == "independent_appointment"
    assert message["data"]["unit_code"] == UNIT and SNAPSHOT["unit_code"] == UNIT
