"""Calls to the services' public HTTP APIs, made server-side with the signed-in user's token.

The console has no data of its own: every page reads and writes through these calls, and the
same-origin proxy (``/api/<service>/...``) forwards the browser's own calls (the diagram's
process view, downloads, Swagger UI's "try it out") the same way. The browser never holds the
token, so no service needs CORS.
"""

from __future__ import annotations

from typing import Any

import requests

from shared import config
from shared.config import SERVICES

TIMEOUT_S = 15.0
_http = requests.Session()  # kept-alive connections to the services


class ApiError(RuntimeError):
    """A service answered with an error; ``problem`` is its RFC 9457 body when it sent one."""

    def __init__(self, status: int, problem: dict[str, Any] | None, what: str) -> None:
        self.status = status
        self.problem = problem or {}
        super().__init__(self.message(what))

    def message(self, what: str = "") -> str:
        detail = self.problem.get("detail") or self.problem.get("title") or f"HTTP {self.status}"
        rules = "; ".join(
            f"{e.get('field')}: {e.get('message') or e.get('rule')}"
            for e in self.problem.get("errors") or []
            if isinstance(e, dict)
        )
        return (f"{what} — " if what else "") + detail + (f" ({rules})" if rules and rules not in detail else "")


class ServiceUnavailable(ApiError):
    pass


def service_url(service: str) -> str:
    if service not in SERVICES:
        raise KeyError(service)
    return config.service_url(service).rstrip("/")


def raw(
    token: str | None,
    method: str,
    service: str,
    path: str,
    *,
    params: Any = None,
    data: Any = None,
    headers: dict[str, str] | None = None,
    stream: bool = False,
    files: Any = None,
) -> requests.Response:
    sent = dict(headers or {})
    if token:
        sent["Authorization"] = f"Bearer {token}"
    try:
        return _http.request(
            method,
            service_url(service) + path,
            params=params,
            data=data,
            headers=sent,
            files=files,
            timeout=TIMEOUT_S,
            stream=stream,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise ServiceUnavailable(
            503,
            {"title": "Service Unavailable", "detail": f"the {service} service did not answer ({type(exc).__name__})"},
            f"{method} {service}{path}",
        ) from exc


class Backend:
    """The user's view of the services: JSON in, JSON out, errors as ApiError."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def call(
        self, method: str, service: str, path: str, *, params: Any = None, json: Any = None, files: Any = None
    ) -> Any:
        import json as _json

        body = None if json is None else _json.dumps(json, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        response = raw(self.token, method, service, path, params=params, data=body, headers=headers, files=files)
        if response.status_code >= 400:
            try:
                problem = response.json()
            except ValueError:
                problem = {"detail": response.text[:300]}
            raise ApiError(
                response.status_code, problem if isinstance(problem, dict) else None, f"{method} {service} {path}"
            )
        if not response.content:
            return None
        return response.json()

    def get(self, service: str, path: str, **params: Any) -> Any:
        return self.call("GET", service, path, params={k: v for k, v in params.items() if v not in (None, "")})

    def post(self, service: str, path: str, json: Any = None) -> Any:
        return self.call("POST", service, path, json=json if json is not None else {})

    def upload(self, service: str, path: str, name: str, content: bytes, content_type: str | None) -> Any:
        """A file sent on as the multipart upload the service takes (the field ``file``)."""
        return self.call(
            "POST", service, path, files={"file": (name, content, content_type or "application/octet-stream")}
        )

    def optional(self, service: str, path: str, default: Any = None, **params: Any) -> Any:
        """A read that may be refused or absent for this user or this stage: the default then."""
        try:
            return self.get(service, path, **params)
        except ApiError as exc:
            if exc.status in (403, 404, 409):
                return default
            raise
