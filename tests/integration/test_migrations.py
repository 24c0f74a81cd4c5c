"""Each service's migrations build exactly the tables its models describe."""
from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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
