"""Development OIDC issuer for the offline "embedded default" setup.

Signs RS256 tokens with a key kept under <data_dir>/dev-issuer/ for the demo users in
shared/demo/users.json, the applicants registered with it and the staff accounts of the profile
directory (shared/identity/dev_accounts.py), and serves discovery + JWKS so services verify these
tokens exactly as they would a real provider's. Browsers sign in through the authorization code
flow with PKCE (shared/identity/dev_signin.py); tests and the scenario keep ``POST /token
{"username": ...}``. Not for production.
"""

from __future__ import annotations

import argparse
import base64
import functools
import hashlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, Response, jsonify, redirect, render_template_string, request
from flask.json.provider import DefaultJSONProvider
from flask.typing import ResponseReturnValue

from shared import config
from shared.identity import dev_accounts, dev_signin

DEFAULT_ISSUER = "http://127.0.0.1:8000"  # config.service_url("issuer") by default
DEFAULT_AUDIENCE = "titles"
DEFAULT_LIFETIME = 8 * 3600
KEY_FILE = Path("dev-issuer") / "private_key.pem"


class UnknownUser(KeyError):
    def __init__(self, username: str, known: list[str]) -> None:
        super().__init__(username)
        self.username = username
        self.known = known

    def __str__(self) -> str:  # KeyError would otherwise repr() the message
        return f"unknown user {self.username!r}; known users: {', '.join(self.known)}"


# ---------------------------------------------------------------- users


def _users() -> dict[str, dict[str, Any]]:
    return dev_accounts.fixed_users()


def demo_users() -> list[dict[str, Any]]:
    """Public view of the demo users (explicit whitelist, so nothing else leaks)."""
    return [{k: u.get(k) for k in ("username", "name", "role", "org")} for u in _users().values()]


def _user(username: str) -> dict[str, Any]:
    users = _users()
    if username not in users:
        raise UnknownUser(username, list(users))
    return users[username]


# ---------------------------------------------------------------- key


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    return Path(data_dir or config.data_dir()).resolve()


def default_issuer() -> str:
    """$OIDC_ISSUER, else this issuer's own URL (port 8000 unless ISSUER_PORT says otherwise)."""
    return config.oidc().issuer


def _create_key_file(path: Path) -> None:
    """Write a new key at `path` unless one appears first; safe across processes.

    The PEM goes to a private temp file which is then hard-linked into place:
    os.link fails if the target exists, so exactly one concurrent starter wins
    and readers never see a half-written file.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass  # another process won the race; use its key
    finally:
        os.unlink(tmp)


@functools.lru_cache(maxsize=8)
def _load_key(path: str, _stamp: tuple[int, int]) -> tuple[str, rsa.RSAPrivateKey]:
    # Cached per file identity (inode, mtime) so a replaced key file is picked up.
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path} does not hold an RSA private key")
    return _thumbprint(_public_jwk(key)), key


def signing_key(data_dir: str | os.PathLike[str] | None = None) -> tuple[str, rsa.RSAPrivateKey]:
    """(kid, private key) of the dev issuer, creating the key on first use."""
    path = resolve_data_dir(data_dir) / KEY_FILE
    if not path.exists():
        _create_key_file(path)
    st = path.stat()
    return _load_key(str(path), (st.st_ino, st.st_mtime_ns))


def _b64url_uint(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8 or 1, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {"kty": "RSA", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}


def _thumbprint(jwk: dict[str, str]) -> str:
    # RFC 7638: SHA-256 over the required members, sorted, no whitespace.
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"), sort_keys=True)
    digest = hashlib.sha256(canonical.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def jwks(data_dir: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    kid, key = signing_key(data_dir)
    return {"keys": [{**_public_jwk(key), "kid": kid, "use": "sig", "alg": "RS256"}]}


def write_jwks_file(path: str | os.PathLike[str], data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Write the public JWKS to `path` (for file:// JWKS URLs); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(jwks(data_dir), indent=2), encoding="utf-8")
    return target


# ---------------------------------------------------------------- tokens


def issue_token(
    username: str,
    data_dir: str | os.PathLike[str] | None = None,
    issuer: str | None = None,
    audience: str = DEFAULT_AUDIENCE,
    lifetime_seconds: int = DEFAULT_LIFETIME,
) -> str:
    return issue_token_for(_user(username), data_dir, issuer, audience, lifetime_seconds)


def issue_token_for(
    account: dict[str, Any],
    data_dir: str | os.PathLike[str] | None = None,
    issuer: str | None = None,
    audience: str = DEFAULT_AUDIENCE,
    lifetime_seconds: int = DEFAULT_LIFETIME,
    **extra: Any,
) -> str:
    """A token for any account the issuer knows (demo, registered applicant or directory staff)."""
    kid, key = signing_key(data_dir)
    now = int(time.time())  # real time, not the system's clock: token libraries check iat/exp by it
    claims: dict[str, Any] = {
        "iss": issuer or default_issuer(),
        "aud": audience,
        "sub": account["username"],
        "iat": now,
        "exp": now + lifetime_seconds,
        **dev_accounts.claims_of(account),
        **{k: v for k, v in extra.items() if v is not None},
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


# The issuer reads the profile directory as the title office would, under a name of its own.
ISSUER_ACCOUNT = {"username": "dev-issuer", "name": "开发身份认证", "role": "title_office", "org": None}


def accounts(
    data_dir: str | os.PathLike[str] | None = None, issuer: str | None = None, profile_url: str | None = None
) -> dev_accounts.Accounts:
    data = resolve_data_dir(data_dir)
    directory = dev_accounts.Directory(
        profile_url or config.service_url("profile"),
        lambda: issue_token_for(ISSUER_ACCOUNT, data, issuer=issuer, lifetime_seconds=60),
    )
    return dev_accounts.Accounts(data, directory)


# ---------------------------------------------------------------- HTTP service


def _problem(status: int, title: str, detail: str) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _oauth_error(status: int, error: str, description: str) -> Response:
    response = jsonify(error=error, error_description=description)  # RFC 6749 §5.2
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response


def create_app(
    data_dir: str | os.PathLike[str] | None = None, issuer: str | None = None, profile_url: str | None = None
) -> Flask:
    app = Flask(__name__)
    app.config["TITLES_DATA_DIR"] = str(resolve_data_dir(data_dir))
    app.config["OIDC_ISSUER"] = issuer or default_issuer()
    if isinstance(app.json, DefaultJSONProvider):
        app.json.ensure_ascii = False  # demo names are Chinese; keep them readable
    people = accounts(app.config["TITLES_DATA_DIR"], app.config["OIDC_ISSUER"], profile_url)

    def base() -> str:
        return str(app.config["OIDC_ISSUER"]).rstrip("/")

    def tokens_for(account: dict[str, Any], client_id: str | None = None, nonce: str | None = None) -> Response:
        data = app.config["TITLES_DATA_DIR"]
        body: dict[str, Any] = {
            "access_token": issue_token_for(account, data, issuer=app.config["OIDC_ISSUER"]),
            "token_type": "Bearer",
            "expires_in": DEFAULT_LIFETIME,
        }
        if client_id:  # an OpenID Connect client also gets its ID token
            body["id_token"] = issue_token_for(
                account, data, issuer=app.config["OIDC_ISSUER"], audience=client_id, nonce=nonce
            )
        response = jsonify(body)
        response.headers["Cache-Control"] = "no-store"  # RFC 6749 §5.1
        return response

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return jsonify(
            issuer=app.config["OIDC_ISSUER"],
            jwks_uri=base() + "/jwks.json",
            authorization_endpoint=base() + "/authorize",
            token_endpoint=base() + "/token",
            response_types_supported=["code"],
            grant_types_supported=["authorization_code"],
            code_challenge_methods_supported=["S256"],
            token_endpoint_auth_methods_supported=["none"],
            scopes_supported=["openid", "profile"],
            claims_supported=["sub", "name", "role", "org", "id_number"],
            id_token_signing_alg_values_supported=["RS256"],
            subject_types_supported=["public"],
        )

    @app.get("/jwks.json")
    def jwks_route() -> Response:
        return jsonify(jwks(app.config["TITLES_DATA_DIR"]))

    def signin_page(auth: dict[str, str], error: str | None = None, status: int = 200) -> ResponseReturnValue:
        users, note = people.listing()
        return render_template_string(
            dev_signin.SIGNIN_PAGE,
            request=auth,
            users=users,
            note=note,
            error=error,
            action="/authorize",
            roles=dev_signin.ROLE_NAMES,
        ), status

    @app.route("/authorize", methods=["GET", "POST"])
    def authorize() -> ResponseReturnValue:
        try:
            auth = dev_signin.authorization_request(request.values)
        except dev_signin.AuthorizeError as exc:
            if not exc.redirectable:
                return _problem(400, "Bad Request", exc.description)
            return redirect(
                dev_signin.redirect_with(dict(request.values), error=exc.error, error_description=exc.description)
            )
        if request.method == "GET":
            return signin_page(auth)
        if request.form.get("register"):
            try:
                account = people.register_applicant(
                    request.form.get("new_username", ""),
                    request.form.get("name", ""),
                    request.form.get("id_number", ""),
                )
            except dev_accounts.Refusal as exc:
                return signin_page(
                    auth, f"注册失败 registration refused — {exc.field} ({exc.rule}): {exc.message}", 422
                )
        else:
            username = (request.form.get("username") or "").strip()
            found = people.find(username) if username else None
            if found is None:
                return signin_page(auth, f"未知用户 unknown user {username!r}", 422)
            account = found
        kid, key = signing_key(app.config["TITLES_DATA_DIR"])
        code = dev_signin.issue_code(key, kid, app.config["OIDC_ISSUER"], account["username"], auth)
        return redirect(dev_signin.redirect_with(auth, code=code))

    @app.post("/token")
    def token() -> ResponseReturnValue:
        payload: Any = (request.get_json(silent=True) if request.is_json else request.form) or {}
        if payload.get("grant_type") == "authorization_code":
            _, key = signing_key(app.config["TITLES_DATA_DIR"])
            try:
                claims = dev_signin.redeem_code(
                    key.public_key(), app.config["OIDC_ISSUER"], Path(app.config["TITLES_DATA_DIR"]), payload
                )
            except dev_signin.GrantError as exc:
                return _oauth_error(400, exc.error, exc.description)
            account = people.find(claims["sub"])
            if account is None:
                return _oauth_error(400, "invalid_grant", f"the account {claims['sub']!r} is no longer known")
            return tokens_for(account, claims["cid"], claims.get("nonce"))
        if payload.get("grant_type") is not None:
            return _oauth_error(
                400,
                "unsupported_grant_type",
                'only authorization_code (and the development shortcut {"username": ...}) are supported',
            )
        username = payload.get("username")
        if not isinstance(username, str) or not username:
            return _problem(400, "Bad Request", "field 'username' is required")
        account = people.find(username)
        if account is None:
            return _problem(
                400,
                "Bad Request",
                str(UnknownUser(username, list(_users())))
                + " (or an applicant registered here, or a staff account of the profile directory)",
            )
        return tokens_for(account)

    @app.get("/users")
    def users() -> Response:
        return jsonify(users=demo_users())

    @app.get("/health")
    def health() -> Response:
        return jsonify(status="ok")

    return app


# ---------------------------------------------------------------- CLI


def token_command(argv: list[str] | None = None) -> int:
    """`titles-dev-token USERNAME`: print a dev token to stdout."""
    parser = argparse.ArgumentParser(prog="titles-dev-token", description="Print a development bearer token.")
    parser.add_argument("username", help="demo user: " + ", ".join(_users()))
    parser.add_argument("--data-dir", help="default: $TITLES_DATA_DIR or ./data")
    parser.add_argument("--issuer", help=f"default: $OIDC_ISSUER or {DEFAULT_ISSUER}")
    parser.add_argument("--audience", default=DEFAULT_AUDIENCE)
    args = parser.parse_args(argv)
    try:
        token = issue_token(args.username, args.data_dir, issuer=args.issuer, audience=args.audience)
    except UnknownUser as exc:
        print(f"titles-dev-token: {exc}", file=sys.stderr)
        return 2
    print(token)
    return 0
