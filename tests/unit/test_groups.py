"""How ``titles run`` groups the processes (titles/groups.py): nothing production runs is left out, a
request reaches the app of the port it came in on, and a worker that ends on its own ends the group."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from shared import config
from shared.config import PORTED
from titles import groups, supervisor


def test_the_groups_run_every_process_production_runs_one_by_one():
    web, review, work, review_work = supervisor.grouped()
    assert [web[0], review[0], work[0], review_work[0]] == ["web", "review-http", "work", "review-work"]
    binds = {web[2][i + 1] for i, arg in enumerate(web[2]) if arg == "-b"}
    together = [name for name in PORTED if name != "review"]
    assert binds == {f"127.0.0.1:{config.port(name)}" for name in together}
    assert web[2][-1] == f"titles.groups:create_app({','.join(together)!r})"
    served = {argv[-1] for name, _, argv in supervisor.commands() if Path(argv[0]).name == "gunicorn"}
    assert served == {f"{spec}()" for spec in groups.WEB_APPS.values()}
    assert review[2] == dict((n, a) for n, _, a in supervisor.commands())["review-http"]
    workers = {name for name, _, argv in supervisor.commands() if Path(argv[0]).name == "titles"}
    assert work[2][1] == review_work[2][1] == "work"
    # the review's workers, which hold its write lock, in a process of their own; each worker runs once
    assert review_work[2][2:] == ["review-consumer", "review-relay", "review-scheduler"]
    assert not set(work[2][2:]) & set(review_work[2][2:])
    assert set(work[2][2:]) | set(review_work[2][2:]) == workers == set(groups.workers())


class _Socket:
    def __init__(self, port: int):
        self.port = port

    def getsockname(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


def _app(name: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [])
        return [name.encode()]

    return app


def test_a_request_goes_to_the_app_of_the_port_it_reached_whatever_its_host_header():
    by_port = groups.ByPort({8001: _app("profile"), 8003: _app("review")})
    statuses: list[str] = []

    def call(port: int, host_port: str) -> bytes:
        environ = {"gunicorn.socket": _Socket(port), "SERVER_PORT": host_port}
        return b"".join(by_port(environ, lambda status, headers: statuses.append(status)))

    assert call(8003, "8001") == b"review"
    assert call(8001, "8003") == b"profile"
    assert call(9999, "8001").startswith(b"no app") and statuses[-1].startswith("404")


def test_a_worker_that_ends_on_its_own_ends_the_group_with_a_failure(monkeypatch):
    stopped = threading.Event()

    def steady(stop: threading.Event) -> None:
        stop.wait()
        stopped.set()

    def broken(stop: threading.Event) -> None:
        raise ConnectionError("the database went away for good")

    monkeypatch.setattr(groups, "workers", lambda: {"steady": steady, "broken": broken})
    assert groups.work(["steady", "broken"], threading.Event()) == 1
    assert stopped.is_set()


def test_the_group_stops_cleanly_when_asked(monkeypatch):
    stop = threading.Event()
    ran = threading.Event()

    def steady(s: threading.Event) -> None:
        ran.set()
        s.wait()

    monkeypatch.setattr(groups, "workers", lambda: {"steady": steady})
    threading.Timer(0.05, stop.set).start()
    assert groups.work(["steady"], stop) == 0
    assert ran.is_set()


def test_the_workers_modules_are_imported_before_any_worker_thread_starts():
    # kombu resolves ``from kombu import Connection`` lazily; worker threads doing that first at once saw it
    # half imported and the work process died at start. A fresh interpreter: this one imported them long ago.
    probe = (
        "import sys; from titles import groups; before = set(sys.modules); groups.workers(); "
        "wanted = {'kombu.connection', 'kombu.messaging', 'shared.messaging.relay', 'shared.messaging.consumer', "
        "'services.review.scheduler', 'services.notify.dispatcher'}; "
        "print(sorted(wanted - set(sys.modules)), sorted(wanted & before))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.strip() == "[] []", done.stdout + done.stderr
