"""Tests for shared.identity: dev issuer, token verification, Flask auth glue."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import multiprocessing
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, jsonify
from werkzeug.serving import make_server

from shared.identity import dev_issuer
from shared.identity.dev_issuer import (
    UnknownUser,
    create_app,
    issue_token,
    jwks,
    signing_key,
    token_command,
    write_jwks_file,
)
from shared.identity.flask_auth import current_principal, init_auth, require_roles
from shared.identity.principal import ROLES, Principal
from shared.identity.tokens import InvalidToken, TokenVerifier

ISSUER = "http://issuer.test"
AUDIENCE = "titles"
REPO = Path(__file__).resolve().parents[2]

DEMO_USERS = {
    "applicant": ("applicant", None),
    "applicant2": ("applicant", None),
    "unit": ("unit", "91120101MA05K1XT13"),
    "dept1": ("department", "111201010000123459"),
    "dept2": ("department", "11120000000067890J"),
    "committee": ("committee", "12120000MB1234567L"),
    "expert1": ("expert", "12120000MB1234567L"),
    "expert2": ("expert", "12120000MB1234567L"),
    "expert3": ("expert", "12120000MB1234567L"),
    "title_office": ("title_office", "11120000000054321L"),
    "designer": ("designer", None),
}


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path, monkeypatch):
    # Nothing may touch ./data or depend on the developer's environment.
    monkeypatch.setenv("TITLES_DATA_DIR", str(tmp_path / "env-data"))
    monkeypatch.delenv("OIDC_ISSUER", raising=False)


@pytest.fixture
def data_dir(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def verifier(tmp_path, data_dir) -> TokenVerifier:
    path = write_jwks_file(tmp_path / "jwks.json", data_dir)
    return TokenVerifier(ISSUER, AUDIENCE, path.as_uri())


def _sign(claims: dict, key, kid: str, alg: str = "RS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": kid})


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "someone", "role": "unit", "iat": now, "exp": now + 600}
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


# ---------------------------------------------------------------- happy path


def test_issued_token_verifies_via_file_jwks(verifier, data_dir):
    token = issue_token("applicant", data_dir, issuer=ISSUER)
    principal = verifier.verify(token)
    assert isinstance(principal, Principal)
    assert principal.subject == "applicant"
    assert principal.role == "applicant"
    assert principal.organisation is None
    assert principal.name == "张伟"
    assert principal.id_number == "120101198806120032"
    assert principal.claims["iss"] == ISSUER
    assert "120101198806120032" not in repr(principal)  # PII kept out of logs


def test_verifier_is_lazy(tmp_path):
    # Construction must not fetch: the file does not exist yet.
    missing = tmp_path / "later.json"
    v = TokenVerifier(ISSUER, AUDIENCE, missing.as_uri())
    write_jwks_file(missing, tmp_path / "data")
    assert v.verify(issue_token("unit", tmp_path / "data", issuer=ISSUER)).role == "unit"


def test_verifier_rejects_unsupported_scheme():
    with pytest.raises(ValueError, match="scheme"):
        TokenVerifier(ISSUER, AUDIENCE, "ftp://example/jwks.json")


def test_unreachable_jwks_is_invalid_token(tmp_path, data_dir):
    v = TokenVerifier(ISSUER, AUDIENCE, (tmp_path / "nope.json").as_uri())
    with pytest.raises(InvalidToken, match="cannot fetch signing keys"):
        v.verify(issue_token("unit", data_dir, issuer=ISSUER))


def test_jwks_route_content_is_usable(tmp_path, data_dir):
    client = create_app(data_dir, issuer=ISSUER).test_client()
    resp = client.get("/jwks.json")
    assert resp.status_code == 200
    (tmp_path / "served.json").write_text(resp.get_data(as_text=True))
    v = TokenVerifier(ISSUER, AUDIENCE, (tmp_path / "served.json").as_uri())

    token = client.post("/token", json={"username": "unit"}).get_json()["access_token"]
    assert v.verify(token).organisation == "91120101MA05K1XT13"


def test_verifies_over_http_jwks(data_dir):
    # The production path: PyJWKClient fetching over HTTP from the dev issuer.
    server = make_server("127.0.0.1", 0, create_app(data_dir, issuer=ISSUER))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        v = TokenVerifier(ISSUER, AUDIENCE, f"http://127.0.0.1:{server.server_port}/jwks.json")
        assert v.verify(issue_token("committee", data_dir, issuer=ISSUER)).role == "committee"
    finally:
        server.shutdown()
        thread.join()


def test_discovery_health_users(data_dir, monkeypatch):
    monkeypatch.setenv("OIDC_ISSUER", "http://id.example:9000")
    client = create_app(data_dir).test_client()
    doc = client.get("/.well-known/openid-configuration").get_json()
    assert doc["issuer"] == "http://id.example:9000"
    assert doc["jwks_uri"] == "http://id.example:9000/jwks.json"
    assert doc["token_endpoint"] == "http://id.example:9000/token"
    assert client.get("/health").get_json() == {"status": "ok"}
    users = client.get("/users").get_json()["users"]
    assert [u["username"] for u in users] == list(DEMO_USERS)
    assert all("id_number" not in u for u in users)


def test_discovery_default_issuer(data_dir):
    doc = create_app(data_dir).test_client().get("/.well-known/openid-configuration").get_json()
    assert doc["issuer"] == "http://127.0.0.1:8000"
    assert doc["jwks_uri"] == "http://127.0.0.1:8000/jwks.json"


@pytest.mark.parametrize("username", list(DEMO_USERS))
def test_token_endpoint_for_each_demo_user(username, verifier, data_dir):
    client = create_app(data_dir, issuer=ISSUER).test_client()
    resp = client.post("/token", json={"username": username})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 8 * 3600
    principal = verifier.verify(body["access_token"])
    assert principal.subject == username
    assert (principal.role, principal.organisation) == DEMO_USERS[username]


def test_token_endpoint_accepts_form(verifier, data_dir):
    client = create_app(data_dir, issuer=ISSUER).test_client()
    resp = client.post("/token", data={"username": "expert2"})
    assert resp.status_code == 200
    assert verifier.verify(resp.get_json()["access_token"]).role == "expert"


@pytest.mark.parametrize("payload", [{"username": "mallory"}, {}, {"username": ""}])
def test_token_endpoint_rejects_bad_username(payload, data_dir):
    resp = create_app(data_dir).test_client().post("/token", json=payload)
    assert resp.status_code == 400
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == 400 and body["type"] and body["title"]
    if payload.get("username") == "mallory":
        assert "mallory" in body["detail"] and "title_office" in body["detail"]
    else:
        assert "username" in body["detail"]


def test_issue_token_unknown_user_lists_known(data_dir):
    with pytest.raises(UnknownUser) as info:
        issue_token("mallory", data_dir)
    assert isinstance(info.value, KeyError)
    assert "applicant" in str(info.value) and "expert3" in str(info.value)


def test_issue_token_defaults(data_dir):
    claims = jwt.decode(issue_token("dept2", data_dir), options={"verify_signature": False})
    assert claims["iss"] == "http://127.0.0.1:8000"
    assert claims["aud"] == "titles"
    assert claims["exp"] - claims["iat"] == 8 * 3600
    assert "id_number" not in claims  # only the applicant has one


# ---------------------------------------------------------------- rejections


def test_expired_token_rejected(verifier, data_dir):
    token = issue_token("unit", data_dir, issuer=ISSUER, lifetime_seconds=-120)  # beyond 30 s leeway
    with pytest.raises(InvalidToken, match="expired"):
        verifier.verify(token)


def test_token_from_other_key_with_other_kid_rejected(verifier):
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken, match="unknown signing key id"):
        verifier.verify(_sign(_claims(), other, "someone-elses-kid"))


def test_token_from_other_key_with_our_kid_rejected(verifier, data_dir):
    kid, _ = signing_key(data_dir)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken, match="signature is invalid"):
        verifier.verify(_sign(_claims(), other, kid))


def test_wrong_audience_rejected(verifier, data_dir):
    with pytest.raises(InvalidToken, match="audience"):
        verifier.verify(issue_token("unit", data_dir, issuer=ISSUER, audience="other-app"))


def test_wrong_issuer_rejected(verifier, data_dir):
    with pytest.raises(InvalidToken, match="issuer"):
        verifier.verify(issue_token("unit", data_dir, issuer="http://evil.test"))


def test_hs256_token_rejected(verifier, data_dir):
    # Algorithm confusion: HMAC keyed with the public key material must not pass.
    # PyJWT refuses to sign with PEM/JWK-looking HMAC secrets, so build it by hand.
    kid, key = signing_key(data_dir)
    secret = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
        + b"."
        + b64(json.dumps(_claims()).encode())
    )
    signature = b64(hmac.new(secret, signing_input, hashlib.sha256).digest())
    token = (signing_input + b"." + signature).decode()
    with pytest.raises(InvalidToken, match="algorithm 'HS256'"):
        verifier.verify(token)


def test_alg_none_rejected(verifier, data_dir):
    kid, _ = signing_key(data_dir)
    token = jwt.encode(_claims(), None, algorithm="none", headers={"kid": kid})
    with pytest.raises(InvalidToken, match="algorithm"):
        verifier.verify(token)


def test_missing_role_rejected(verifier, data_dir):
    kid, key = signing_key(data_dir)
    with pytest.raises(InvalidToken, match="missing the required claim 'role'"):
        verifier.verify(_sign(_claims(role=None), key, kid))


def test_missing_sub_rejected(verifier, data_dir):
    kid, key = signing_key(data_dir)
    with pytest.raises(InvalidToken, match="'sub'"):
        verifier.verify(_sign(_claims(sub=None), key, kid))


def test_unknown_role_rejected(verifier, data_dir):
    kid, key = signing_key(data_dir)
    with pytest.raises(InvalidToken, match="role 'admin' is not one of"):
        verifier.verify(_sign(_claims(role="admin"), key, kid))


def test_garbage_token_rejected(verifier):
    with pytest.raises(InvalidToken, match="malformed"):
        verifier.verify("not-a-jwt")


def test_all_roles_accepted(verifier, data_dir):
    kid, key = signing_key(data_dir)
    for role in ROLES:
        assert verifier.verify(_sign(_claims(role=role), key, kid)).role == role


# ---------------------------------------------------------------- key file


def test_key_file_created_once_and_reused(data_dir):
    kid1 = jwks(data_dir)["keys"][0]["kid"]
    key_file = data_dir / "dev-issuer" / "private_key.pem"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    before = key_file.read_bytes()
    kid2, _ = signing_key(data_dir)
    token = issue_token("unit", data_dir)
    assert kid1 == kid2 == jwt.get_unverified_header(token)["kid"]
    assert key_file.read_bytes() == before
    assert [p.name for p in key_file.parent.iterdir()] == ["private_key.pem"]  # no temp files left


def test_kid_is_rfc7638_thumbprint():
    # RFC 7638 §3.1 example key and its published thumbprint.
    n = (
        "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMs"
        "tn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn"
        "1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
    )
    assert dev_issuer._thumbprint({"kty": "RSA", "n": n, "e": "AQAB"}) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_env_data_dir_used_by_default(tmp_path):
    kid, _ = signing_key()
    assert (tmp_path / "env-data" / "dev-issuer" / "private_key.pem").exists()
    assert kid == jwks(tmp_path / "env-data")["keys"][0]["kid"]


def _kid_in_child(data_dir: str) -> str:
    return signing_key(data_dir)[0]


def test_concurrent_key_creation_agrees(data_dir):
    ctx = multiprocessing.get_context("fork")
    with ctx.Pool(6) as pool:
        kids = pool.map(_kid_in_child, [str(data_dir)] * 6)
    assert len(set(kids)) == 1
    assert kids[0] == signing_key(data_dir)[0]


# ---------------------------------------------------------------- CLI


def test_token_command_prints_token(monkeypatch, capsys, verifier, data_dir):
    monkeypatch.setattr(sys, "argv", ["titles-dev-token", "dept1", "--data-dir", str(data_dir), "--issuer", ISSUER])
    assert token_command() == 0
    out = capsys.readouterr().out.strip()
    assert verifier.verify(out).role == "department"


def test_token_command_unknown_user(monkeypatch, capsys, data_dir):
    monkeypatch.setattr(sys, "argv", ["titles-dev-token", "mallory", "--data-dir", str(data_dir)])
    assert token_command() == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "mallory" in captured.err and "applicant" in captured.err


def test_console_script_subprocess(tmp_path):
    script = REPO / ".venv" / "bin" / "titles-dev-token"
    if not script.exists():
        pytest.skip("console script missing; run .venv/bin/pip install -e .")
    env = {**os.environ, "TITLES_DATA_DIR": str(tmp_path / "proc-data")}
    env.pop("OIDC_ISSUER", None)
    result = subprocess.run([str(script), "applicant"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    jwks_file = write_jwks_file(tmp_path / "proc.json", tmp_path / "proc-data")
    v = TokenVerifier("http://127.0.0.1:8000", "titles", jwks_file.as_uri())
    assert v.verify(result.stdout.strip()).subject == "applicant"


# ---------------------------------------------------------------- flask_auth


@pytest.fixture
def auth_client(verifier):
    app = Flask("auth-test")
    init_auth(app, verifier)

    @app.get("/applications")
    @require_roles("applicant")
    def applications():
        p = current_principal()
        assert current_principal() is p  # cached on g
        return jsonify(subject=p.subject)

    return app.test_client()


def test_auth_missing_header(auth_client):
    resp = auth_client.get("/applications")
    assert resp.status_code == 401
    assert "missing Authorization header" in resp.get_data(as_text=True)
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_auth_malformed_header(auth_client):
    resp = auth_client.get("/applications", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert resp.status_code == 401
    assert "malformed" in resp.get_data(as_text=True)


def test_auth_garbage_token(auth_client):
    resp = auth_client.get("/applications", headers={"Authorization": "Bearer garbage"})
    assert resp.status_code == 401
    assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]
    assert "invalid token" in resp.get_data(as_text=True)


def test_auth_wrong_role(auth_client, data_dir):
    token = issue_token("unit", data_dir, issuer=ISSUER)
    resp = auth_client.get("/applications", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 403
    assert "role &#39;unit&#39; may not do this; allowed: applicant" in resp.get_data(as_text=True)


def test_auth_right_role(auth_client, data_dir):
    token = issue_token("applicant", data_dir, issuer=ISSUER)
    resp = auth_client.get("/applications", headers={"Authorization": f"bearer {token}"})
    assert resp.status_code == 200
    assert resp.get_json() == {"subject": "applicant"}


def test_require_roles_rejects_typos():
    with pytest.raises(ValueError):
        require_roles("aplicant")
