"""Each service's Alembic scripts: one head, files numbered in an order Alembic can apply, every
revision reversible (the rules of docs/migrations.md)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic import util
from alembic.script import ScriptDirectory

from shared.migrations import alembic_config

SERVICES = ("profile", "declaration", "review", "certificate", "notify")
FILE_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.py$")


def scripts(service: str) -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config(service, "sqlite://"))


@pytest.mark.parametrize("service", SERVICES)
def test_one_head(service):
    assert len(scripts(service).get_heads()) == 1, f"{service}: add a NNN_merge_heads.py revision"


@pytest.mark.parametrize("service", SERVICES)
def test_files_are_numbered_in_an_order_alembic_can_apply(service):
    revisions = list(scripts(service).walk_revisions())
    number = {}
    for revision in revisions:
        name = Path(revision.path).name
        match = FILE_NAME.match(name)
        assert match, f"{service}: {name} is not named NNN_what_it_does.py"
        number[revision.revision] = int(match.group(1))
    assert sorted(number.values()) == list(range(1, len(revisions) + 1)), f"{service}: numbers skip or repeat"
    for revision in revisions:
        for parent in util.to_tuple(revision.down_revision, default=()):
            assert number[parent] < number[revision.revision], (
                f"{service}: {Path(revision.path).name} is numbered before its parent {parent}"
            )


@pytest.mark.parametrize("service", SERVICES)
def test_every_revision_can_be_downgraded(service):
    for revision in scripts(service).walk_revisions():
        assert callable(getattr(revision.module, "downgrade", None)), f"{service}: {revision.path} has no downgrade()"
