"""The review engine is given its ports by the service's bootstrap, and refuses to run without them."""

from __future__ import annotations

import dataclasses

import pytest

from services.review import bootstrap
from services.review.engine import contract, ports
from services.review.models import Base, Inbox, Outbox
from shared.uow import Database


def test_the_bootstrap_gives_the_engine_every_operation_the_diagram_contract_names_and_no_other():
    given = bootstrap.ports()
    assert set(given.operations) == set(contract.OPERATIONS)
    with pytest.raises(ValueError, match="missing \\['review.draw_panel'\\]"):
        dataclasses.replace(given, operations={k: v for k, v in given.operations.items() if k != "review.draw_panel"})
    with pytest.raises(ValueError, match="not in the contract \\['review.unknown'\\]"):
        dataclasses.replace(given, operations={**given.operations, "review.unknown": print})


def test_the_review_database_carries_the_ports_into_every_unit_of_work(tmp_path):
    db = bootstrap.database(f"sqlite:///{tmp_path / 'review.db'}")
    plain = Database("review", f"sqlite:///{tmp_path / 'plain.db'}", Base.metadata, Outbox, Inbox)
    try:
        with db.uow(readonly=True) as uow:
            assert set(ports.of(uow).operations) == set(contract.OPERATIONS)
        with plain.uow(readonly=True) as uow, pytest.raises(TypeError, match="EngineDatabase"):
            ports.of(uow)
    finally:
        db.dispose()
        plain.dispose()
