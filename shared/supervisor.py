"""``titles run``: the whole system as local processes on the embedded default.

Migrates, deploys the diagrams, loads the demonstration data, then starts the
development identity issuer, the five HTTP services under gunicorn, each
service's consumer and outbox relay, the review scheduler and the notify
dispatcher (e-mail and SMS). Ctrl-C (or
SIGTERM) stops every process it started; if any process dies, it stops the
rest and exits non-zero, so a failure is never silent.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from shared import cli, config
from shared.config import SERVICES

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


@dataclass
class Child:
    name: str
    process: subprocess.Popen


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _env(service: str, data: Path) -> dict[str, str]:
    env = dict(os.environ)
    metrics_dir = data / "metrics" / service
    env.update(TITLES_DATA_DIR=str(data), TITLES_SERVICE=service, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    env.setdefault("WEB_CONCURRENCY", "1")  # SQLite and two cores: one worker, several threads
    env.setdefault("WEB_THREADS", "8")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # The demonstration's test clock runs into years the holiday calendar does not know yet.
    env.setdefault("TITLES_WORKDAYS_PROVISIONAL", "1")
    return env


def commands() -> list[tuple[str, str, list[str]]]:
    """(name, service, argv) of every long-running process."""
    gunicorn = [_bin("gunicorn"), "-c", str(GUNICORN_CONF)]
    titles = [_bin("titles")]
    procs = [("issuer", "issuer", gunicorn + ["shared.identity.dev_issuer:create_app()"])]
    for service in SERVICES:
        procs.append((f"{service}-http", service, gunicorn + [f"services.{service}.bootstrap:create_app()"]))
        procs.append((f"{service}-consumer", service, titles + ["consume", service]))
        procs.append((f"{service}-relay", service, titles + ["relay", service]))
    procs.append(("review-scheduler", "review", titles + ["scheduler"]))
    procs.append(("notify-dispatcher", "notify", titles + ["dispatch"]))
    return procs


def run_all(seed_demo: bool = True) -> int:
    data = config.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    os.environ["TITLES_DATA_DIR"] = str(data)
    cli.migrate([])
    cli.deploy()
    if seed_demo:
        cli.seed()
    metrics_root = data / "metrics"
    shutil.rmtree(metrics_root, ignore_errors=True)  # multiprocess files of a previous run
    for service in ("issuer", *SERVICES):
        (metrics_root / service).mkdir(parents=True, exist_ok=True)

    children: list[Child] = []
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    for name, service, argv in commands():
        log_file = open(logs / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(argv, env=_env(service, data), stdout=log_file, stderr=subprocess.STDOUT,
                                   cwd=ROOT, start_new_session=True)
        children.append(Child(name, process))

    print(f"\ntitles is starting on the embedded default (data in {data}, logs in {logs}):", flush=True)
    for service in ("issuer", *SERVICES):
        label = "identity issuer (development)" if service == "issuer" else f"{service} service"
        print(f"  {label:32} {config.service_url(service)}", flush=True)
    print("Press Ctrl-C to stop everything.\n", flush=True)

    exit_code = 0
    while not stopping:
        for child in children:
            code = child.process.poll()
            if code is not None:
                print(f"process {child.name} exited with {code}; see {logs / (child.name + '.log')}", flush=True)
                exit_code = 1
                stopping = True
                break
        time.sleep(0.5)
    _stop(children)
    print("stopped.", flush=True)
    return exit_code


def _stop(children: list[Child], grace: float = 10.0) -> None:
    for child in children:
        if child.process.poll() is None:
            os.killpg(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for child in children:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            child.process.wait(remaining)
        except subprocess.TimeoutExpired:
            os.killpg(child.process.pid, signal.SIGKILL)
            child.process.wait()
