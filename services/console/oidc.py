"""The console's sign-in: an OpenID Connect client using the authorization code flow with PKCE.

The provider is the development issuer by default and a real one by configuration:

- ``CONSOLE_OIDC_ISSUER`` (default ``OIDC_ISSUER``, i.e. the development issuer) and its discovery
  document at ``<issuer>/.well-known/openid-configuration`` (``CONSOLE_OIDC_DISCOVERY_URL`` to
  override), read server-side; the browser is sent to its ``authorization_endpoint``, or to
  ``CONSOLE_OIDC_AUTHORIZE_URL`` where the browser reaches the provider under another name than
  the console does (containers).
- ``CONSOLE_OIDC_CLIENT_ID`` (``titles-console``), ``CONSOLE_OIDC_CLIENT_SECRET`` (a confidential
  client; none for a public one), ``CONSOLE_OIDC_SCOPE`` (``openid profile``).
- ``CONSOLE_URL``: the console's public address, for the redirect URI (default: as requested).

The access token received is the one the services accept (issuer, audience and role claims as
``OIDC_*`` configure them): it is verified here the same way before the session keeps it.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import requests

from shared import config
from shared.identity.principal import Principal
from shared.identity.tokens import InvalidToken, TokenVerifier

TIMEOUT_S = 10.0
DISCOVERY_TTL_S = 300.0


class SignInFailed(RuntimeError):
    """The provider refused or the answer could not be trusted; the message is safe to show."""


@dataclass(frozen=True)
class Settings:
    issuer: str
    discovery_url: str
    client_id: str
    client_secret: str | None
    scope: str
    public_url: str | None


def settings() -> Settings:
    console = config.settings().console
    issuer = console.oidc_issuer or config.oidc().issuer
    return Settings(
        issuer=issuer,
        discovery_url=console.oidc_discovery_url or issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_id=console.client_id,
        client_secret=console.client_secret,
        scope=console.scope,
        public_url=console.public_url,
    )


_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


def discovery(url: str) -> dict[str, Any]:
    cached = _discovered.get(url)
    if cached and time.monotonic() - cached[0] < DISCOVERY_TTL_S:
        return cached[1]
    try:
        response = requests.get(url, timeout=TIMEOUT_S)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise SignInFailed(f"the identity provider's discovery document {url} could not be read: {exc}") from exc
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise SignInFailed(f"the identity provider's discovery document has no {key}")
    _discovered[url] = (time.monotonic(), document)
    return document


def pkce_pair() -> tuple[str, str]:
    """(verifier, S256 challenge) per RFC 7636."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorization_url(cfg: Settings, redirect_uri: str, state: str, nonce: str, challenge: str) -> str:
    endpoint = config.settings().console.oidc_authorize_url or discovery(cfg.discovery_url)["authorization_endpoint"]
    query = urlencode(
        {
            "response_type": "code",
            "client_id": cfg.client_id,
            "redirect_uri": redirect_uri,
            "scope": cfg.scope,
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return endpoint + ("&" if "?" in endpoint else "?") + query


def exchange(cfg: Settings, code: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
    """The token response for an authorization code (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "client_id": cfg.client_id,
        "code_verifier": verifier,
    }
    if cfg.client_secret:
        form["client_secret"] = cfg.client_secret
    try:
        response = requests.post(
            discovery(cfg.discovery_url)["token_endpoint"],
            data=form,
            timeout=TIMEOUT_S,
            headers={"Accept": "application/json"},
        )
        body = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise SignInFailed(f"the identity provider's token endpoint did not answer: {exc}") from exc
    if response.status_code != 200 or "access_token" not in body:
        raise SignInFailed(
            f"the identity provider refused the code: {body.get('error')} {body.get('error_description') or ''}".strip()
        )
    return body


@functools.cache
def _service_verifier(issuer: str, audience: str, jwks_url: str) -> TokenVerifier:
    return TokenVerifier(issuer, audience, jwks_url)


def verify_access_token(token: str) -> Principal:
    """Who the token names, checked exactly as the services check it."""
    s = config.oidc()
    try:
        return _service_verifier(s.issuer, s.audience, s.jwks_url).verify(token)
    except InvalidToken as exc:
        raise SignInFailed(f"the access token is not one the services accept: {exc.message}") from exc


def check_id_token(cfg: Settings, id_token: str, nonce: str) -> None:
    """The ID token is the provider's, for this client, and answers this sign-in's nonce (replay)."""
    client = jwt.PyJWKClient(discovery(cfg.discovery_url)["jwks_uri"], cache_keys=True)
    try:
        key = client.get_signing_key_from_jwt(id_token)
        claims = jwt.decode(
            id_token, key.key, algorithms=["RS256"], audience=cfg.client_id, issuer=cfg.issuer, leeway=30
        )
    except jwt.PyJWTError as exc:
        raise SignInFailed(f"the ID token is not valid: {exc}") from exc
    if claims.get("nonce") != nonce:
        raise SignInFailed("the ID token does not answer this sign-in (nonce)")
