"""How ``titles run`` groups the system's processes to keep the demonstration small in memory.

Production runs every HTTP app, consumer, relay, the scheduler and the dispatcher as a process of its
own (``supervisor.commands()``: deploy/kubernetes, docker-compose.yml). On one machine most of each
such process is the same libraries loaded again, so ``titles run`` starts two groups instead, running
the same code:

- ``web``: one gunicorn server listening on the HTTP ports, each request handed to the app whose
  port it came in on (``create_app``); the review's HTTP, the hot path, keeps a server of its own
  (``supervisor.SERVED_APART``);
- ``work``: every other service's consumer and relay and the notify dispatcher, as threads of one
  process (``titles work``); the review's consumer, relay and scheduler, as threads of another
  (``review-work``, the same command).
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from shared import config
from shared.config import PORTED, SERVICES

log = logging.getLogger(__name__)

# The WSGI app of each HTTP port: "module:factory", the factory called without arguments.
WEB_APPS: dict[str, str] = {
    "issuer": "shared.identity.dev_issuer:create_app",
    "tsa": "services.certificate.dev_tsa:create_app",
    **{service: f"services.{service}.bootstrap:create_app" for service in SERVICES},
    "console": "services.console.bootstrap:create_app",
}
assert set(WEB_APPS) == set(PORTED), "every port has its app"

Wsgi = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ByPort:
    """One WSGI app for several listening ports: the request goes to the app of the port it reached
    (the server's own socket, not the Host header a client writes)."""

    def __init__(self, apps: dict[int, Wsgi]):
        self.apps = apps

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        sock = environ.get("gunicorn.socket")
        port = sock.getsockname()[1] if sock is not None else int(environ.get("SERVER_PORT") or 0)
        app = self.apps.get(port)
        if app is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"no app on this port\n"]
        return app(environ, start_response)


def create_app(names: str = ",".join(PORTED)) -> ByPort:
    """The ``web`` group's app, of the apps named (comma-separated):
    ``gunicorn ... -b <host>:<port> (one per name) "titles.groups:create_app('issuer,tsa,...')"``."""
    apps: dict[int, Wsgi] = {}
    for name in names.split(","):
        module, factory = WEB_APPS[name].split(":")
        apps[config.port(name)] = getattr(importlib.import_module(module), factory)()
    return ByPort(apps)


# ---------------------------------------------------------------- work


def workers() -> dict[str, Callable[[threading.Event], None]]:
    """Every background process of the system, by its name in ``supervisor.commands()``: ``run(stop)``.

    The modules the workers run are imported here, in the thread that starts them: kombu resolves its
    names (``from kombu import Connection``) lazily, and threads doing that first at once can see a
    module half imported (``ImportError: cannot import name 'Connection'``, the work process restarted)."""
    from services.notify import dispatcher as notify_dispatcher
    from services.review import scheduler as review_scheduler
    from shared.messaging import relay as outbox_relay
    from shared.messaging.consumer import ServiceConsumer
    from titles import bootstrap

    databases: dict[str, Any] = {}

    def database(service: str) -> Any:
        # One engine per service, shared by its consumer, relay and scheduler or dispatcher.
        if service not in databases:
            databases[service] = bootstrap.service(service).database()
        return databases[service]

    def consumer(service: str) -> Callable[[threading.Event], None]:
        def run(stop: threading.Event) -> None:
            ServiceConsumer(database(service), bootstrap.service(service).handlers()).run(stop)

        return run

    def relay(service: str) -> Callable[[threading.Event], None]:
        def run(stop: threading.Event) -> None:
            outbox_relay.run(database(service), stop)

        return run

    def scheduler(stop: threading.Event) -> None:
        review_scheduler.run(database("review"), stop)

    def dispatcher(stop: threading.Event) -> None:
        notify_dispatcher.run(database("notify"), stop)

    found: dict[str, Callable[[threading.Event], None]] = {}
    for service in SERVICES:
        found[f"{service}-consumer"] = consumer(service)
        found[f"{service}-relay"] = relay(service)
    found["review-scheduler"] = scheduler
    found["notify-dispatcher"] = dispatcher
    return found


def work(names: Iterable[str], stop: threading.Event) -> int:
    """Run the named workers as threads until ``stop``; if one ends on its own (it never should: each
    retries its own failures), stop the others too and return 1, so the supervisor restarts the group."""
    from shared.observability.cpu import ThreadClocks

    known = workers()
    failed = threading.Event()

    def guarded(name: str, run: Callable[[threading.Event], None]) -> None:
        try:
            run(stop)
        except BaseException:
            log.exception("worker failed", extra={"worker": name})
        if not stop.is_set():
            failed.set()
            stop.set()

    threads = [threading.Thread(target=guarded, args=(n, known[n]), name=n, daemon=True) for n in names]
    for thread in threads:
        thread.start()
    clocks = ThreadClocks(threads)
    while not stop.wait(1.0):
        clocks.look()
    clocks.look()
    for thread in threads:
        thread.join(30)
    return 1 if failed.is_set() else 0
