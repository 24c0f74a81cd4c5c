"""Configuration is read in one place: shared/config.py's Settings (the command line and the supervisor
only build environments for the processes they start)."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

from shared import config
from shared.config import Settings

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "services", "scenario", "titles")
ALLOWED = {"shared/config.py", "shared/cli.py", "shared/supervisor.py", "titles/cli.py", "titles/supervisor.py"}


def environment_reads(path: Path) -> list[int]:
    """Lines that touch os.environ or call getenv, however imported."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "environb", "getenv"):
            lines.append(node.lineno)
        elif (
            isinstance(node, ast.ImportFrom)
            and node.module == "os"
            and any(alias.name in ("environ", "environb", "getenv") for alias in node.names)
        ):
            lines.append(node.lineno)
    return lines


def test_only_the_settings_read_the_environment():
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            if name not in ALLOWED and environment_reads(path):
                found[name] = environment_reads(path)
    assert found == {}, f"read the environment in shared/config.py's Settings, not here: {found}"


def test_the_docstring_names_every_variable_read():
    source = inspect.getsource(Settings.from_environ) + inspect.getsource(config._database_url)
    read = set(re.findall(r'"([A-Z][A-Z0-9_]{2,})"', source))
    documented = Settings.__doc__ or ""
    assert read, "no variable found: the pattern no longer matches how from_environ reads them"
    assert sorted(name for name in read if name not in documented) == []


def test_defaults():
    settings = Settings.from_environ({})
    assert settings.broker_url == "embedded://"
    assert settings.data_dir == Path("data").resolve()
    assert settings.database_url("review") == f"sqlite:///{Path('data').resolve() / 'review.db'}"
    assert settings.ports["certificate"] == 8004 and settings.service_urls["review"] == "http://127.0.0.1:8003"
    assert settings.oidc == config.OidcSettings("http://127.0.0.1:8000", "http://127.0.0.1:8000/jwks.json", "titles")
    assert settings.test_clock is False and settings.test_clock_file == "data/test-clock.json"
    assert settings.retry_delays_ms == config.DEFAULT_RETRY_DELAYS_MS
    assert settings.notify_smtp is None and settings.certificate_signing == {}
    assert settings.rate_limit("NOTIFY_REPORT_RATE_LIMIT", "5/3600") == "5/3600"


def test_values_are_read_once_into_the_settings():
    environ = {
        "TITLES_TEST_CLOCK": "1",
        "TITLES_RETRY_DELAYS_MS": "100,200",
        "NOTIFY_SMTP_HOST": "smtp.test",
        "NOTIFY_SMTP_STARTTLS": "yes",
        "CERTIFICATE_SIGNING_KEY": "/k.pem",
        "CERTIFICATE_TRUST_ROOTS": "/r.pem",
        "CERTIFICATE_TSA_URL": " none ",
        "CERTIFICATE_TSA_TIMEOUT_S": "3",
        "DATABASE_URL": "postgresql+psycopg://db/t_{service}",
        "REVIEW_DATABASE_URL": "postgresql+psycopg://other/review",
        "NOTIFY_REPORT_RATE_LIMIT": "2/60",
    }
    settings = Settings.from_environ(environ)
    environ.clear()  # nothing is read later
    assert settings.test_clock is True
    assert settings.retry_delays_ms == (100, 200)
    assert settings.notify_smtp is not None and settings.notify_smtp.starttls and settings.notify_smtp.port == 25
    assert settings.certificate_signing == {
        "CERTIFICATE_SIGNING_KEY": "/k.pem",
        "CERTIFICATE_TRUST_ROOTS": "/r.pem",
        "CERTIFICATE_TSA_URL": " none ",
        "CERTIFICATE_TSA_TIMEOUT_S": "3",
    }
    assert settings.certificate_tsa_url == "none"
    assert settings.database_url("profile") == "postgresql+psycopg://db/t_profile"
    assert settings.database_url("review") == "postgresql+psycopg://other/review"
    assert settings.rate_limit("NOTIFY_REPORT_RATE_LIMIT", "5/3600") == "2/60"


def test_a_process_keeps_a_connection_for_each_web_thread_unless_told_otherwise():
    assert Settings.from_environ({}).db_pool_size == 5
    assert Settings.from_environ({"WEB_THREADS": "8"}).db_pool_size == 8
    assert Settings.from_environ({"WEB_THREADS": "8", "DB_POOL_SIZE": "12"}).db_pool_size == 12
