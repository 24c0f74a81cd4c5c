"""Configuration: every environment variable the system reads, read in one place into one object.

``Settings.from_environ(os.environ)`` is the only reader of the environment (besides the command line
and the supervisor, which build environments for the processes they start). A process builds its
Settings once when it starts and installs it with ``use``; code asks ``settings()`` for it, and a
Flask app keeps the one it was built with in ``app.extensions["titles.settings"]``. See ``Settings``
for each variable and its default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
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
DEFAULT_RETRY_DELAYS_MS = (1_000, 5_000, 30_000, 120_000)


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    jwks_url: str
    audience: str


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: str | None
    password: str | None
    starttls: bool
    timeout: float


@dataclass(frozen=True)
class ConsoleSettings:
    oidc_issuer: str | None
    oidc_discovery_url: str | None
    oidc_authorize_url: str | None
    client_id: str
    client_secret: str | None
    scope: str
    public_url: str | None
    secret_key: str | None


@dataclass(frozen=True)
class Settings:
    """Every process reads the same variables, so one ``.env`` (or compose file) configures the whole
    system.

    Where things are:

    - ``TITLES_DATA_DIR``: folder for SQLite files, the embedded broker and attachments (``./data``).
    - ``<SERVICE>_DATABASE_URL`` or ``DATABASE_URL`` (may contain ``{service}``, e.g.
      ``postgresql+psycopg://titles@db/titles_{service}``); default: one SQLite file per service in the
      data folder.
    - ``BROKER_URL``: ``amqp://...`` for RabbitMQ; default ``embedded://`` (a broker-free transport in
      the data folder). ``TITLES_NAMESPACE``: prefix of every exchange and queue name, so that several
      systems (or test runs) can share one RabbitMQ.
    - ``TITLES_QUEUE_TYPE`` (``quorum``): the type of the subscription queues on RabbitMQ;
      ``BROKER_QUORUM_QUEUES=1``: the dead-letter, retry and unrouted queues too (a cluster).
    - ``TITLES_RETRY_DELAYS_MS`` (``1000,5000,30000,120000``): backoff before each retry of a message.
    - ``<NAME>_PORT`` and ``<NAME>_URL`` for the issuer, each service, the console and the TSA: the
      port ``titles run`` gives it (8000 to 8007) and where clients reach it (``http://127.0.0.1:<port>``).
    - ``TITLES_BPMN_DIR``: the diagrams and decision tables (the checkout's ``bpmn/``, else ``./bpmn``).
    - ``OIDC_ISSUER`` (the issuer's URL), ``OIDC_JWKS_URL`` (``<issuer>/jwks.json``), ``OIDC_AUDIENCE``
      (``titles``): the identity provider.

    Time and calendar:

    - ``TITLES_TEST_CLOCK=1`` (never in production) and ``TITLES_TEST_CLOCK_FILE``
      (``<data>/test-clock.json``): the test clock (shared/clock.py).
    - ``TITLES_WORKDAYS_PROVISIONAL=1``: guess the working days of years whose holidays are not
      announced yet; ``TITLES_WORKDAYS_FILE``: a JSON file of announced holidays (shared/workdays.py).

    Processes:

    - ``LOG_LEVEL`` (``INFO``); ``PROMETHEUS_MULTIPROC_DIR``: metrics shared by a server's workers.
    - ``DB_POOL_SIZE`` (``WEB_THREADS``, else 5): connections a process keeps open to each database between
      uses: one for each thread of a web worker, each of which holds one at most, so that a burst of
      requests opens none (on PostgreSQL a connection is a server process of its own). Up to 10 more are
      opened when needed and closed when given back.
    - ``TITLES_MAX_REQUEST_BYTES`` (1 MiB) and ``TITLES_MAX_UPLOAD_BYTES`` (11 MiB): the largest body.
    - ``TITLES_WORKFLOW_CACHE`` (256): workflows each review process keeps deserialised (0: none;
      25-60 KiB each, so the default costs a review process at most about 15 MiB).
    - ``*_RATE_LIMIT`` (``count/seconds``): ``CERTIFICATE_VERIFY_RATE_LIMIT`` (30/60),
      ``NOTIFY_REPORT_RATE_LIMIT`` (5/3600), ``NOTIFY_REPORT_LOOKUP_RATE_LIMIT`` (30/60).

    Certificate service (README "Settings of the certificate and notify services"):

    - ``CERTIFICATE_NUMBER_PATTERN`` (``{authority}{year}{serial:06d}``), ``CERTIFICATE_AUTHORITY``
      (``TJZC``), ``CERTIFICATE_ISSUER_NAME`` (天津市人力资源和社会保障局).
    - ``CERTIFICATE_FONTS`` (WenQuanYi Micro Hei) and ``CERTIFICATE_ICC_PROFILE`` (Debian's sRGB).
    - ``CERTIFICATE_VERIFY_URL``: the public verification page (the service's own ``/verify``).
    - ``CERTIFICATE_TSA_URL``: the timestamp authority (the development TSA; ``none``: no timestamp);
      ``CERTIFICATE_TSA_TRUST_ROOTS``: the root of its certificate if another CA issued it;
      ``CERTIFICATE_TSA_TIMEOUT_S`` (10): seconds per request.
    - ``CERTIFICATE_SIGNING_*`` and ``CERTIFICATE_TRUST_ROOTS``: the signing key and its chain
      (services/certificate/signing.py; the development key by default).

    Notify service:

    - ``NOTIFY_SMTP_HOST`` (no e-mail without it), ``NOTIFY_SMTP_PORT`` (25), ``NOTIFY_SMTP_FROM``,
      ``NOTIFY_SMTP_USER``, ``NOTIFY_SMTP_PASSWORD``, ``NOTIFY_SMTP_STARTTLS``, ``NOTIFY_SMTP_TIMEOUT`` (10 s).
    - ``NOTIFY_SMS_GATEWAY`` (``module:Class``; by default texts are only logged).
    - ``NOTIFY_RETRY_BACKOFF_S`` (``30,120,600,1800,3600,7200``): waits between delivery attempts.
    - ``NOTIFY_TEMPLATES``: the message templates' JSON file (the one shipped).

    Profile service: ``PROFILE_REGISTER_FILE`` (the education register; the demonstration's file),
    ``PROFILE_ATTACHMENT_MAX_BYTES`` (10 MiB), ``PROFILE_PHOTO_MAX_BYTES`` (2 MiB).

    Console: ``CONSOLE_OIDC_ISSUER`` (``OIDC_ISSUER``), ``CONSOLE_OIDC_DISCOVERY_URL``,
    ``CONSOLE_OIDC_AUTHORIZE_URL``, ``CONSOLE_OIDC_CLIENT_ID`` (``titles-console``),
    ``CONSOLE_OIDC_CLIENT_SECRET``, ``CONSOLE_OIDC_SCOPE`` (``openid profile``), ``CONSOLE_URL`` (its
    public address), ``CONSOLE_SECRET_KEY`` (else one kept in the data folder).
    """

    data_dir: Path
    bpmn_dir: Path
    database_urls: Mapping[str, str]
    broker_url: str
    namespace: str
    queue_type: str
    quorum_queues: bool
    retry_delays_ms: tuple[int, ...]
    ports: Mapping[str, int]
    service_urls: Mapping[str, str]
    oidc: OidcSettings
    test_clock: bool
    test_clock_file: str  # a plain string: the clock stats it on every row timestamp
    workdays_provisional: bool
    workdays_file: str | None
    log_level: str
    prometheus_multiproc_dir: str | None
    max_request_bytes: int
    max_upload_bytes: int
    workflow_cache: int
    db_pool_size: int
    rate_limits: Mapping[str, str]  # every *_RATE_LIMIT set; each endpoint that limits has its default
    certificate_number_pattern: str
    certificate_authority: str
    certificate_issuer_name: str
    certificate_fonts: str | None
    certificate_icc_profile: str | None
    certificate_verify_url: str | None
    certificate_tsa_url: str | None
    certificate_signing: Mapping[str, str]  # every CERTIFICATE_SIGNING_*, CERTIFICATE_TSA_* and _TRUST_ROOTS set
    notify_smtp: SmtpSettings | None
    notify_sms_gateway: str | None
    notify_retry_backoff_s: tuple[float, ...]
    notify_templates: str | None
    profile_register_file: str | None
    profile_attachment_max_bytes: int
    profile_photo_max_bytes: int
    console: ConsoleSettings = field(repr=False)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Settings:
        get = environ.get  # a variable set to "" counts as set, except where ``or`` says otherwise

        def flag(name: str) -> bool:
            return get(name, "").lower() in ("1", "true", "yes")

        data_dir = Path(get("TITLES_DATA_DIR", "data")).resolve()
        ports = {name: int(get(f"{name.upper()}_PORT", str(DEFAULT_PORTS[name]))) for name in PORTED}
        service_urls = {name: get(f"{name.upper()}_URL") or f"http://127.0.0.1:{ports[name]}" for name in PORTED}
        issuer = get("OIDC_ISSUER", service_urls["issuer"])
        retry_delays = get("TITLES_RETRY_DELAYS_MS")
        smtp_host = get("NOTIFY_SMTP_HOST")
        bpmn_dir = get("TITLES_BPMN_DIR")
        return cls(
            data_dir=data_dir,
            bpmn_dir=Path(bpmn_dir) if bpmn_dir else _default_bpmn_dir(),
            database_urls={s: _database_url(environ, s, data_dir) for s in SERVICES},
            broker_url=get("BROKER_URL", "embedded://"),
            namespace=get("TITLES_NAMESPACE", ""),
            queue_type=get("TITLES_QUEUE_TYPE", "quorum"),
            quorum_queues=flag("BROKER_QUORUM_QUEUES"),
            retry_delays_ms=tuple(int(v) for v in retry_delays.split(",")) if retry_delays else DEFAULT_RETRY_DELAYS_MS,
            ports=ports,
            service_urls=service_urls,
            oidc=OidcSettings(
                issuer=issuer,
                jwks_url=get("OIDC_JWKS_URL", issuer.rstrip("/") + "/jwks.json"),
                audience=get("OIDC_AUDIENCE", "titles"),
            ),
            test_clock=get("TITLES_TEST_CLOCK") == "1",  # only an explicit "1" switches it on
            test_clock_file=get("TITLES_TEST_CLOCK_FILE")
            or os.path.join(get("TITLES_DATA_DIR", "data"), "test-clock.json"),
            workdays_provisional=get("TITLES_WORKDAYS_PROVISIONAL") == "1",
            workdays_file=get("TITLES_WORKDAYS_FILE"),
            log_level=get("LOG_LEVEL", "INFO"),
            prometheus_multiproc_dir=get("PROMETHEUS_MULTIPROC_DIR") or None,
            max_request_bytes=int(get("TITLES_MAX_REQUEST_BYTES", str(1024 * 1024))),
            max_upload_bytes=int(get("TITLES_MAX_UPLOAD_BYTES", str(11 * 1024 * 1024))),
            workflow_cache=int(get("TITLES_WORKFLOW_CACHE", "256")),
            db_pool_size=int(get("DB_POOL_SIZE") or get("WEB_THREADS") or "5"),
            rate_limits={k: v for k, v in sorted(environ.items()) if k.endswith("_RATE_LIMIT")},
            certificate_number_pattern=get("CERTIFICATE_NUMBER_PATTERN", "{authority}{year}{serial:06d}"),
            certificate_authority=get("CERTIFICATE_AUTHORITY", "TJZC"),
            certificate_issuer_name=get("CERTIFICATE_ISSUER_NAME", "天津市人力资源和社会保障局"),
            certificate_fonts=get("CERTIFICATE_FONTS"),
            certificate_icc_profile=get("CERTIFICATE_ICC_PROFILE"),
            certificate_verify_url=get("CERTIFICATE_VERIFY_URL") or None,
            certificate_tsa_url=get("CERTIFICATE_TSA_URL", "").strip() or None,
            certificate_signing={
                k: v
                for k, v in sorted(environ.items())
                if k.startswith(("CERTIFICATE_SIGNING_", "CERTIFICATE_TSA_")) or k == "CERTIFICATE_TRUST_ROOTS"
            },
            notify_smtp=None
            if not smtp_host
            else SmtpSettings(
                host=smtp_host,
                port=int(get("NOTIFY_SMTP_PORT", "25")),
                sender=get("NOTIFY_SMTP_FROM", "noreply@titles.invalid"),
                username=get("NOTIFY_SMTP_USER") or None,
                password=get("NOTIFY_SMTP_PASSWORD") or None,
                starttls=flag("NOTIFY_SMTP_STARTTLS"),
                timeout=float(get("NOTIFY_SMTP_TIMEOUT", "10")),
            ),
            notify_sms_gateway=get("NOTIFY_SMS_GATEWAY") or None,
            notify_retry_backoff_s=tuple(
                float(s) for s in get("NOTIFY_RETRY_BACKOFF_S", "30,120,600,1800,3600,7200").split(",") if s.strip()
            ),
            notify_templates=get("NOTIFY_TEMPLATES") or None,
            profile_register_file=get("PROFILE_REGISTER_FILE") or None,
            profile_attachment_max_bytes=int(get("PROFILE_ATTACHMENT_MAX_BYTES", str(10 * 1024 * 1024))),
            profile_photo_max_bytes=int(get("PROFILE_PHOTO_MAX_BYTES", str(2 * 1024 * 1024))),
            console=ConsoleSettings(
                oidc_issuer=get("CONSOLE_OIDC_ISSUER") or None,
                oidc_discovery_url=get("CONSOLE_OIDC_DISCOVERY_URL") or None,
                oidc_authorize_url=get("CONSOLE_OIDC_AUTHORIZE_URL") or None,
                client_id=get("CONSOLE_OIDC_CLIENT_ID", "titles-console"),
                client_secret=get("CONSOLE_OIDC_CLIENT_SECRET") or None,
                scope=get("CONSOLE_OIDC_SCOPE", "openid profile"),
                public_url=get("CONSOLE_URL") or None,
                secret_key=get("CONSOLE_SECRET_KEY") or None,
            ),
        )

    def database_url(self, service: str) -> str:
        return self.database_urls[service]

    def rate_limit(self, name: str, default: str) -> str:
        return self.rate_limits.get(name, default)


def _database_url(environ: Mapping[str, str], service: str, data_dir: Path) -> str:
    specific = environ.get(f"{service.upper()}_DATABASE_URL")
    if specific:
        return specific
    pattern = environ.get("DATABASE_URL")
    if pattern:
        return pattern.replace("{service}", service)
    return f"sqlite:///{data_dir / (service + '.db')}"


def _default_bpmn_dir() -> Path:
    beside_source = Path(__file__).resolve().parents[1] / "bpmn"
    return beside_source if beside_source.is_dir() else Path.cwd() / "bpmn"


# -- the process's settings -------------------------------------------------------------------------

_settings: Settings | None = None


def use(settings: Settings) -> Settings:
    """Install the settings a process built when it started (the command line, an app factory)."""
    global _settings
    _settings = settings
    return settings


def from_environment() -> Settings:
    """Build and install this process's settings from its environment."""
    return use(Settings.from_environ(os.environ))


def settings() -> Settings:
    """This process's settings: those installed at start, else read from the environment on first use."""
    return _settings if _settings is not None else from_environment()


# Shorthands for the settings most code needs.


def data_dir() -> Path:
    return settings().data_dir


def bpmn_dir() -> Path:
    """``TITLES_BPMN_DIR``, else the checkout's ``bpmn/``, else ``./bpmn`` (an installed image)."""
    return settings().bpmn_dir


def database_url(service: str) -> str:
    return settings().database_url(service)


def broker_url() -> str:
    return settings().broker_url


def namespace() -> str:
    return settings().namespace


def port(service: str) -> int:
    return settings().ports[service]


def service_url(service: str) -> str:
    """Where a client (the scenario, the README) reaches a service."""
    return settings().service_urls[service]


def oidc() -> OidcSettings:
    return settings().oidc
