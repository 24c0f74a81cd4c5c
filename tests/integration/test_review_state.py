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
