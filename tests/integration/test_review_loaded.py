"""A workflow this process saved is reused by the next step only while the row holds exactly the
state it was saved as (services/review/engine/loaded.py); everything else deserialises afresh."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.review_flow_helpers import (
    UNIT,
    act,
    finish_social,
    instance_of,
    open_stages,
    outcome_of,
    review_db,
    start,
    through_departments,
    through_unit,
)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def kept(instance_id: str) -> Any:
    from services.review.engine.loaded import LOADED

    entry = LOADED._entries.get(instance_id)
    return None if entry is None else entry[1]


def locked_workflow(db: Any, instance_id: str) -> Any:
    from services.review.engine import runtime

    with db.uow() as uow:
        with runtime.locked(uow, instance_id=instance_id) as (_, workflow):
            return workflow


def test_a_committed_step_keeps_its_workflow_for_the_next_and_the_lifecycle_ends_as_without(review, clients, auth):
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    instance_id = instance_of(review, declaration_id).id
    through_unit(client, auth, declaration_id)
    saved = kept(instance_id)
    assert saved is not None  # the completion committed: its workflow is kept with the state it saved
    assert locked_workflow(review, instance_id) is saved  # the next step takes that very object...
    assert kept(instance_id) is None  # ...and it is no longer kept until a step saves it again

    through_departments(client, auth, declaration_id)
    finish_social(client, auth, review, data)
    assert outcome_of(review, declaration_id) == ("completed", "certified")


def test_a_state_saved_elsewhere_or_a_rolled_back_step_is_never_reused(review, clients, auth):
    from services.review.engine import runtime
    from services.review.engine.loaded import LOADED
    from services.review.models import Instance

    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    instance_id = instance_of(review, declaration_id).id
    act(client, auth, "unit", declaration_id, "unit_check", "approve", "同意")
    stale = kept(instance_id)
    assert stale is not None

    # Another process saves the instance (here: the same state re-serialised with a change in its data).
    with review.uow() as uow:
        row = uow.session.get(Instance, instance_id)
        workflow = runtime.SERIALIZER.deserialize_json(row.state)
        workflow.task_tree.data["note"] = "saved by another worker"
        row.state = runtime.SERIALIZER.serialize_json(workflow)
        uow.commit()
    fresh = locked_workflow(review, instance_id)
    assert fresh is not stale and fresh.task_tree.data["note"] == "saved by another worker"

    # A step that saves and is then rolled back (savepoint or whole transaction) keeps nothing.
    LOADED.keep(instance_id, instance_of(review, declaration_id).state, fresh)
    with review.uow() as uow:
        with runtime.locked(uow, instance_id=instance_id) as (instance, workflow):
            assert workflow is fresh
            with pytest.raises(RuntimeError):
                with uow.session.begin_nested():
                    workflow.task_tree.data["note"] = "half done"
                    runtime.advance(uow, instance, workflow)
                    raise RuntimeError("the step fails after its save")
        uow.commit()
    assert kept(instance_id) is None
    reloaded = locked_workflow(review, instance_id)
    assert reloaded is not fresh and reloaded.task_tree.data["note"] == "saved by another worker"
    assert open_stages(review, declaration_id) != [("unit_check", UNIT)]  # it moved on, as saved


def test_a_kept_workflow_carries_what_its_rows_say_so_the_next_step_need_not_work_it_out(
    review, clients, auth, monkeypatch
):
    from sqlalchemy import select

    from services.review.engine import runtime
    from services.review.engine.loaded import LOADED
    from services.review.models import Task, Timer

    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    instance_id = instance_of(review, declaration_id).id
    act(client, auth, "unit", declaration_id, "unit_check", "approve", "同意")
    projected = LOADED._entries[instance_id][2]
    with review.uow(readonly=True) as uow:
        open_ids = set(
            uow.session.scalars(select(Task.id).where(Task.instance_id == instance_id, Task.status == "ready"))
        )
        timer = uow.session.get(Timer, instance_id)
    assert projected.ready == open_ids and len(open_ids) == 1
    assert projected.due == (timer.due_at if timer is not None else None)

    def walked(_: Any) -> set[str]:
        raise AssertionError("a step on a kept workflow walked its tree for the open tasks")

    monkeypatch.setattr(runtime, "_ready_ids", walked)
    act(client, auth, "unit", declaration_id, "unit_recommendation", "recommend")
    assert open_stages(review, declaration_id) == [("unit_publicity", UNIT)]  # the step ran, from the cache
