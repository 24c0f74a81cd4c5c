"""The normal category's decision tables over HTTP: the eligibility check and the submission name the
failing rule and year; the exception categories stay open (the rules alone: tests/unit/test_eligibility_rules.py)."""

from __future__ import annotations

from services.declaration import clock
from tests.integration.test_declaration import ELIGIBLE, assert_problem, declare, fill
from tests.integration.test_declaration_lifecycle import drafted, submit
from tests.unit.test_eligibility_rules import by_rule

# -- over HTTP: the check, the submission, and the exception categories ------------------------------


def test_the_check_and_the_submission_name_the_failing_rule_and_year(clients, auth, demo):
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    drafted(demo, declaration_id)
    fill(clients, auth("applicant"), declaration_id)
    url = f"/api/v1/declarations/{declaration_id}"
    last = clock.today().year - 1
    assessments = [
        a if a["year"] != last else {**a, "result": "basically_competent"} for a in ELIGIBLE["annual_assessments"]
    ]
    hours = [e if e["year"] != last - 1 else {"year": e["year"], "hours": 96} for e in ELIGIBLE["continuing_education"]]
    assert (
        clients["declaration"]
        .patch(
            url,
            headers=auth("applicant"),
            json={"snapshot": {"annual_assessments": assessments, "continuing_education": hours}},
        )
        .status_code
        == 200
    )
    result = clients["declaration"].get(url + "/eligibility", headers=auth("applicant")).get_json()
    assert result["eligible"] is False and result["rule"] == "工程/高级工程师"
    checks = by_rule(result)
    assert checks["education_years"]["passed"] is True
    assert checks["annual_assessment"]["failures"] == [
        f"annual assessment (年度考核) {last}: 基本称职; needs 优秀/称职 (称职及以上)"
    ]
    assert str(last - 1) in checks["continuing_education"]["failures"][0]
    body = assert_problem(submit(clients, auth("applicant"), declaration_id), 422)
    assert [(e["field"], e["rule"]) for e in body["errors"]] == [
        ("category", "annual_assessment"),
        ("category", "continuing_education"),
    ]
    assert str(last) in body["errors"][0]["message"] and "专业科目学时" in body["errors"][1]["message"]
    # An exception category is not held to the normal category's rule table.
    assert (
        clients["declaration"]
        .patch(
            url,
            headers=auth("applicant"),
            json={
                "category": "seniority_exception",
                "exception_claims": [{"code": "key_project", "proof": [{"id": "letter", "name": "验收证书.pdf"}]}],
            },
        )
        .status_code
        == 200
    )
    response = submit(clients, auth("applicant"), declaration_id)
    assert response.status_code == 200, response.get_json()
