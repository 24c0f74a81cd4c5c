"""The whole system as processes (``titles run``) for end-to-end tests: free ports, a data folder of
its own, and on real servers (TEST_POSTGRES_URL / TEST_BROKER_URL) databases and a RabbitMQ
namespace of its own, removed afterwards."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text

from shared import config
from tests.conftest import POSTGRES, RABBITMQ, SERVICES
from titles.supervisor import free_port

ROOT = Path(__file__).resolve().parents[2]
HTTP = config.PORTED  # every process of `titles run` that listens


def database_url(env: dict[str, str], service: str) -> str:
    """The service's database as the system started with ``env`` has it: not this process's, which an
    earlier test's session fixture may have pointed at the suite's own databases (<SERVICE>_DATABASE_URL)."""
    return config.Settings.from_environ(env).database_url(service)


@contextmanager
def system_environment(data: Path) -> Iterator[dict[str, str]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_DATABASE_URL") and k not in ("BROKER_URL", "TITLES_NAMESPACE", "TITLES_DATA_DIR")
    }
    env["TITLES_DATA_DIR"] = str(data)
    env.pop("TITLES_TEST_CLOCK", None)  # `titles run` switches the test clock on by itself, and says so
    for name in HTTP:
        env[f"{name.upper()}_PORT"] = str(free_port())
        env.pop(f"{name.upper()}_URL", None)
    env.pop("OIDC_ISSUER", None)
    databases: list[str] = []
    if POSTGRES:
        run = uuid.uuid4().hex[:8]
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            for service in SERVICES:
                databases.append(f"titles_e{run}_{service}")
                conn.execute(text(f'CREATE DATABASE "{databases[-1]}"'))
        env["DATABASE_URL"] = POSTGRES.rsplit("/", 1)[0] + f"/titles_e{run}_{{service}}"
    if RABBITMQ:
        env["BROKER_URL"] = RABBITMQ
        env["TITLES_NAMESPACE"] = f"e{uuid.uuid4().hex[:8]}."
    try:
        yield env
    finally:
        if RABBITMQ:
            _delete_rabbitmq_namespace(env["TITLES_NAMESPACE"])
        if POSTGRES:
            with admin.connect() as conn:
                for name in databases:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def _delete_rabbitmq_namespace(namespace: str) -> None:
    from kombu import Connection

    from shared.messaging import topology

    saved = config.settings()
    config.use(config.Settings.from_environ({**os.environ, "TITLES_NAMESPACE": namespace}))
    try:
        with Connection(RABBITMQ) as conn:
            topology.delete_namespace(conn)
    finally:
        config.use(saved)
