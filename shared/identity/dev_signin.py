"""The development issuer's sign-in: OpenID Connect authorization code flow with PKCE.

``GET /authorize`` shows a page to choose or type a user (or register a new applicant); ``POST
/authorize`` answers the client's ``redirect_uri`` with a code; ``POST /token`` with
``grant_type=authorization_code`` exchanges the code and the PKCE verifier for the tokens.

The code is itself a short-lived token signed with the issuer's key (so any gunicorn worker can
redeem it) and is redeemed once: its id is recorded under ``<data_dir>/dev-issuer/used-codes``.
PKCE (S256) is required: without the verifier a code someone intercepted is worthless. Any
http(s) redirect URI is accepted — this issuer is for development only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlparse

import jwt

CODE_AUDIENCE = "dev-issuer-code"
CODE_LIFETIME_S = 120
USED_CODES = Path("dev-issuer") / "used-codes"


class AuthorizeError(ValueError):
    """A bad authorization request; ``redirectable`` once the redirect URI itself is trusted."""

    def __init__(self, error: str, description: str, redirectable: bool = True) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.redirectable = redirectable


class GrantError(ValueError):
    """A token request the issuer refuses (RFC 6749 §5.2 error code and description)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


REQUEST_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "state",
    "scope",
    "nonce",
    "code_challenge",
    "code_challenge_method",
)


def authorization_request(args: Any) -> dict[str, str]:
    """The authorization request's parameters, checked (RFC 6749 §4.1.1, RFC 7636 §4.3)."""
    request = {name: (args.get(name) or "") for name in REQUEST_FIELDS}
    redirect = urlparse(request["redirect_uri"])
    if redirect.scheme not in ("http", "https") or not redirect.netloc or redirect.fragment:
        raise AuthorizeError(
            "invalid_request", "redirect_uri must be an absolute http(s) URI without a fragment", redirectable=False
        )
    if not request["client_id"]:
        raise AuthorizeError("invalid_request", "client_id is required", redirectable=False)
    if request["response_type"] != "code":
        raise AuthorizeError("unsupported_response_type", "only response_type=code is supported")
    if not request["code_challenge"] or request["code_challenge_method"] != "S256":
        raise AuthorizeError("invalid_request", "PKCE is required: code_challenge with code_challenge_method=S256")
    return request


def redirect_with(request: dict[str, str], **params: str) -> str:
    if request.get("state"):
        params["state"] = request["state"]
    separator = "&" if "?" in request["redirect_uri"] else "?"
    return request["redirect_uri"] + separator + urlencode(params)


def issue_code(key: Any, kid: str, issuer: str, username: str, request: dict[str, str]) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": CODE_AUDIENCE,
        "sub": username,
        "iat": now,
        "exp": now + CODE_LIFETIME_S,
        "jti": secrets.token_urlsafe(16),
        "cid": request["client_id"],
        "ruri": request["redirect_uri"],
        "cc": request["code_challenge"],
        "nonce": request.get("nonce") or None,
    }
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def s256(verifier: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode("ascii")).digest()).rstrip(b"=").decode()


def redeem_code(public_key: Any, issuer: str, data_dir: Path, form: Any) -> dict[str, Any]:
    """The code's claims once every check passes; the code cannot be redeemed again."""
    code = form.get("code") or ""
    try:
        claims = jwt.decode(code, public_key, algorithms=["RS256"], audience=CODE_AUDIENCE, issuer=issuer)
    except jwt.PyJWTError as exc:
        raise GrantError("invalid_grant", f"the code is invalid or expired: {exc}") from None
    if form.get("redirect_uri") != claims["ruri"]:
        raise GrantError("invalid_grant", "redirect_uri differs from the authorization request's")
    if form.get("client_id") and form.get("client_id") != claims["cid"]:
        raise GrantError("invalid_grant", "the code was issued to another client")
    verifier = form.get("code_verifier") or ""
    if not 43 <= len(verifier) <= 128:
        raise GrantError("invalid_request", "code_verifier of 43 to 128 characters is required (PKCE)")
    if not hmac.compare_digest(s256(verifier), claims["cc"]):
        raise GrantError("invalid_grant", "code_verifier does not match the code_challenge")
    used = data_dir / USED_CODES
    used.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: of two redemptions exactly one succeeds, whichever worker serves it
        with open(used / hashlib.sha256(claims["jti"].encode()).hexdigest(), "x"):
            pass
    except FileExistsError:
        raise GrantError("invalid_grant", "the code was already used") from None
    _forget_old_codes(used)
    return claims


def _forget_old_codes(used: Path) -> None:
    cutoff = time.time() - 2 * CODE_LIFETIME_S  # an expired code is refused by its exp anyway
    for entry in used.iterdir():
        try:
            if entry.stat().st_mtime < cutoff:
                entry.unlink()
        except OSError:
            pass


SIGNIN_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>登录 Sign in — 开发身份认证 development identity</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font-family:system-ui,"Noto Sans CJK SC",sans-serif;max-width:860px;margin:2em auto;padding:0 1em;color:#1f2933}
h1{font-size:1.4em} h2{font-size:1.1em;margin-top:1.6em} .note{color:#52606d;font-size:.9em}
.users{display:grid;grid-template-columns:repeat(auto-fill,minmax(250px,1fr));gap:.5em}
.users button{text-align:left;padding:.5em .7em;border:1px solid #cbd2d9;border-radius:6px;background:#f5f7fa;cursor:pointer}
.users button:hover{background:#e4e7eb} .role{color:#52606d;font-size:.85em;display:block}
input{padding:.4em;margin:.2em 0;width:18em} .err{background:#fde8e8;border:1px solid #f8b4b4;padding:.6em;border-radius:6px}
.submit{padding:.45em 1.2em}
</style></head><body>
<h1>开发身份认证 · Development identity provider</h1>
<p class="note">仅用于开发与演示 (development and demonstration only): 生产环境由统一身份认证平台登录。
Client <code>{{ request.client_id }}</code></p>
{% if error %}<p class="err" role="alert">{{ error }}</p>{% endif %}
<h2>选择用户登录 · Choose a user</h2>
<form method="post" action="{{ action }}">
{% for name, value in request.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
<div class="users">
{% for user in users %}<button type="submit" name="username" value="{{ user.username }}" data-username="{{ user.username }}">
<b>{{ user.name or user.username }}</b> ({{ user.username }})<span class="role">{{ roles.get(user.role, user.role) }}{% if user.org %} · {{ user.org }}{% endif %}</span></button>
{% endfor %}</div>
{% if note %}<p class="note">目录中的工作人员暂不可列出 (directory staff not listed): {{ note }}</p>{% endif %}
</form>
<h2>输入用户名 · Type a user name</h2>
<form method="post" action="{{ action }}">
{% for name, value in request.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
<label>用户名 User name <input name="username" id="typed-username" required></label>
<button class="submit" type="submit">登录 Sign in</button>
</form>
<h2>新申报人注册 · Register as a new applicant</h2>
<form method="post" action="{{ action }}">
{% for name, value in request.items() %}<input type="hidden" name="{{ name }}" value="{{ value }}">{% endfor %}
<input type="hidden" name="register" value="1">
<label>用户名 User name <input name="new_username" required></label><br>
<label>姓名 Name <input name="name" required></label><br>
<label>身份证号码 ID number <input name="id_number" required></label><br>
<button class="submit" type="submit">注册并登录 Register and sign in</button>
</form>
</body></html>"""

ROLE_NAMES = {
    "applicant": "申报人 applicant",
    "unit": "工作单位 work unit",
    "department": "主管部门 department",
    "committee": "评委会办公室 committee office",
    "expert": "评审专家 expert",
    "title_office": "市职称办 title office",
    "designer": "流程设计 process designer",
}
