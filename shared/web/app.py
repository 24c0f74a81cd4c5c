"""The app factory every service builds on.

It gives each service the same operational surface: ``/health`` (alive),
``/ready`` (database and broker answer), ``/metrics``, ``/openapi.json``,
problem-details errors, bearer-token authentication, JSON request logs that
carry the correlation id, and request metrics.
"""

from __future__ import annotations

import http
import logging
import threading
import time
import types
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException, InternalServerError

from shared import config
from shared.errors import DomainError
from shared.identity.flask_auth import init_auth
from shared.identity.tokens import TokenVerifier
from shared.messaging import broker
from shared.observability import context, metrics
from shared.uow import Database
from shared.web import limits, paths, problems, views
from shared.web.blueprint import Blueprint
from shared.web.views import public

log = logging.getLogger(__name__)
READY_TIMEOUT_S = 2.0
READY_FRESH_S = 1.0  # a passed readiness check answers the probes of the next second (Probes)


class ProblemApi(Api):
    """flask-smorest, answering every error with RFC 9457 problem details, and saying so in the
    OpenAPI: every operation documents its error responses as ``application/problem+json``."""

    ERROR_SCHEMA = problems.ProblemSchema

    def handle_http_exception(self, error: HTTPException) -> Response:
        return problems.from_http_exception(error)

    def _register_responses(self) -> None:
        super()._register_responses()
        for status in http.HTTPStatus:
            if status >= 400:
                self.spec.components.response(status.name, problems.documented(status.phrase), lazy=True)
        self.spec.components.response("DEFAULT_ERROR", problems.documented("Error (problem details)"), lazy=True)


class ServiceFlask(Flask):
    """Flask, with what it asks of every view and hook on every request answered once."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._synchronous: dict[Callable[..., Any], Callable[..., Any]] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        # Flask asks whether each hook and the view are coroutine functions (inspect's flags, a few µs each,
        # some eight times a request): a plain function's answer never changes, so it is kept. Anything else
        # (a bound method made anew for each call, say) is asked as Flask asks.
        if type(func) is not types.FunctionType:
            return super().ensure_sync(func)
        found = self._synchronous.get(func)
        if found is None:
            found = self._synchronous[func] = super().ensure_sync(func)
        return found


def create_service_app(
    service: str,
    database: Database,
    blueprints: Iterable[Blueprint],
    *,
    title: str,
    description: str,
    verifier: TokenVerifier | None = None,
    broker_check: Callable[[], None] | None = None,
    extensions: dict[str, Any] | None = None,
    settings: config.Settings | None = None,
) -> Flask:
    settings = settings or config.settings()
    app = ServiceFlask(service)
    app.config.update(
        API_TITLE=title,
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": description},
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearer": []}],
        },
        JSON_AS_ASCII=False,
    )
    if isinstance(app.json, DefaultJSONProvider):
        app.json.ensure_ascii = False  # Chinese stays readable in responses
    app.extensions["titles.database"] = database
    app.extensions["titles.service"] = service
    app.extensions["titles.settings"] = settings
    for key, value in (extensions or {}).items():
        app.extensions[key] = value

    oidc = settings.oidc
    init_auth(app, verifier or TokenVerifier(oidc.issuer, oidc.audience, oidc.jwks_url))

    api = ProblemApi(app)
    paths.install(app, api)
    # Every string the API takes is free of control characters (shared/web/limits.py): say so.
    api.ma_plugin.converter.add_attribute_function(_text_pattern)
    api.register_blueprint(_operations_blueprint(service, database, broker_check or broker.ping))
    for blueprint in blueprints:
        api.register_blueprint(blueprint)
    app.extensions["titles.api"] = api

    views.install(app)  # first: who asks comes before what they send
    limits.install(app)
    app.register_error_handler(DomainError, problems.from_domain_error)
    app.register_error_handler(Exception, _unexpected)
    _instrument(app, service)
    return app


def _text_pattern(self: Any, field: Any, **_: Any) -> dict[str, Any]:
    if isinstance(field, fields.String) and not isinstance(
        field, (fields.DateTime, fields.Date, fields.UUID, fields.Email, fields.Url)
    ):
        return {"pattern": limits.TEXT_PATTERN} if "pattern" not in (field.metadata or {}) else {}
    return {}


def database() -> Database:
    from flask import current_app

    found: Database = current_app.extensions["titles.database"]
    return found


def _unexpected(error: Exception) -> Response:
    if isinstance(error, HTTPException):
        return problems.from_http_exception(error)
    log.exception("unhandled error")
    return problems.from_http_exception(InternalServerError())


def _operations_blueprint(service: str, db: Database, broker_check: Callable[[], None]) -> Blueprint:
    ops = Blueprint("operations", __name__, description="Liveness, readiness and metrics")
    probes = Probes()

    @ops.route("/health")
    @public
    @ops.response(200, HealthOut)
    def health() -> Response:
        """The process is alive."""
        return jsonify(status="ok", service=service)

    @ops.route("/ready")
    @public
    @ops.response(200, ReadyOut)
    @ops.alt_response(503, response="SERVICE_UNAVAILABLE", description="a dependency does not answer")
    def ready() -> Response | tuple[Response, int]:
        """The service's database and the broker answer."""
        checks = {name: probes.run(name, check) for name, check in (("database", db.ping), ("broker", broker_check))}
        ok = all(v == "ok" for v in checks.values())
        if ok:
            return jsonify(status="ready", service=service, checks=checks)
        return problems.problem(
            503,
            "Service Unavailable",
            "dependencies not ready: " + ", ".join(k for k, v in checks.items() if v != "ok"),
            [{"field": k, "rule": "reachable", "message": v} for k, v in checks.items() if v != "ok"],
        ), 503

    @ops.route("/metrics")
    @public
    @ops.doc(
        responses={
            "200": {
                "description": "Prometheus text exposition",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        }
    )
    def prometheus() -> Response:
        """Prometheus metrics: requests, messages consumed and published, outbox backlog."""
        return Response(metrics.render(service, db.outbox_backlog), mimetype="text/plain; version=0.0.4")

    return ops


class HealthOut(Schema):
    status = fields.String()
    service = fields.String()


class ReadyOut(HealthOut):
    checks = fields.Dict(keys=fields.String(), values=fields.String())


class Probes:
    """Readiness checks that answer within ``READY_TIMEOUT_S`` whatever the database is doing.

    Each check runs on a thread of its own; one still running from an earlier probe is reported, not
    started again, so probes of a stuck database never pile up and take every web thread. A check that
    passed less than ``READY_FRESH_S`` ago answers the probes meanwhile: a burst of probes (every client
    of the benchmark starts a lifecycle with one, a load balancer's and the kubelet's come together) costs
    the database and the broker one check, where each made a connection of its own (on RabbitMQ a whole
    AMQP handshake). A failure is never reused: the next probe checks again."""

    def __init__(self) -> None:
        self.running: dict[str, Future[None]] = {}
        self.passed: dict[str, float] = {}  # check -> when it last passed (monotonic)
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ready-probe")

    def run(self, name: str, check: Callable[[], None]) -> str:
        with self.lock:
            passed = self.passed.get(name)
            if passed is not None and time.monotonic() - passed < READY_FRESH_S:
                return "ok"
            future = self.running.get(name)
            if future is None or future.done():
                future = self.running[name] = self.pool.submit(check)
        try:
            future.result(timeout=READY_TIMEOUT_S)
        except FutureTimeout:
            outcome = f"failed: no answer within {READY_TIMEOUT_S:g} s"
        except Exception as exc:  # noqa: BLE001 - report, do not crash the probe
            outcome = f"failed: {type(exc).__name__}: {exc}"[:300]
        else:
            outcome = "ok"
        with self.lock:
            if outcome == "ok":
                self.passed[name] = time.monotonic()
            else:
                self.passed.pop(name, None)  # what passed before no longer answers for this check
        return outcome


def _instrument(app: Flask, service: str) -> None:
    @app.before_request
    def _start() -> None:
        g.started = time.perf_counter()
        g.cpu_started = time.thread_time()
        g.context_token = context.correlation_id.set(request.headers.get("X-Correlation-ID") or None)

    @app.after_request
    def _finish(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        elapsed = time.perf_counter() - g.get("started", time.perf_counter())
        metrics.http_requests.labels(service, request.method, endpoint, str(response.status_code)).inc()
        metrics.http_seconds.labels(service, endpoint).observe(elapsed)
        if "cpu_started" in g:  # (a request some earlier hook answered never started the clock)
            metrics.cpu_seconds.labels(service, "http", f"{request.method} {endpoint}").inc(
                time.thread_time() - g.cpu_started
            )
        if context.correlation_id.get():
            response.headers["X-Correlation-ID"] = context.correlation_id.get()
        if endpoint not in ("/health", "/metrics", "/ready"):
            log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "ms": round(elapsed * 1000, 2),
                },
            )
        return response

    @app.teardown_request
    def _reset(_exc: BaseException | None) -> None:
        token = g.pop("context_token", None)
        if token is not None:
            context.correlation_id.reset(token)


def new_id() -> str:
    return str(uuid.uuid4())
