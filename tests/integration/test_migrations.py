"""Each service's migrations build exactly the tables its models describe, from an empty database and
back down."""

from __future__ import annotations

import importlib
import os
import uuid

import pytest
from alembic import command, util
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from shared.db import make_engine
from shared.migrations import alembic_config

SERVICES = ("profile", "declaration", "review", "certificate", "notify")


@pytest.mark.parametrize("service", SERVICES)
def test_migrated_schema_matches_the_models(dbs, service):
    db = dbs[service]
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), db.metadata)
    assert diff == [], f"{service}: models and migrations differ; write a migration: {diff}"


@pytest.mark.parametrize("service", SERVICES)
def test_migrating_again_is_a_no_op(database_urls, service):
    from shared.migrations import upgrade

    upgrade(service, database_urls[service])  # already at head: nothing to do, no error


@pytest.fixture
def empty_database(tmp_path):
    """A database of its own with no tables, on the run's backend (PostgreSQL with TEST_POSTGRES_URL)."""
    postgres = os.environ.get("TEST_POSTGRES_URL")
    if not postgres:
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    name = f"titles_migrations_{uuid.uuid4().hex[:8]}"
    admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{postgres.rsplit('/', 1)[0]}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _current(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return set(MigrationContext.configure(connection).get_current_heads())
    finally:
        engine.dispose()


def _schema_differences(service: str, url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, importlib.import_module(f"services.{service}.models").Base.metadata)
    finally:
        engine.dispose()


@pytest.mark.parametrize("service", SERVICES)
def test_upgrade_head_then_undo_the_last_revision_and_upgrade_again(empty_database, service):
    config = alembic_config(service, empty_database)
    head = ScriptDirectory.from_config(config).get_current_head()
    parents = util.to_tuple(ScriptDirectory.from_config(config).get_revision(head).down_revision)

    command.upgrade(config, "head")
    assert _current(empty_database) == {head}
    # "-1" is ambiguous below a merge; naming one parent undoes the merge and leaves every parent applied
    command.downgrade(config, parents[0])
    assert _current(empty_database) == set(parents)
    command.upgrade(config, "head")
    assert _current(empty_database) == {head}
    assert _schema_differences(service, empty_database) == []


@pytest.mark.parametrize("service", SERVICES)
def test_every_revision_downgrades_to_an_empty_database(empty_database, service):
    config = alembic_config(service, empty_database)
    command.upgrade(config, "head")
    command.downgrade(config, "base")
    engine = make_engine(empty_database)
    try:
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    command.upgrade(config, "head")
    assert _schema_differences(service, empty_database) == []
