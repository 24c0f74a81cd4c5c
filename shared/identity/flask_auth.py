"""Flask glue: bearer-token authentication and role checks for service routes.

Failures are raised as werkzeug HTTPExceptions; the shared app factory renders
them as problem JSON, so no error handlers are registered here.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from flask import Flask, current_app, g, request
from werkzeug.datastructures import WWWAuthenticate
from werkzeug.exceptions import Forbidden, Unauthorized

from .principal import ROLES, Principal
from .tokens import InvalidToken, TokenVerifier

EXTENSION_KEY = "titles.auth"
REALM = "titles"

P = ParamSpec("P")
R = TypeVar("R")


def init_auth(app: Flask, verifier: TokenVerifier) -> None:
    app.extensions[EXTENSION_KEY] = verifier


class _BearerChallenge(WWWAuthenticate):
    """RFC 6750 challenge; werkzeug leaves token-like values unquoted, clients expect quotes."""

    def to_header(self) -> str:
        params = ", ".join(f'{k}="{_sanitize(v or "")}"' for k, v in self.parameters.items())
        return f"Bearer {params}"

    __str__ = to_header


def _sanitize(value: str) -> str:
    # RFC 6750 §3: error_description is printable ASCII without '"' and '\'.
    return re.sub(r"[^\x20-\x21\x23-\x5b\x5d-\x7e]", "?", value)


def _unauthorized(description: str, error: str | None = "invalid_token") -> Unauthorized:
    values: dict[str, str | None] = {"realm": REALM}
    if error:  # RFC 6750 §3.1: no error code when credentials are simply absent
        values.update(error=error, error_description=description)
    return Unauthorized(description=description, www_authenticate=_BearerChallenge("Bearer", values))


def current_principal() -> Principal:
    """The verified caller of the current request; raises Unauthorized otherwise."""
    cached: Principal | None = g.get("titles_principal")
    if cached is not None:
        return cached

    verifier: TokenVerifier | None = current_app.extensions.get(EXTENSION_KEY)
    if verifier is None:
        raise RuntimeError("init_auth(app, verifier) was not called for this app")

    header = request.headers.get("Authorization")
    if not header:
        raise _unauthorized("missing Authorization header (expected 'Bearer <token>')", error=None)
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise _unauthorized("malformed Authorization header (expected 'Bearer <token>')")

    try:
        principal = verifier.verify(token)
    except InvalidToken as exc:
        raise _unauthorized(f"invalid token: {exc.message}") from exc
    g.titles_principal = principal
    return principal


def require_roles(*roles: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Route decorator: authenticate, then allow only the given roles."""
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:  # catch typos at import time rather than as 403s
        raise ValueError(f"require_roles needs roles from {ROLES}; got {roles!r}")

    def decorator(view: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(view)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            principal = current_principal()
            if principal.role not in roles:
                raise Forbidden(f"role {principal.role!r} may not do this; allowed: {', '.join(roles)}")
            return view(*args, **kwargs)

        return wrapper

    return decorator
