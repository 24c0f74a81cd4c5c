"""A step walks the task tree once for what it projects (services/review/engine/runtime.py
``open_tasks``): the READY and WAITING tasks of that one walk, filtered, are exactly what a walk per
state gives, in the same order, at every stage of the real social review (called processes, parallel
votes, timers and event-based gateways included)."""

from __future__ import annotations

from typing import Any

import pytest
from SpiffWorkflow.util.task import TaskState

from tests.integration.review_flow_helpers import (
    act,
    advance_clock,
    attend,
    instance_of,
    panel_of,
    publicise,
    review_db,
    start,
    through_departments,
)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def assert_one_walk_gives_what_each_walk_gives(db: Any, declaration_id: str) -> tuple[int, int]:
    from services.review.engine import runtime

    with db.uow() as uow:
        with runtime.locked(uow, instance_id=instance_of(db, declaration_id).id) as (_, workflow):
            found = runtime.open_tasks(workflow)
            human = workflow.get_tasks(state=TaskState.READY, manual=True)
            waiting = workflow.get_tasks(state=TaskState.WAITING)
            assert runtime._human(workflow, found) == human
            assert runtime._waiting(workflow, found) == waiting
            assert runtime.waiting_timers(workflow, found) == runtime.waiting_timers(workflow)
            assert runtime.current_stage(workflow, found) == runtime.current_stage(workflow, None)
            return len(human), len(waiting)


def test_one_walk_of_the_tree_gives_the_open_tasks_at_every_stage(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    seen = [assert_one_walk_gives_what_each_walk_gives(review, declaration_id)]
    act(client, auth, "unit", declaration_id, "unit_check")
    act(client, auth, "unit", declaration_id, "unit_recommendation", "recommend")
    seen.append(assert_one_walk_gives_what_each_walk_gives(review, declaration_id))
    publicise(client, auth, "unit", declaration_id, "unit")  # a timer waits for the publicity's end
    seen.append(assert_one_walk_gives_what_each_walk_gives(review, declaration_id))
    advance_clock(client, auth, 14)
    act(client, auth, "unit", declaration_id, "unit_recommend")
    through_departments(client, auth, declaration_id)  # a called process, finished
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    attend(client, auth, declaration_id, panel_of(client, auth, declaration_id))
    seen.append(assert_one_walk_gives_what_each_walk_gives(review, declaration_id))  # parallel votes
    assert any(human > 1 for human, _ in seen) and any(waiting for _, waiting in seen)
