"""Alembic migrations per service, run programmatically.

Each service keeps its revisions in ``services/<name>/migrations/versions``
with exactly one head (how files and revisions are named: docs/migrations.md);
its ``env.py`` hands its metadata to ``run_env`` below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config

ROOT = Path(__file__).resolve().parents[1]


def alembic_config(service: str, url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "services" / service / "migrations"))
    cfg.attributes["url"] = url  # not via the ini: URLs may contain '%'
    return cfg


def upgrade(service: str, url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(service, url), revision)


def run_env(target_metadata: Any) -> None:
    """Body of every service's env.py (online mode)."""
    from alembic import context

    from shared.db import make_engine

    engine = make_engine(context.config.attributes["url"])
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


# The outbox's notification on PostgreSQL (shared/messaging/wake.py): a statement trigger, so the
# producing transaction sends no statement of its own, and NOTIFY is delivered when it commits (once,
# however many rows it wrote). Other databases have no triggers of this kind: their relays have a doorbell.
_OUTBOX_NOTIFY_FUNCTION = """
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('{channel}', '');
    RETURN NULL;
END
$$
"""


def create_outbox_notify(op: Any) -> None:
    """``upgrade()`` of each service's ``outbox_notify`` revision."""
    from shared.messaging.wake import OUTBOX_CHANNEL

    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(_OUTBOX_NOTIFY_FUNCTION.format(channel=OUTBOX_CHANNEL))
    op.execute(
        "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()"
    )


def drop_outbox_notify(op: Any) -> None:
    """``downgrade()`` of each service's ``outbox_notify`` revision."""
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS outbox_notify ON outbox")
    op.execute("DROP FUNCTION IF EXISTS outbox_notify()")
