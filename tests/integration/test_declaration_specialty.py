"""The current work specialty against the declared one (manual §三(一)3, bpmn/specialty_relation.dmn): the
same name is direct, the table's groups are related, anything else is unrelated — a warning the unit sees
in the eligibility result and its task, or, where the activity says so, a refusal at submission (the
table alone: tests/unit/test_specialty_relation.py)."""

from __future__ import annotations

import shutil

from shared import decisions
from shared.config import bpmn_dir
from tests.conftest import wait_for
from tests.integration.test_declaration import ACTIVITY, ELIGIBLE, assert_problem, declare, fill
from tests.integration.test_declaration_lifecycle import drafted, submit
from tests.unit.test_eligibility_rules import add_row_before


def draft_with(clients, auth, demo, current: str) -> str:
    """A complete draft of the demo activity (软件工程) whose copy of the profile gives ``current``."""
    declaration_id = declare(clients, auth("applicant")).get_json()["id"]
    drafted(demo, declaration_id)
    fill(clients, auth("applicant"), declaration_id)
    response = clients["declaration"].patch(
        f"/api/v1/declarations/{declaration_id}",
        headers=auth("applicant"),
        json={"snapshot": {"qualification": {**ELIGIBLE["qualification"], "specialty": current}}},
    )
    assert response.status_code == 200, response.get_json()
    return declaration_id


def eligibility(clients, auth, declaration_id: str) -> dict:
    response = clients["declaration"].get(
        f"/api/v1/declarations/{declaration_id}/eligibility", headers=auth("applicant")
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def set_enforcement(clients, auth, value: str):
    """The committee office changes the demo activity's setting, everything else as it is."""
    from services.declaration.api import ActivityIn

    activity = clients["declaration"].get(f"/api/v1/activities/{ACTIVITY}", headers=auth("committee")).get_json()
    body = {key: value for key, value in activity.items() if key in ActivityIn().fields and value is not None}
    return clients["declaration"].put(
        f"/api/v1/activities/{ACTIVITY}", headers=auth("committee"), json={**body, "specialty_relation": value}
    )


def test_a_related_current_specialty_gives_no_warning(clients, auth, demo):
    declaration_id = draft_with(clients, auth, demo, "计算机科学与技术")
    result = eligibility(clients, auth, declaration_id)
    assert result["eligible"] is True and result["warnings"] == []
    assert (result["specialty"]["related"], result["specialty"]["passed"]) == ("related", True)
    assert result["specialty"]["enforcement"] == "warn"


def test_an_unrelated_current_specialty_is_a_warning_the_unit_sees(clients, auth, demo, workers):
    declaration_id = draft_with(clients, auth, demo, "临床医学")
    result = eligibility(clients, auth, declaration_id)
    assert result["eligible"] is True  # only a warning: the activity does not refuse it
    [warning] = result["warnings"]
    assert "临床医学" in warning and "软件工程" in warning and "专业不相关" in warning
    assert (result["specialty"]["related"], result["specialty"]["passed"]) == ("unrelated", False)
    response = submit(clients, auth("applicant"), declaration_id)
    assert response.status_code == 200, response.get_json()

    unit = auth("unit")

    def unit_task():
        page = (
            clients["review"]
            .get("/api/v1/tasks", headers=unit, query_string={"declaration_id": declaration_id})
            .get_json()
        )
        return page["items"][0] if page.get("items") else None

    task = wait_for("the unit's task", unit_task)
    context = clients["review"].get(f"/api/v1/tasks/{task['id']}/context", headers=unit)
    assert context.status_code == 200, context.get_json()
    content = context.get_json()["declaration"]["content"]["content"]
    assert content["warnings"] == [warning]
    assert content["eligibility"]["warnings"] == [warning]
    assert content["eligibility"]["specialty"]["related"] == "unrelated"


def test_an_activity_that_refuses_an_unrelated_specialty_refuses_the_submission(clients, auth, demo):
    assert_problem(set_enforcement(clients, auth, "sometimes"), 422, "specialty_relation")
    response = set_enforcement(clients, auth, "refuse")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["specialty_relation"] == "refuse"
    declaration_id = draft_with(clients, auth, demo, "临床医学")
    result = eligibility(clients, auth, declaration_id)
    assert result["eligible"] is False and result["warnings"] == []
    assert result["specialty"]["enforcement"] == "refuse" and any("专业不相关" in f for f in result["failures"])
    body = assert_problem(submit(clients, auth("applicant"), declaration_id), 422)
    [error] = [e for e in body["errors"] if e["rule"] == "specialty_related"]
    assert error["field"] == "qualification.specialty" and "专业不相关" in error["message"]
    assert "临床医学" in error["message"] and "bpmn/specialty_relation.dmn" in error["message"]
    # An exception category is held to it too.
    clients["declaration"].patch(
        f"/api/v1/declarations/{declaration_id}",
        headers=auth("applicant"),
        json={
            "category": "seniority_exception",
            "exception_claims": [{"code": "key_project", "proof": [{"id": "letter", "name": "验收证书.pdf"}]}],
        },
    )
    assert_problem(
        submit(clients, auth("applicant"), declaration_id), 422, "qualification.specialty", "specialty_related"
    )
    # A related specialty passes.
    clients["declaration"].patch(
        f"/api/v1/declarations/{declaration_id}",
        headers=auth("applicant"),
        json={"snapshot": {"qualification": {**ELIGIBLE["qualification"], "specialty": "计算机应用技术"}}},
    )
    response = submit(clients, auth("applicant"), declaration_id)
    assert response.status_code == 200, response.get_json()


def test_the_demo_activity_warns_by_default(clients, auth, demo):
    activity = clients["declaration"].get(f"/api/v1/activities/{ACTIVITY}", headers=auth("applicant")).get_json()
    assert activity["specialty_relation"] == "warn"


def test_editing_the_table_changes_the_answer_without_code(clients, auth, demo, tmp_path, monkeypatch):
    declaration_id = draft_with(clients, auth, demo, "临床医学")
    assert eligibility(clients, auth, declaration_id)["specialty"]["related"] == "unrelated"
    folder = tmp_path / "bpmn"
    shutil.copytree(bpmn_dir(), folder)
    monkeypatch.setenv("TITLES_BPMN_DIR", str(folder))
    # The title office adds a row before the catch-all: medicine counts for software engineering (a test's whim).
    add_row_before(
        folder / "specialty_relation.dmn",
        "rule_unrelated",
        "rule_test_medical_software",
        ['"工程"', '"软件工程"', '? in ("临床医学", "医学信息学")'],
        ['"related"', '"医学信息化 (medical informatics)"'],
    )
    assert decisions.check("specialty_relation.dmn", (folder / "specialty_relation.dmn").read_bytes()) == []
    result = eligibility(clients, auth, declaration_id)
    assert result["specialty"]["related"] == "related" and result["warnings"] == []
    assert result["specialty"]["reason"] == "医学信息化 (medical informatics)"
