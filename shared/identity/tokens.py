"""Verify RS256 bearer tokens from the OIDC provider against its JWKS."""

from __future__ import annotations

import json
import threading
import time
from collections import OrderedDict
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

import jwt

from .principal import ROLES, Principal

ALGORITHM = "RS256"  # the only algorithm accepted; blocks alg=none / HS256 confusion
REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub", "role")
VERIFIED_KEPT = 4096  # tokens remembered as verified, the oldest forgotten first


class InvalidToken(Exception):
    """The bearer token cannot be trusted; str(exc) says why (safe to show callers)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class KeySetUnavailable(InvalidToken):
    """The JWKS could not be fetched: a provider/config problem, not the caller's fault."""


class _FileJWKClient(jwt.PyJWKClient):
    """PyJWKClient reading a local JWKS file.

    PyJWT >= 2.10 refuses non-http(s) URIs in its constructor (a guard against
    attacker-supplied `jku` URLs). Our URL is operator configuration, and the
    offline/test setup needs file://, so only the transport is replaced here;
    caching and kid lookup stay PyJWT's.
    """

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__("http://jwks.invalid/", **kwargs)  # placeholder, never fetched
        self.uri = url
        self._path = url2pathname(urlparse(url).path)  # also percent-decodes

    def fetch_data(self) -> Any:
        try:
            with open(self._path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as exc:
            raise jwt.PyJWKClientConnectionError(f"cannot read JWKS file {self._path}: {exc}") from exc
        if not isinstance(data, dict):
            raise jwt.PyJWKClientConnectionError(f"JWKS file {self._path} does not hold a JSON object")
        return data  # get_jwk_set() parses and caches it


def _make_jwk_client(jwks_url: str) -> jwt.PyJWKClient:
    scheme = urlparse(jwks_url).scheme.lower()
    if scheme in ("http", "https"):
        return jwt.PyJWKClient(jwks_url, cache_keys=True)
    if scheme == "file":
        return _FileJWKClient(jwks_url, cache_keys=True)
    raise ValueError(f"unsupported JWKS URL scheme {scheme!r} in {jwks_url!r}; use http(s):// or file://")


class TokenVerifier:
    """Checks signature, expiry, issuer, audience and our required claims."""

    def __init__(self, issuer: str, audience: str, jwks_url: str, leeway: int = 30) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url
        self.leeway = leeway
        # Building the client validates the URL scheme but fetches nothing: keys
        # are loaded on first verify(), so services start before the provider is up.
        self._client = _make_jwk_client(jwks_url)
        self._verified: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        """The token's principal. A token verified before is taken from memory until it expires: a
        client sends the same token with every request, and checking its RSA signature again each
        time is most of the cost of authentication (bench/results.md)."""
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:
            return known[0]
        principal = self._verify(token)
        with self._lock:
            self._verified[token] = (principal, float(principal.claims["exp"]) + self.leeway)
            while len(self._verified) > VERIFIED_KEPT:
                self._verified.popitem(last=False)
        return principal

    def _verify(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"malformed token: {exc}") from exc

        alg = header.get("alg")
        if alg != ALGORITHM:
            raise InvalidToken(f"token algorithm {alg!r} is not accepted; only {ALGORITHM} is")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token header has no key id (kid)")

        key = self._signing_key(kid)
        claims = self._decode(token, key)
        return self._principal(claims)

    def _signing_key(self, kid: str) -> jwt.PyJWK:
        try:
            key = self._client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as exc:
            raise KeySetUnavailable(f"cannot fetch signing keys from {self.jwks_url}: {exc}") from exc
        except jwt.PyJWKClientError as exc:
            raise InvalidToken(f"unknown signing key id {kid!r} (not in the provider's key set)") from exc
        except jwt.PyJWTError as exc:  # e.g. PyJWKSetError for a malformed key set
            raise KeySetUnavailable(f"unusable key set at {self.jwks_url}: {exc}") from exc
        if key.key_type != "RSA":
            raise InvalidToken(f"signing key {kid!r} is {key.key_type}, expected RSA")
        return key

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token has expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidToken("token is not valid yet (nbf in the future)") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidToken("token signature is invalid") from exc
        except jwt.InvalidAudienceError as exc:
            raise InvalidToken(f"token audience is wrong (expected {self.audience!r})") from exc
        except jwt.InvalidIssuerError as exc:
            raise InvalidToken(f"token issuer is wrong (expected {self.issuer!r})") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidToken(f"token is missing the required claim {exc.claim!r}") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"token is invalid: {exc}") from exc

    @staticmethod
    def _principal(claims: dict[str, Any]) -> Principal:
        sub, role = claims["sub"], claims["role"]
        if not isinstance(sub, str) or not sub:
            raise InvalidToken("token claim 'sub' must be a non-empty string")
        if role not in ROLES:
            raise InvalidToken(f"token role {role!r} is not one of: {', '.join(ROLES)}")

        def optional_str(name: str) -> str | None:
            value = claims.get(name)
            if value is not None and not isinstance(value, str):
                raise InvalidToken(f"token claim {name!r} must be a string")
            return value

        return Principal(
            subject=sub,
            role=role,
            organisation=optional_str("org"),
            name=optional_str("name"),
            id_number=optional_str("id_number"),
            claims=dict(claims),
        )
