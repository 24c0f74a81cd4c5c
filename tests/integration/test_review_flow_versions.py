"""Diagram versions: a running instance stays on the version it started with after a newer
version of its process is deployed; new declarations start on the newer one."""
from __future__ import annotations

from typing import Any

import pytest

from tests.integration.review_flow_helpers import (act, after_vote, attend, certificate_issued, instance_of,
                                                   outcome_of, panel_of, review_db, start, tasks_of,
                                                   through_departments, through_unit, vote_all)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def version_two() -> bytes:
    """social_review.bpmn as a designer might change it: renamed tasks, the same shape."""
    from services.review.engine import definitions

    bpmn = (definitions.bpmn_dir() / "social_review.bpmn").read_text("utf-8")
    for old, new in (('name="Unit check (单位审核)"', 'name="Unit check, 2027 rules (单位审核)"'),
                     ('name="Committee acceptance (评委会接收)"', 'name="Committee intake (评委会受理)"')):
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
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    panel = panel_of(client, auth, declaration_id)
    attend(client, auth, declaration_id, panel)
    vote_all(client, auth, declaration_id, {e: "agree" for e in panel})
    after_vote(client, auth, declaration_id)
    certificate_issued(review, older)
    assert outcome_of(review, declaration_id) == ("completed", "certified")
    assert instance_of(review, declaration_id).definition_id == v1
    # Tasks created after version 2 arrived still carry version 1's names.
    assert names(review, declaration_id)["committee_acceptance"] == "Committee acceptance (评委会接收)"
    assert names(review, declaration_id)["unit_check"] == "Unit check (单位审核)"

    view = client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")).get_json()
    assert (view["definition_id"], "certified" in view["completed"]) == (v1, True)
    assert "Committee intake" not in view["bpmn"] and "Committee acceptance (评委会接收)" in view["bpmn"]

    through_unit(client, auth, newer["declaration_id"])
    through_departments(client, auth, newer["declaration_id"])
    assert names(review, newer["declaration_id"])["committee_acceptance"] == "Committee intake (评委会受理)"
