"""Configuration from environment variables, with the embedded defaults.

Every process reads the same variables, so one `.env` (or compose file)
configures the whole system:

- ``TITLES_DATA_DIR``: folder for SQLite files, the embedded broker and
  attachments (default ``./data``).
- ``<SERVICE>_DATABASE_URL`` or ``DATABASE_URL`` (may contain ``{service}``,
  e.g. ``postgresql+psycopg://titles@db/titles_{service}``); default: one
  SQLite file per service under the data folder.
- ``BROKER_URL``: ``amqp://...`` for RabbitMQ; default ``embedded://`` (a
  broker-free transport in the data folder).
- ``TITLES_NAMESPACE``: prefix of every exchange and queue name, so that
  several systems (or test runs) can share one RabbitMQ.
- ``OIDC_ISSUER``, ``OIDC_JWKS_URL``, ``OIDC_AUDIENCE``: the identity provider.
- ``TITLES_TEST_CLOCK=1`` (never in production) and ``TITLES_TEST_CLOCK_FILE``: the test clock
  (shared/clock.py).
- ``TITLES_BPMN_DIR``: the folder of the diagrams and decision tables (default: the
  checkout's ``bpmn/``, else ``./bpmn``).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SERVICES = ("profile", "declaration", "review", "certificate", "notify")
# Every process of ``titles run`` with a port: the development issuer, the services, the development TSA.
PORTED = ("issuer", *SERVICES, "console", "tsa")
DEFAULT_PORTS = {
    "issuer": 8000,
    "profile": 8001,
    "declaration": 8002,
    "review": 8003,
    "certificate": 8004,
    "notify": 8005,
    "console": 8006,  # the web console: no database, calls the services' HTTP APIs
    "tsa": 8007,  # development timestamp authority and CRL (services/certificate/dev_tsa.py)
}


def data_dir() -> Path:
    return Path(os.environ.get("TITLES_DATA_DIR", "data")).resolve()


def bpmn_dir() -> Path:
    """``TITLES_BPMN_DIR``, else the checkout's ``bpmn/``, else ``./bpmn`` (an installed image)."""
    if os.environ.get("TITLES_BPMN_DIR"):
        return Path(os.environ["TITLES_BPMN_DIR"])
    beside_source = Path(__file__).resolve().parents[1] / "bpmn"
    return beside_source if beside_source.is_dir() else Path.cwd() / "bpmn"


def database_url(service: str) -> str:
    specific = os.environ.get(f"{service.upper()}_DATABASE_URL")
    if specific:
        return specific
    pattern = os.environ.get("DATABASE_URL")
    if pattern:
        return pattern.replace("{service}", service)
    return f"sqlite:///{data_dir() / (service + '.db')}"


def broker_url() -> str:
    return os.environ.get("BROKER_URL", "embedded://")


def namespace() -> str:
    return os.environ.get("TITLES_NAMESPACE", "")


def port(service: str) -> int:
    return int(os.environ.get(f"{service.upper()}_PORT", DEFAULT_PORTS[service]))


def service_url(service: str) -> str:
    """Where a client (the scenario, the README) reaches a service."""
    explicit = os.environ.get(f"{service.upper()}_URL")
    return explicit or f"http://127.0.0.1:{port(service)}"


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    jwks_url: str
    audience: str


def oidc() -> OidcSettings:
    issuer = os.environ.get("OIDC_ISSUER", service_url("issuer"))
    return OidcSettings(
        issuer=issuer,
        jwks_url=os.environ.get("OIDC_JWKS_URL", issuer.rstrip("/") + "/jwks.json"),
        audience=os.environ.get("OIDC_AUDIENCE", "titles"),
    )
