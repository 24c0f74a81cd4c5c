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
