"""Wires the console: a Flask app of its own (no database, no broker), its sign-in, pages and proxy.

    gunicorn -c deploy/gunicorn.conf.py "services.console.bootstrap:create_app()"

The session key comes from ``CONSOLE_SECRET_KEY``, else a key created once under
``<data_dir>/console/`` so that every worker and restart shares it.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

from flask import Flask, Response, abort, g, jsonify, render_template, request, session
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from services.console import (
    assets,
    backend,
    forms,
    pages,
    pages_applicant,
    pages_declare,
    pages_office,
    pages_profile,
    proxy,
    signin,
)
from shared import config
from shared.observability import context, metrics

log = logging.getLogger(__name__)
NAME = "console"
KEY_FILE = Path("console") / "secret_key"


def secret_key(data_dir: Path | None = None) -> str:
    explicit = config.settings().console.secret_key
    if explicit:
        return explicit
    path = (data_dir or config.data_dir()) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)  # the first of several starting workers wins; the others read its key
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
    return path.read_text().strip()


def csrf_token() -> str:
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return session["csrf"]


BEIJING = dt.timezone(dt.timedelta(hours=8))


def beijing(value: str | None) -> str:
    """A time the services give (ISO 8601, with its offset, or naive UTC) as Beijing time to the minute."""
    if not value:
        return ""
    try:
        parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return str(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(BEIJING).strftime("%Y-%m-%d %H:%M")


def create_app(data_dir: Path | None = None) -> Flask:
    settings = config.settings()
    app = Flask(NAME, root_path=str(Path(__file__).parent))
    app.extensions["titles.settings"] = settings
    app.config.update(
        SECRET_KEY=secret_key(data_dir),
        SESSION_COOKIE_NAME="titles_console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=(settings.console.public_url or "").startswith("https://"),
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=8),
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,  # an upload through the proxy (the services' own limit is 11 MiB)
    )
    if isinstance(app.json, DefaultJSONProvider):
        app.json.ensure_ascii = False  # Chinese stays readable
    for blueprint in (
        signin.bp,
        proxy.bp,
        pages.bp,
        pages_office.bp,
        pages_applicant.bp,
        pages_profile.bp,
        pages_declare.bp,
    ):
        app.register_blueprint(blueprint)

    @app.context_processor
    def _globals() -> dict:
        return {
            "user": signin.current_user(),
            "csrf_token": csrf_token,
            "roles": signin.ROLE_NAMES,
            "vendor": assets.available(),
            "labels": pages.LABELS,
            "label": pages.label,
            "value_of": forms.value_of,
        }

    app.add_template_filter(beijing)

    @app.before_request
    def _check() -> None:
        g.started = time.perf_counter()
        g.context_token = context.correlation_id.set(request.headers.get("X-Correlation-ID") or None)
        if request.method in ("GET", "HEAD", "OPTIONS"):
            return
        # A change needs this session's CSRF token: in the form, or (proxy calls) in a header.
        sent = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
        if not session.get("csrf") or not secrets.compare_digest(sent, session["csrf"]):
            abort(
                400,
                description="the form is stale or was not sent from the console (CSRF token); reload the "
                "page and try again",
            )

    @app.after_request
    def _finish(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        metrics.http_requests.labels(NAME, request.method, endpoint, str(response.status_code)).inc()
        metrics.http_seconds.labels(NAME, endpoint).observe(time.perf_counter() - g.get("started", time.perf_counter()))
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if endpoint not in ("/health", "/ready", "/metrics") and not request.path.startswith("/static/"):
            log.info("request", extra={"method": request.method, "path": request.path, "status": response.status_code})
        return response

    @app.teardown_request
    def _reset(_exc: BaseException | None) -> None:
        token = g.pop("context_token", None)
        if token is not None:
            context.correlation_id.reset(token)

    @app.errorhandler(backend.ApiError)
    def _api_error(error: backend.ApiError):
        if error.status == 401:  # the token expired or was revoked: sign in again
            session.pop("user", None)
        return render_template(
            "error.html", title=f"服务返回错误 The service answered {error.status}", message=str(error)
        ), error.status if error.status >= 400 else 502

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if request.path.startswith("/api/"):
            return jsonify(
                type="about:blank", title=error.name, status=error.code, detail=error.description
            ), error.code
        return render_template("error.html", title=f"{error.code} {error.name}", message=error.description), error.code

    @app.get("/health")
    def health():
        return jsonify(status="ok", service=NAME)

    @app.get("/ready")
    def ready():
        # The console is ready when it can serve its pages; the services answer for themselves.
        missing = assets.missing()
        if missing:
            return jsonify(status="degraded", service=NAME, missing_assets=missing), 200
        return jsonify(status="ready", service=NAME)

    @app.get("/metrics")
    def prometheus():
        return Response(metrics.render(NAME, lambda: 0), mimetype="text/plain; version=0.0.4")

    return app
