"""Social review end to end through the diagram: publicity, departments, panel, votes, filing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.review_flow_helpers import (
    after_vote,
    certificate_issued,
    instance_of,
    ok,
    outbox,
    review_db,
    start,
    through_the_vote,
)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)  # the test clock on a fixed day: no calendar year runs out


def test_the_whole_social_review_ends_certified(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_the_vote(client, auth, declaration_id)
    tally = ok(client.get(f"/api/v1/declarations/{declaration_id}/tally", headers=auth("committee")))
    assert (tally["present"], tally["agree"]) == (3, 3)
    after_vote(client, auth, declaration_id)
    [issue] = outbox(review, "certificate.issue.v1", declaration_id)
    assert issue["committee_name"] == data["committee_name"]
    certificate_issued(review, data)
    assert (instance_of(review, declaration_id).status, instance_of(review, declaration_id).outcome) == (
        "completed",
        "certified",
    )
