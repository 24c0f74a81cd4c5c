"""Two reviewers of one organisation complete the same task of the social-review diagram at the
same moment over HTTP: one wins, the other gets 409 and nothing else changes."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import select

from tests.integration.review_flow_helpers import (
    UNIT,
    complete,
    headers_for,
    instance_of,
    only_task,
    open_stages,
    outbox,
    review_db,
    start,
    tasks_of,
)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


@pytest.mark.parametrize("stage_reached_by", ["approve", "return"])
def test_two_colleagues_completing_one_task_at_once_one_wins(review, apps, auth, stage_reached_by):
    from services.review.models import AuditEntry

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    people = {"unit": auth("unit"), "unit-colleague": headers_for("unit-colleague", "unit", UNIT, "李明")}
    task = only_task(apps["review"].test_client(), people["unit"], declaration_id, "unit_check")
    version = instance_of(review, declaration_id).version
    barrier = threading.Barrier(len(people))
    results: dict[str, Any] = {}

    def finish(who: str) -> None:
        client = apps["review"].test_client()  # one client per thread, as two browsers would be
        try:
            barrier.wait(timeout=10)
            response = complete(client, people[who], task["id"], stage_reached_by, f"decided by {who}")
            results[who] = (response.status_code, response.get_json())
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results[who] = (None, repr(exc))

    threads = [threading.Thread(target=finish, args=(who,)) for who in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(status for status, _ in results.values())
    assert statuses == [200, 409], results
    winner = next(who for who, (status, _) in results.items() if status == 200)
    loser_body = next(body for status, body in results.values() if status == 409)
    assert [e["rule"] for e in loser_body["errors"]] == ["already_done"]

    # One decision, one audit entry, one step of the instance, and the process moved on once.
    decisions = [d for d in outbox(review, "review.decision.recorded.v1", declaration_id) if d["stage"] == "unit_check"]
    assert [(d["actor"], d["decision"]) for d in decisions] == [(winner, stage_reached_by)]
    with review.uow(readonly=True) as uow:
        entries = list(uow.session.scalars(select(AuditEntry).where(AuditEntry.task_id == task["id"])))
    assert [(e.actor, e.reason) for e in entries] == [(winner, f"decided by {winner}")]
    assert instance_of(review, declaration_id).version == version + 1
    [done] = tasks_of(review, declaration_id, bpmn_id="unit_check")
    assert (done.status, done.completed_by) == ("completed", winner)
    if stage_reached_by == "approve":
        assert open_stages(review, declaration_id) == [("unit_recommendation", UNIT)]
    else:
        assert open_stages(review, declaration_id) == []
        assert len(outbox(review, "declaration.return_for_revision.v1", declaration_id)) == 1


def test_a_completion_waits_for_a_step_holding_the_instance_instead_of_deadlocking(review, apps, auth):
    """A step that holds the instance (the scheduler firing a timer, a message) and then writes the task
    rows, beside a reviewer completing one of them: the completion takes the instance first, so it waits
    and goes on once the step commits — on PostgreSQL the other order was a deadlock (a 503)."""
    import time

    from sqlalchemy import update

    from services.review.models import Instance, Task

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    client = apps["review"].test_client()
    task = only_task(client, auth("unit"), declaration_id, "unit_check")
    holding, results = threading.Event(), {}

    def step_holding_the_instance() -> None:
        try:
            with review.uow() as uow:
                uow.session.execute(
                    select(Instance.id).where(Instance.declaration_id == declaration_id).with_for_update()
                )
                holding.set()
                time.sleep(1.5)  # the completion arrives meanwhile
                uow.session.execute(update(Task).where(Task.id == task["id"]).values(status=Task.status))
                uow.commit()
            results["step"] = "committed"
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            results["step"] = repr(exc)[:200]

    def reviewer() -> None:
        holding.wait(timeout=10)
        response = complete(apps["review"].test_client(), auth("unit"), task["id"], "approve", None)
        results["reviewer"] = response.status_code

    threads = [threading.Thread(target=step_holding_the_instance), threading.Thread(target=reviewer)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == {"reviewer": 200, "step": "committed"}
    assert [s for s, _ in open_stages(review, declaration_id)] == ["unit_recommendation"]
