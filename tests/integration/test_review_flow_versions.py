"""Diagram versions: a running instance stays on the version it started with after a newer
version of its process is deployed; new declarations start on the newer one."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.review_flow_helpers import (
    act,
    finish_social,
    instance_of,
    outcome_of,
    review_db,
    start,
    tasks_of,
    through_departments,
    through_unit,
)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def version_two() -> bytes:
    """social_review.bpmn as a designer might change it: renamed tasks, the same shape."""
    from services.review.engine import definitions

    bpmn = (definitions.bpmn_dir() / "social_review.bpmn").read_text("utf-8")
    for old, new in (
        ('name="Check the declaration (单位审核)"', 'name="Unit check, 2027 rules (单位审核)"'),
        ('name="Accept the declaration (评委会接收)"', 'name="Committee intake (评委会受理)"'),
    ):
        assert old in bpmn
        bpmn = bpmn.replace(old, new)
    return bpmn.encode("utf-8")


def names(db: Any, declaration_id: str) -> dict[str, str]:
    return {t.bpmn_id: t.name for t in tasks_of(db, declaration_id)}


def test_an_instance_on_version_one_completes_on_it_after_version_two_is_deployed(review, clients, auth):
    from services.review.engine import definitions

    client = clients["review"]
    older, _ = start(review)
    v1 = instance_of(review, older["declaration_id"]).definition_id
    through_unit(client, auth, older["declaration_id"])

    with review.uow() as uow:
        v2, new = definitions.deploy(uow, "social_review.bpmn", version_two())
        uow.commit()
    assert new and v2.id != v1 and v2.process_id == "social_review"

    newer, _ = start(review)
    assert instance_of(review, newer["declaration_id"]).definition_id == v2.id
    assert names(review, newer["declaration_id"])["unit_check"] == "Unit check, 2027 rules (单位审核)"

    declaration_id = older["declaration_id"]
    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, older)
    assert instance_of(review, declaration_id).definition_id == v1
    # Tasks created after version 2 arrived still carry version 1's names.
    assert names(review, declaration_id)["committee_acceptance"] == "Accept the declaration (评委会接收)"
    assert names(review, declaration_id)["unit_check"] == "Check the declaration (单位审核)"

    view = client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")).get_json()
    assert (view["definition_id"], "certified" in view["completed"]) == (v1, True)
    assert "Committee intake" not in view["bpmn"] and "Accept the declaration (评委会接收)" in view["bpmn"]

    through_unit(client, auth, newer["declaration_id"])
    through_departments(client, auth, newer["declaration_id"])
    assert names(review, newer["declaration_id"])["committee_acceptance"] == "Committee intake (评委会受理)"


# -- the called return-and-resubmit process ---------------------------------------------------


def called_version_two() -> bytes:
    """return_and_resubmit.bpmn changed: a renamed wait and a script that leaves a reason behind."""
    from services.review.engine import definitions

    bpmn = (definitions.bpmn_dir() / "return_and_resubmit.bpmn").read_text("utf-8")
    for old, new in (
        ('name="Applicant amends or withdraws (等待修改或撤回)"', 'name="Applicant amends, 2027 rules (等待修改)"'),
        ("reason = None", 'reason = "amended under the 2027 rules"'),
    ):
        assert bpmn.count(old) == 1, old
        bpmn = bpmn.replace(old, new)
    return bpmn.encode("utf-8")


def test_an_instance_mid_return_completes_on_its_called_process_after_a_changed_one_is_deployed(review, clients, auth):
    from services.review.engine import definitions, versions
    from tests.integration.review_flow_helpers import process_data, resubmit

    client = clients["review"]
    older, _ = start(review)
    declaration_id = older["declaration_id"]
    v1 = instance_of(review, declaration_id).definition_id
    act(client, auth, "unit", declaration_id, "unit_check", "return", "请补充")  # waits in the called process

    with review.uow() as uow:
        library = definitions.lookup(
            files={"return_and_resubmit.bpmn": called_version_two()}, folder=definitions.bpmn_dir(), uow=uow
        )
        v2, new = definitions.deploy(
            uow, "social_review.bpmn", (definitions.bpmn_dir() / "social_review.bpmn").read_bytes(), library
        )
        uow.commit()
        # Only the called process changed: the diff says where, by element id.
        change = versions.diff_versions(uow, uow.session.get(type(v2), v1), v2)
    assert new and v2.id != v1
    assert change.added == [] and change.removed == []
    assert sorted((c["process"], c["id"], tuple(c["what"])) for c in change.changed) == [
        ("return_and_resubmit", "await_applicant", ("name",)),
        ("return_and_resubmit", "take_resubmission", ("content",)),
    ]
    # Moving the waiting instance would be allowed by the rules (same elements), but it does not move by itself.
    newer, _ = start(review)
    assert instance_of(review, newer["declaration_id"]).definition_id == v2.id

    resubmit(review, older)
    assert instance_of(review, declaration_id).definition_id == v1
    back = process_data(review, declaration_id, "unit_check")
    assert (back["revision_outcome"], back["reason"]) == ("resubmitted", None)  # version 1's called process ran
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, older)
    assert instance_of(review, declaration_id).definition_id == v1

    # The newer declaration runs version 2's called process.
    act(client, auth, "unit", newer["declaration_id"], "unit_check", "return", "请补充")
    resubmit(review, newer)
    assert process_data(review, newer["declaration_id"], "unit_check")["reason"] == "amended under the 2027 rules"


def test_an_instance_saved_before_the_call_activity_still_loads_resubmits_and_completes(
    review, clients, auth, monkeypatch
):
    """Instances started on the diagram that drew the loop inline keep running on it: their saved
    state carries the specs they run."""
    from pathlib import Path

    from services.review import service
    from services.review.engine import definitions, versions
    from shared.errors import Conflict
    from tests.integration.review_flow_helpers import resubmit, withdraw

    # Such an instance was started with the yearly rules in its data, as the review then seeded them
    # (the diagrams decide them from bpmn/*.dmn since).
    decided = {
        "quorum": [2, 3],
        "pass_threshold": [2, 3],
        "defence_levels": ["正高级"],
        "publicity_working_days": 5,
        "service_levels": {
            "committee_acceptance": 5,
            "meeting": 20,
            "result_publicity": 5,
            "report": 5,
            "certificate": 10,
        },
    }
    seeded = service.activity_settings
    monkeypatch.setattr(service, "activity_settings", lambda data: {**seeded(data), **decided})

    inline = (Path(__file__).parent / "data" / "social_review_inline_loop.bpmn").read_bytes()
    assert b"<bpmn:callActivity" not in inline and b'id="await_applicant"' in inline
    with review.uow() as uow:
        old, new = definitions.deploy(uow, "social_review.bpmn", inline)
        uow.commit()
    assert new and old.calls is None
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    assert instance_of(review, declaration_id).definition_id == old.id
    act(client, auth, "unit", declaration_id, "unit_check", "return", "请补充")  # waits inline, on await_applicant

    with review.uow() as uow:  # the demo deployed the current diagrams already
        current, _ = definitions.deploy(
            uow, "social_review.bpmn", (definitions.bpmn_dir() / "social_review.bpmn").read_bytes()
        )
        uow.commit()
    assert current.calls and current.id != old.id
    with review.uow() as uow:  # moving it would lose the running wait: refused
        with pytest.raises(Conflict) as refused:
            versions.migrate(uow, declaration_id, current.id, operator="test")
    assert "running task on element 'await_applicant' would be lost" in str(refused.value.errors[0].message)

    resubmit(review, data)
    assert instance_of(review, declaration_id).definition_id == old.id
    through_unit(client, auth, declaration_id)
    act(client, auth, "dept1", declaration_id, "department_check", "return", "再补充")
    withdraw(review, declaration_id)
    assert outcome_of(review, declaration_id) == ("completed", "withdrawn")
