"""A running instance's saved state holds what is live, not everything it did (engine/history.py):
a social review returned ten times stores about what it stored after one return, and still shows
every element it passed, keeps its audit log, migrates to another version and finishes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.review_flow_helpers import (
    act,
    finish_social,
    incidents,
    instance_of,
    ok,
    open_stages,
    resubmit,
    review_db,
    start,
    through_departments,
    through_unit,
)
from tests.integration.test_review_flow_versions import version_two


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def returned(client: Any, auth: Any, db: Any, data: dict[str, Any], times: int) -> None:
    """Returned at the unit check and resubmitted ``times`` times: back at the unit check."""
    for count in range(times):
        act(client, auth, "unit", data["declaration_id"], "unit_check", "return", f"请补充 ({count})")
        resubmit(db, data)
    assert open_stages(db, data["declaration_id"]) == [("unit_check", data["unit_code"])]


def state_size(db: Any, declaration_id: str) -> int:
    return len(instance_of(db, declaration_id).state.encode("utf-8"))


def test_the_state_after_ten_returns_is_about_the_state_after_one(review, clients, auth):
    client = clients["review"]
    once, _ = start(review)
    returned(client, auth, review, once, 1)
    often, _ = start(review)
    returned(client, auth, review, often, 10)
    after_one, after_ten = state_size(review, once["declaration_id"]), state_size(review, often["declaration_id"])
    # Unpruned, each return added about 11 KiB to some 150: ten returns made 1.7 times the size.
    assert after_ten <= 1.15 * after_one, (after_one, after_ten)


def test_a_pruned_instance_shows_what_it_passed_keeps_its_audit_and_finishes(review, clients, auth):
    from services.review.engine import history, runtime

    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    returned(client, auth, review, data, 3)
    workflow = runtime.SERIALIZER.deserialize_json(instance_of(review, declaration_id).state)
    assert history.pruned(workflow)["social_review"] >= {"declaration_submitted", "unit_check", "return_for_revision"}
    # The latest run of the called process is still there, finished, reduced to its root; the earlier
    # two have left the state (their steps are in the audit log).
    runs = [(sub.spec.name, sub.is_completed(), len(sub.tasks)) for sub in workflow.subprocesses.values()]
    assert runs == [("return_and_resubmit", True, 1)]

    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    assert {"declaration_submitted", "decide_service_levels", "unit_check", "return_for_revision"} <= set(
        view["completed"]
    )
    assert "unit_check" in view["active"]
    [called] = [c for c in view["called"] if c["process_id"] == "return_and_resubmit"]
    assert {"return_to_applicant", "resubmitted", "take_resubmission", "resubmission_taken"} <= set(called["completed"])
    assert called["active"] == []
    audit = ok(client.get(f"/api/v1/processes/{declaration_id}/audit", headers=auth("title_office")))
    assert audit["intact"]
    returns = [e for e in audit["entries"] if e["decision"] == "return"]
    assert [e["reason"] for e in returns] == ["请补充 (0)", "请补充 (1)", "请补充 (2)"]
    # Each step's entry names what it completed, in the called process too, pruning or not.
    resubmissions = [e for e in audit["entries"] if e["source"] == "message"]
    assert len(resubmissions) == 3 and all(
        {"resubmitted", "take_resubmission"} <= set(e["completed"]) for e in resubmissions
    )

    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, data)
    assert incidents(review, declaration_id) == []
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    assert {"unit_check", "return_for_revision", "committee_acceptance", "certified"} <= set(view["completed"])


def test_a_pruned_instance_migrates_to_another_version_and_finishes(review, clients, auth):
    from services.review.engine import definitions, versions

    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    returned(client, auth, review, data, 2)
    with review.uow() as uow:
        v2, _ = definitions.deploy(uow, "social_review.bpmn", version_two())
        uow.commit()
    with review.uow() as uow:
        versions.migrate(uow, declaration_id, v2.id, operator="designer1")
        uow.commit()
    assert instance_of(review, declaration_id).definition_id == v2.id
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance", "return", "请补充")
    resubmit(review, data)
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, data)
    assert incidents(review, declaration_id) == []
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    assert view["definition_id"] == v2.id and "Committee intake" in view["bpmn"]
    assert {"unit_check", "return_for_revision", "committee_acceptance", "certified"} <= set(view["completed"])
