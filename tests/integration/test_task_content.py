"""A reviewer's task shows the declaration as it was submitted: profile snapshot and content."""

from __future__ import annotations

from tests.conftest import wait_for
from tests.integration.test_declaration import PROJECT
from tests.integration.test_profile_declaration import complete_content, drafted, fill_profile, submit


def test_the_unit_reads_the_submitted_declaration_in_its_task(clients, auth, demo, workers):
    applicant = auth("applicant")
    fill_profile(
        clients,
        applicant,
        {"level": "master", "degree": "master", "start_date": "2010-09-01", "end_date": "2013-07-01"},
        "2015-07-01",
    )
    declaration = drafted(clients, applicant)
    complete_content(clients, applicant, declaration["id"])
    assert submit(clients, applicant, declaration["id"]).status_code == 200

    unit = auth("unit")

    def unit_task():
        page = (
            clients["review"]
            .get("/api/v1/tasks", headers=unit, query_string={"declaration_id": declaration["id"]})
            .get_json()
        )
        return page["items"][0] if page.get("items") else None

    task = wait_for("the unit's task", unit_task)
    context = clients["review"].get(f"/api/v1/tasks/{task['id']}/context", headers=unit)
    assert context.status_code == 200, context.get_json()
    submitted = context.get_json()["declaration"]["content"]
    assert submitted["declaration_id"] == declaration["id"]
    content = submitted["content"]
    assert content["snapshot"]["name"] == "张伟" and content["snapshot"]["unit_code"] == "91120101MA05K1XT13"
    assert [(i["item_type"], i["fields"], i["representative"]) for i in content["items"]] == [
        (PROJECT["item_type"], PROJECT["fields"], True)
    ]
    assert content["materials"]["work_summary"]["fields"]["summary"] == "十年软件研发"
    assert content["eligibility"]["eligible"] is True

    # Editing the declaration later (after a return, say) does not rewrite what this task shows.
    other_unit_view = clients["review"].get(f"/api/v1/tasks/{task['id']}/context", headers=auth("dept1"))
    assert other_unit_view.status_code == 403
