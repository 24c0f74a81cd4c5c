"""Test fixtures: the same suite on the embedded default or on real servers.

Backends are chosen by environment variables:

- ``TEST_POSTGRES_URL`` (e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``):
  each service gets a fresh PostgreSQL database for the run; otherwise SQLite files.
- ``TEST_BROKER_URL`` (e.g. ``amqp://guest:guest@127.0.0.1:5672//``): RabbitMQ,
  with a namespace of its own for the run; otherwise the embedded transport.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from shared import config
from shared.web.ratelimit import RateLimiter
from tests.helpers.database_state import DEMO, EMPTY, RestorableDatabase, WrittenTables

RUN_ID = uuid.uuid4().hex[:8]
# Short retry backoff so retry and dead-letter paths finish within a test.
os.environ.setdefault("TITLES_RETRY_DELAYS_MS", "200,400,800")
# Test clocks run into years whose holidays are not announced yet (see shared/workdays.py).
os.environ.setdefault("TITLES_WORKDAYS_PROVISIONAL", "1")
POSTGRES = os.environ.get("TEST_POSTGRES_URL")
RABBITMQ = os.environ.get("TEST_BROKER_URL")
SERVICES = ("profile", "declaration", "review", "certificate", "notify")


def pytest_report_header(config: Any) -> str:
    return (
        f"titles backends: database={'postgresql' if POSTGRES else 'sqlite'}, "
        f"broker={'rabbitmq' if RABBITMQ else 'embedded'}, run id {RUN_ID}"
    )


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("titles-data")
    os.environ["TITLES_DATA_DIR"] = str(path)  # the test clock's file lives here too (shared/clock.py)
    config.from_environment()
    _RUN_DATA.append(str(path))
    return path


_RUN_DATA: list[str] = []


@pytest.fixture
def monkeypatch(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """pytest's, except that setting, deleting or restoring an environment variable also rebuilds this
    process's Settings (shared/config.py), as a process started with that environment would have them."""
    changed = False

    def rebuilt(change: Callable[..., None]) -> Callable[..., None]:
        def changing(*args: Any, **kwargs: Any) -> None:
            nonlocal changed
            change(*args, **kwargs)
            changed = True
            config.from_environment()

        return changing

    monkeypatch.setenv = rebuilt(monkeypatch.setenv)  # type: ignore[method-assign]
    monkeypatch.delenv = rebuilt(monkeypatch.delenv)  # type: ignore[method-assign]
    undo = monkeypatch.undo

    def undoing() -> None:
        undo()
        if changed:
            config.from_environment()

    monkeypatch.undo = undoing  # type: ignore[method-assign]
    yield monkeypatch
    monkeypatch.undo()


@pytest.fixture(autouse=True)
def _real_time_after_each_test() -> Iterator[None]:
    """Each test starts on real time: a test that moved the test clock leaves no offset behind."""
    yield
    if _RUN_DATA and os.environ.get("TITLES_DATA_DIR") == _RUN_DATA[0] and "TITLES_TEST_CLOCK_FILE" not in os.environ:
        from shared import clock

        clock.reset_for_tests()


@pytest.fixture(scope="session")
def database_urls(data_dir: Path) -> Iterator[dict[str, str]]:
    """One database per service for the whole run, migrated to head."""
    from shared.migrations import upgrade

    if POSTGRES:
        admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        names = {s: f"titles_t{RUN_ID}_{s}" for s in SERVICES}
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        base = POSTGRES.rsplit("/", 1)[0]
        urls = {s: f"{base}/{name}" for s, name in names.items()}
    else:
        urls = {s: f"sqlite:///{data_dir / (s + '.db')}" for s in SERVICES}
    for service, url in urls.items():
        os.environ[f"{service.upper()}_DATABASE_URL"] = url
        upgrade(service, url)
    config.from_environment()
    yield urls
    if POSTGRES:
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def broker_url(data_dir: Path) -> Iterator[str]:
    from kombu import Connection

    from shared.messaging import topology

    if RABBITMQ:
        url = RABBITMQ
        os.environ["TITLES_NAMESPACE"] = f"t{RUN_ID}."
    else:
        url = f"embedded://{data_dir / 'broker'}"
    os.environ["BROKER_URL"] = url
    config.from_environment()
    yield url
    if RABBITMQ:
        with Connection(url) as conn:
            topology.delete_namespace(conn)


@pytest.fixture(scope="session")
def trust_services(data_dir: Path) -> Iterator[str]:
    """The development TSA and CRL (services/certificate/dev_tsa.py) on a thread, as ``titles run`` has them:
    every certificate signed in the tests is timestamped and carries its revocation data."""
    from werkzeug.serving import make_server

    from services.certificate import dev_tsa

    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    os.environ["TSA_PORT"] = str(server.server_port)  # the PKI's CRL address and the default TSA URL follow
    config.from_environment()
    server.app = dev_tsa.create_app()
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="dev-tsa")
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture(scope="session")
def dbs(database_urls: dict[str, str], broker_url: str, trust_services: str) -> Iterator[dict[str, Any]]:
    """Each service's Database, keyed by service name."""
    from titles import bootstrap

    databases = {s: bootstrap.service(s).database(database_urls[s]) for s in SERVICES}
    yield databases
    for db in databases.values():
        db.dispose()


@pytest.fixture(scope="session")
def _database_states(dbs: dict[str, Any]) -> Iterator[dict[str, RestorableDatabase]]:
    """Each database with its two known states: empty, and the demonstration data (seeded and the
    diagrams deployed once, here, as ``titles seed`` does; recorded, then emptied again)."""
    from services.review import bootstrap as review
    from titles import bootstrap

    written = WrittenTables()
    written.watch()
    states = {s: RestorableDatabase(db, written) for s, db in dbs.items()}
    for service in SERVICES:
        bootstrap.service(service).seed(dbs[service])
    review.deploy(dbs["review"])
    for state in states.values():
        state.record(DEMO)
        state.bring_to(EMPTY)
    yield states
    written.unwatch()


@pytest.fixture(autouse=True)
def _databases_as_the_test_asks(request: pytest.FixtureRequest) -> Iterator[None]:
    """Before a test that uses the databases, each one is in the state it asks for: the demonstration
    data if it asks for ``demo``, else empty. Only the tables written since are restored."""
    if "dbs" not in request.fixturenames:
        yield
        return
    states = request.getfixturevalue("_database_states")
    wanted = DEMO if "demo" in request.fixturenames else EMPTY
    for state in states.values():
        state.bring_to(wanted)
    yield
    if request.node.get_closest_marker("other_processes_write"):
        for state in states.values():
            state.everything_written = True


@pytest.fixture(scope="session")
def verifier(data_dir: Path) -> Any:
    from shared.identity import dev_issuer
    from shared.identity.tokens import TokenVerifier

    jwks_path = dev_issuer.write_jwks_file(data_dir / "jwks.json", data_dir=data_dir)
    return TokenVerifier(dev_issuer.default_issuer(), "titles", jwks_path.as_uri())


@pytest.fixture(scope="session")
def token(data_dir: Path) -> Callable[[str], str]:
    from shared.identity import dev_issuer

    def issue(username: str) -> str:
        return dev_issuer.issue_token(username, data_dir=data_dir)

    return issue


@pytest.fixture
def auth(token: Callable[[str], str]) -> Callable[[str], dict[str, str]]:
    """Headers for a demonstration user: ``client.get(url, headers=auth("unit"))``."""
    return lambda username: {"Authorization": f"Bearer {token(username)}"}


@pytest.fixture(scope="session")
def _session_apps(dbs: dict[str, Any], verifier: Any) -> dict[str, Any]:
    """The five Flask apps, built once: building one (its OpenAPI document above all) costs more than
    most tests."""
    from titles import bootstrap

    return {s: bootstrap.service(s).create_app(dbs[s], verifier) for s in SERVICES}


@pytest.fixture
def apps(_session_apps: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield _session_apps
    # What an app keeps between requests must not carry from one test to the next: the rate limits'
    # counters (a limiter is made again, from the environment of the time, on first use).
    for app in _session_apps.values():
        for key in [k for k, v in app.extensions.items() if isinstance(v, RateLimiter)]:
            del app.extensions[key]


@pytest.fixture
def clients(apps: dict[str, Any]) -> dict[str, Any]:
    return {s: app.test_client() for s, app in apps.items()}


@pytest.fixture
def demo(dbs: dict[str, Any]) -> dict[str, Any]:
    """The demonstration data, as ``titles seed`` loads it through each service's seed and the
    deployed diagrams (put in place before the test, see ``_databases_as_the_test_asks``)."""
    return dbs


class Workers:
    """Relays and consumers of every service, on threads of the test process.

    Like nameko's test helpers: fire an entry point, then ``wait`` for its effect.
    """

    def __init__(self, dbs: dict[str, Any]):
        from shared.messaging import relay
        from shared.messaging.consumer import ServiceConsumer
        from titles import bootstrap

        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        _purge_queues()  # messages a previous test left in flight are not this test's
        backlog = _deliveries_due(dbs)
        for service, db in dbs.items():
            consumer = ServiceConsumer(db, bootstrap.service(service).handlers())
            self.threads.append(
                threading.Thread(target=consumer.run, args=(self.stop,), daemon=True, name=f"{service}-consumer")
            )
            self.threads.append(
                threading.Thread(target=relay.run, args=(db, self.stop), daemon=True, name=f"{service}-relay")
            )
        for thread in self.threads:
            thread.start()
        # The messages already in the outboxes (the demonstration data's events: the organisations the
        # review's directory replica copies, say) are handled before the test acts; a message of the
        # test's own that needs them (a submission needs the unit in the review's directory) would
        # otherwise race them, and lose where the machine is slow.
        _wait_until_handled(dbs, backlog)

    def close(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=10)


def _deliveries_due(dbs: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(service, message id, handler) of each delivery the unpublished outbox rows will make."""
    from sqlalchemy import select

    from shared.messaging import topology

    due: set[tuple[str, str, str]] = set()
    for db in dbs.values():
        outbox = db.outbox_model
        with db.uow(readonly=True) as uow:
            rows = uow.session.execute(
                select(outbox.message_id, outbox.type).where(outbox.published_at.is_(None))
            ).all()
        for message_id, message_type in rows:
            due.update(
                (sub.service, message_id, sub.queue)
                for sub in topology.SUBSCRIPTIONS
                if message_type in sub.types and sub.service in dbs
            )
    return due


def _wait_until_handled(dbs: dict[str, Any], due: set[tuple[str, str, str]], timeout: float = 30.0) -> None:
    """Until each of ``due`` has its inbox row (or ``timeout``: the test then finds what is missing)."""
    from sqlalchemy import select

    deadline = time.monotonic() + timeout
    left = set(due)
    while left and time.monotonic() < deadline:
        for service in {s for s, _, _ in left}:
            inbox = dbs[service].inbox_model
            with dbs[service].uow(readonly=True) as uow:
                handled = set(uow.session.execute(select(inbox.message_id, inbox.handler)).all())
            left = {(s, m, h) for s, m, h in left if s != service or (m, h) not in handled}
        if left:
            time.sleep(0.02)


def _purge_queues() -> None:
    from shared.messaging import broker, topology

    with broker.connect() as connection:
        topology.declare(connection)
        with connection.channel() as channel:
            for queue in topology.all_queues(topology.is_rabbitmq(connection)):
                channel.queue_purge(queue.name)


@pytest.fixture
def workers(dbs: dict[str, Any]) -> Iterator[Workers]:
    running = Workers(dbs)
    yield running
    running.close()


def wait_for(what: str, probe: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = probe()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")
