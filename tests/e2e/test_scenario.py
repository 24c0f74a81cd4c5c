"""End to end: the system as real processes (``titles run``) and the scenario over HTTP.

On the embedded default unless TEST_POSTGRES_URL / TEST_BROKER_URL point at
real servers, as for the rest of the suite.
"""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.system import HTTP, ROOT, system_environment


@pytest.fixture
def system_env(tmp_path: Path) -> Iterator[dict[str, str]]:
    with system_environment(tmp_path / "data") as env:
        yield env


def test_make_run_and_make_scenario_carry_a_declaration_to_a_certificate(system_env):
    titles = str(Path(sys.executable).with_name("titles"))
    system = subprocess.Popen(
        [titles, "run"],
        env=system_env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        scenario = subprocess.run(
            [titles, "scenario", "--timeout", "90"],
            env=system_env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=240,
        )
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
    for service in HTTP:
        assert f":{system_env[service.upper() + '_PORT']}" in output  # it printed each URL
    assert "stopped." in output
    assert "The test clock is ON for this demonstration (TITLES_TEST_CLOCK=1): only the title office" in output
    for name in HTTP:
        with socket.socket() as s:  # nothing listens any more
            assert s.connect_ex(("127.0.0.1", int(system_env[f"{name.upper()}_PORT"]))) != 0


def test_the_scenario_fails_loudly_when_the_system_is_not_running(system_env):
    titles = str(Path(sys.executable).with_name("titles"))
    scenario = subprocess.run(
        [titles, "scenario", "--timeout", "2"], env=system_env, cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert scenario.returncode != 0
    assert "scenario failed" in scenario.stderr
