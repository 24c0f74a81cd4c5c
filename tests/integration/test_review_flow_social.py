"""Social review end to end through the diagram: publicity, departments, panel, votes, filing."""
from __future__ import annotations

from typing import Any

import pytest

from tests.integration.review_flow_helpers import (act, after_vote, attend, certificate_issued, instance_of,
                                                   ok, outbox, panel_of, review_db, start,
                                                   through_departments, through_unit, vote_all)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)  # the test clock on a fixed day: no calendar year runs out


def test_the_whole_social_review_ends_certified(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    panel = panel_of(client, auth, declaration_id)
    attend(client, auth, declaration_id, panel)
    vote_all(client, auth, declaration_id, {e: "agree" for e in panel})
    tally = ok(client.get(f"/api/v1/declarations/{declaration_id}/tally", headers=auth("committee")))
    assert (tally["present"], tally["agree"]) == (3, 3)
    after_vote(client, auth, declaration_id)
    [issue] = outbox(review, "certificate.issue.v1", declaration_id)
    assert issue["committee_name"] == data["committee_name"]
    certificate_issued(review, data)
    assert (instance_of(review, declaration_id).status, instance_of(review, declaration_id).outcome) == \
        ("completed", "certified")
