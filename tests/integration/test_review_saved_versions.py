"""Instances keep running on the diagram version they were saved with: what a version of old did not
say must not weaken a rule the product keeps whatever the diagram says."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.integration.review_flow_helpers import outbox, review_db, start, tasks_of, through_the_vote

VOTE_ACTION = '<spiffworkflow:property name="action" value="vote" />'


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def test_a_vote_on_a_version_saved_before_votes_carried_their_action_stays_secret(review, clients, auth, tmp_path):
    from services.review.engine import definitions
    from services.review.models import Vote

    copy = tmp_path / "bpmn"
    shutil.copytree(definitions.bpmn_dir(), copy)
    stripped = 0
    for diagram in copy.glob("*.bpmn"):
        text = diagram.read_text("utf-8")
        if VOTE_ACTION in text:
            diagram.write_text(text.replace(VOTE_ACTION, ""), "utf-8")
            stripped += 1
    assert stripped >= 1
    with review.uow() as uow:
        definitions.deploy_directory(uow, copy)
        uow.commit()

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    panel = through_the_vote(clients["review"], auth, declaration_id, "agree")
    votes = [t for t in tasks_of(review, declaration_id) if t.role == "expert"]
    assert votes and {t.action for t in votes} == {"vote"}
    with review.uow(readonly=True) as uow:
        assert sorted(v.expert for v in uow.session.query(Vote).filter_by(declaration_id=declaration_id)) == sorted(
            panel
        )
    recorded = [m for m in outbox(review, "review.decision.recorded.v1", declaration_id) if m["actor"] in panel]
    assert len(recorded) == len(panel)
    assert {(m["decision"], m["reason"]) for m in recorded} == {("voted", None)}
