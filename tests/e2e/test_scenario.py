"""End to end: the system as real processes (``titles run``) and the scenario over HTTP.

On the embedded default unless TEST_POSTGRES_URL / TEST_BROKER_URL point at
real servers, as for the rest of the suite.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from sqlalchemy import create_engine, text

from shared import config
from tests.conftest import POSTGRES, RABBITMQ, SERVICES

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def system_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_DATABASE_URL") and k not in ("BROKER_URL", "TITLES_NAMESPACE", "TITLES_DATA_DIR")}
    env["TITLES_DATA_DIR"] = str(tmp_path / "data")
    env.pop("TITLES_TEST_CLOCK", None)  # `titles run` switches the test clock on by itself, and says so
    for name in config.PORTED:
        env[f"{name.upper()}_PORT"] = str(free_port())
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
    yield env
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

    saved = os.environ.get("TITLES_NAMESPACE")
    os.environ["TITLES_NAMESPACE"] = namespace
    try:
        with Connection(RABBITMQ) as conn:
            topology.delete_namespace(conn)
    finally:
        if saved is None:
            os.environ.pop("TITLES_NAMESPACE", None)
        else:
            os.environ["TITLES_NAMESPACE"] = saved


def test_make_run_and_make_scenario_carry_a_declaration_to_a_certificate(system_env):
    titles = str(Path(sys.executable).with_name("titles"))
    system = subprocess.Popen([titles, "run"], env=system_env, cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        scenario = subprocess.run([titles, "scenario", "--timeout", "90"], env=system_env, cwd=ROOT,
                                  capture_output=True, text=True, timeout=240)
        assert scenario.returncode == 0, scenario.stdout + scenario.stderr
        last = scenario.stdout.strip().splitlines()[-1]
        assert re.fullmatch(r"certificate: TJZC\d{4}\d{6}", last), scenario.stdout
        assert "declaration stage: Completed" in scenario.stdout
        assert "电子职称证书已签发" in scenario.stdout
        assert "title office moved the test clock past the publicity" in scenario.stdout
    finally:
        system.send_signal(signal.SIGINT)  # Ctrl-C stops every process it started
        output, _ = system.communicate(timeout=60)
    assert system.returncode == 0, output
    for service in config.PORTED:
        assert f":{system_env[service.upper() + '_PORT']}" in output  # it printed each URL
    assert "stopped." in output
    assert "The test clock is ON for this demonstration (TITLES_TEST_CLOCK=1): only the title office" in output
    for name in config.PORTED:
        with socket.socket() as s:  # nothing listens any more
            assert s.connect_ex(("127.0.0.1", int(system_env[f"{name.upper()}_PORT"]))) != 0


def test_the_scenario_fails_loudly_when_the_system_is_not_running(system_env):
    titles = str(Path(sys.executable).with_name("titles"))
    scenario = subprocess.run([titles, "scenario", "--timeout", "2"], env=system_env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    assert scenario.returncode != 0
    assert "scenario failed" in scenario.stderr
