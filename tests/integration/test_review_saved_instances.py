"""Instances saved by an earlier version of the engine load and finish: a social review returned
twice and back at the unit check, one waiting for the experts' votes inside the called expert
review, one waiting at the unit publicity's timer. Each file under data/saved/ holds the review rows
the code of the time stored (written by ``test_write_saved_instances``, run by hand with
``TITLES_WRITE_SAVED=1`` on the commit before the change; never rewrite them for a later one)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.integration import saved_instances
from tests.integration.review_flow_helpers import (
    act,
    advance_clock,
    after_vote,
    attend,
    certificate_issued,
    finish_social,
    incidents,
    instance_of,
    ok,
    open_stages,
    outcome_of,
    panel_of,
    publicise,
    resubmit,
    review_db,
    start,
    through_departments,
    through_unit,
    vote_all,
)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


@pytest.mark.skipif(not os.environ.get("TITLES_WRITE_SAVED"), reason="writes the saved instances (by hand)")
def test_write_saved_instances(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    for reason in ("附件不清晰", "缺少证明"):
        act(client, auth, "unit", declaration_id, "unit_check", "return", reason)
        resubmit(review, data)
    assert open_stages(review, declaration_id) == [("unit_check", data["unit_code"])]
    saved_instances.write(review, "social_returned_twice", declaration_id, data=data)

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    panel = panel_of(client, auth, declaration_id)
    attend(client, auth, declaration_id, panel)
    vote_all(client, auth, declaration_id, {panel[0]: "agree"})
    saved_instances.write(review, "expert_votes_open", declaration_id, data=data, panel=panel, voted=panel[:1])

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check")
    act(client, auth, "unit", declaration_id, "unit_recommendation", "recommend")
    publicise(client, auth, "unit", declaration_id, "unit")
    assert open_stages(review, declaration_id) == []
    saved_instances.write(review, "unit_publicity_timer", declaration_id, data=data)


def restored(db: Any, client: Any, auth: Any, name: str) -> dict[str, Any]:
    saved = saved_instances.load(name)
    saved_instances.restore(db, saved)
    declaration_id = saved["declaration_id"]
    assert outcome_of(db, declaration_id) == ("running", None)
    # The process view reads the saved state as it is, before any step.
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    assert view["active"] and "declaration_submitted" in view["completed"]
    return saved


def finished(db: Any, client: Any, auth: Any, saved: dict[str, Any]) -> None:
    declaration_id = saved["declaration_id"]
    assert outcome_of(db, declaration_id) == ("completed", "certified")
    assert incidents(db, declaration_id) == []
    audit = ok(client.get(f"/api/v1/processes/{declaration_id}/audit", headers=auth("title_office")))
    assert audit["intact"], audit["problems"]
    assert len(audit["entries"]) > len(saved["rows"]["audit_log"])  # the saved log, continued
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    assert view["active"] == [] and {"unit_check", "certified"} <= set(view["completed"])


def test_a_social_review_saved_after_two_returns_finishes(review, clients, auth):
    client = clients["review"]
    saved = restored(review, client, auth, "social_returned_twice")
    declaration_id = saved["declaration_id"]
    assert open_stages(review, declaration_id) == [("unit_check", saved["data"]["unit_code"])]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, saved["data"])
    finished(review, client, auth, saved)


def test_a_review_saved_waiting_for_votes_in_the_called_expert_review_finishes(review, clients, auth):
    client = clients["review"]
    saved = restored(review, client, auth, "expert_votes_open")
    declaration_id = saved["declaration_id"]
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    [experts] = [c for c in view["called"] if c["process_id"] == "expert_review"]
    assert "expert_vote" in experts["active"]
    vote_all(client, auth, declaration_id, {e: "agree" for e in saved["panel"] if e not in saved["voted"]})
    after_vote(client, auth, declaration_id)
    certificate_issued(review, saved["data"])
    finished(review, client, auth, saved)


def test_a_review_saved_waiting_at_a_timer_finishes(review, clients, auth):
    client = clients["review"]
    saved = restored(review, client, auth, "unit_publicity_timer")
    declaration_id = saved["declaration_id"]
    assert open_stages(review, declaration_id) == []
    advance_clock(client, auth, 14)
    act(client, auth, "unit", declaration_id, "unit_recommend")
    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, saved["data"])
    assert instance_of(review, declaration_id).status == "completed"
    finished(review, client, auth, saved)
