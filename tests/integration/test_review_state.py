"""An instance's stored state names its process version instead of carrying the version's specs
(services/review/engine/state.py): a fraction of the size, loaded on specs parsed once per process;
an instance saved with its specs (as before) still loads, runs and ends, and is stored short again."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.review_flow_helpers import (
    finish_social,
    instance_of,
    outcome_of,
    review_db,
    start,
    through_departments,
    through_unit,
)


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def stored(db: Any, declaration_id: str) -> dict[str, Any]:
    saved: dict[str, Any] = json.loads(instance_of(db, declaration_id).state)
    return saved


def forget_parsed_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    """As in a process that has parsed no version yet (another worker, after a restart)."""
    from services.review.engine import definitions, loaded

    definitions.specs.cache_clear()
    monkeypatch.setattr(definitions, "_PARSED", {})
    monkeypatch.setattr(definitions, "_VERSION_OF_SPEC", {})
    monkeypatch.setattr(loaded, "LOADED", loaded.Loaded(0))


def test_the_stored_state_names_its_version_and_is_a_fraction_of_the_whole(review, clients, auth):
    from services.review.engine import runtime, state

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    saved = stored(review, declaration_id)
    instance = instance_of(review, declaration_id)
    assert saved[state.VERSION_KEY] == instance.definition_id
    assert "spec" not in saved and "subprocess_specs" not in saved
    with review.uow() as uow:
        whole = runtime.SERIALIZER.serialize_json(state.load(uow, instance))
    assert "spec" in json.loads(whole)
    assert len(instance.state) * 5 < len(whole)  # the specs are most of a whole workflow's JSON


def test_a_process_that_never_parsed_the_version_loads_it_from_the_database(review, clients, auth, monkeypatch):
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_unit(clients["review"], auth, declaration_id)
    forget_parsed_versions(monkeypatch)
    through_departments(clients["review"], auth, declaration_id)
    finish_social(clients["review"], auth, review, data)
    assert outcome_of(review, declaration_id) == ("completed", "certified")


def test_an_instance_saved_with_its_specs_loads_runs_and_is_stored_short_again(review, clients, auth, monkeypatch):
    from services.review.engine import runtime, state
    from services.review.models import Instance

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    through_unit(clients["review"], auth, declaration_id)
    with review.uow() as uow:  # the state as the code before engine/state.py stored it: specs and all
        row = uow.session.get(Instance, instance_of(review, declaration_id).id)
        row.state = runtime.SERIALIZER.serialize_json(state.load(uow, row))
        uow.commit()
    assert "spec" in stored(review, declaration_id)
    forget_parsed_versions(monkeypatch)
    through_departments(clients["review"], auth, declaration_id)
    assert state.VERSION_KEY in stored(review, declaration_id)
    finish_social(clients["review"], auth, review, data)
    assert outcome_of(review, declaration_id) == ("completed", "certified")


def test_a_state_naming_a_version_this_process_never_parsed_says_how_to_load_it(review):
    from services.review.engine import runtime, state

    data, _ = start(review)
    saved = json.loads(instance_of(review, data["declaration_id"]).state)
    saved[state.VERSION_KEY] = "f" * 64  # a version no process here has parsed
    with pytest.raises(LookupError, match="state.load"):
        runtime.SERIALIZER.deserialize_json(json.dumps(saved))


def test_a_save_writes_what_changed_in_one_statement_and_moves_the_version_once(review):
    from sqlalchemy import event

    from services.review.engine import state
    from services.review.models import Instance

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    before = instance_of(review, declaration_id)
    sent: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    with review.uow() as uow:
        instance = uow.session.get(Instance, before.id)
        instance.stage = "renamed_stage"
        event.listen(review.engine, "before_cursor_execute", seen)
        try:
            state.save(uow, instance)
            uow.session.flush()  # the row is clean: the flush has nothing to write
            assert not uow.session.dirty
        finally:
            event.remove(review.engine, "before_cursor_execute", seen)
        uow.commit()
    assert len(sent) == 1 and sent[0].lstrip().upper().startswith("UPDATE INSTANCES")
    after = instance_of(review, declaration_id)
    assert (after.stage, after.version, after.state) == ("renamed_stage", before.version + 1, before.state)


@pytest.mark.parametrize("together", [False, True], ids=["alone", "in_one_round_trip"])
def test_a_save_over_a_version_another_writer_moved_fails_and_writes_nothing(review, together):
    """Alone, the save fails at once; with the step's other writes in one round trip (PostgreSQL's
    pipeline), at the end of the block, where the server's answer is read."""
    from sqlalchemy import update
    from sqlalchemy.orm.exc import StaleDataError

    from services.review.engine import state
    from services.review.models import Instance
    from shared.pipeline import one_round_trip

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    before = instance_of(review, declaration_id)
    with review.uow() as uow:
        instance = uow.session.get(Instance, before.id)  # read without the lock, as no path does
        # the row moves on behind the session's back, as another writer's commit would move it
        moved = update(Instance).where(Instance.id == before.id).values(version=Instance.version + 1)
        uow.session.connection().execute(moved)
        uow.commit()
    with review.uow() as uow:
        uow.session.add(instance)  # the copy read before the move
        instance.stage = "lost_update"
        with pytest.raises(StaleDataError):
            if together:
                with one_round_trip(uow.session) as batch:
                    state.save(uow, instance, batch)
            else:
                state.save(uow, instance)
    after = instance_of(review, declaration_id)
    assert (after.stage, after.version) == (before.stage, before.version + 1)


def test_a_save_in_a_savepoint_rolled_back_leaves_the_instance_as_the_database_has_it(review):
    from services.review.engine import state
    from services.review.models import Instance

    data, _ = start(review)
    declaration_id = data["declaration_id"]
    before = instance_of(review, declaration_id)
    with review.uow() as uow:
        instance = uow.session.get(Instance, before.id)
        with pytest.raises(RuntimeError):
            with uow.session.begin_nested():  # as a guarded handler runs a step
                instance.stage = "rolled_back"
                state.save(uow, instance)
                raise RuntimeError("the step fails after its save")
        # the instance reads as the row is again, and the next write checks the version the row holds
        assert (instance.stage, instance.version) == (before.stage, before.version)
        instance.has_incident = True
        state.save(uow, instance)
        uow.commit()
    after = instance_of(review, declaration_id)
    assert (after.stage, after.has_incident, after.version) == (before.stage, True, before.version + 1)


@pytest.mark.parametrize("saved_as", ["fresh", "social_returned_twice", "expert_votes_open", "unit_publicity_timer"])
def test_a_value_of_the_process_data_is_read_from_the_stored_state_as_the_workflow_has_it(review, saved_as):
    from services.review.engine import state
    from tests.integration import saved_instances

    if saved_as == "fresh":
        declaration_id = start(review)[0]["declaration_id"]
    else:
        saved = saved_instances.load(saved_as)  # saved by the engine of its time, with or without specs
        saved_instances.restore(review, saved)
        declaration_id = saved["declaration_id"]
    instance = instance_of(review, declaration_id)
    with review.uow(readonly=True) as uow:
        workflow = state.load(uow, instance)
        names = {*workflow.task_tree.data, *workflow.data, "absent"}
        read = {name: state.process_data(uow, instance, name) for name in names}
    assert read == {name: workflow.task_tree.data.get(name) or workflow.data.get(name) for name in names}
    assert read["id_number"] and read["absent"] is None
