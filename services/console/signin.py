"""Sign-in and sign-out, and who is signed in.

The session (a signed, HttpOnly, SameSite=Lax cookie) holds the access token and the principal read
from it; a PKCE verifier, state and nonce live in it only between ``/login`` and ``/callback``.
"""

from __future__ import annotations

import functools
import secrets
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, abort, flash, redirect, render_template, request, session, url_for

from services.console import oidc
from services.console.backend import Backend

bp = Blueprint("signin", __name__)

ROLE_NAMES = {
    "applicant": "申报人",
    "unit": "工作单位",
    "department": "主管部门",
    "committee": "评委会办公室",
    "expert": "评审专家",
    "title_office": "市职称办",
    "designer": "流程设计",
}


def current_user() -> dict[str, Any] | None:
    user = session.get("user")
    if user and user.get("expires_at", 0) > time.time() + 10:
        return user
    return None


def signed_in_user() -> dict[str, Any]:
    """The user of a page behind ``login_required``, which lets nobody else in."""
    user = current_user()
    if user is None:
        abort(401)
    return user


def backend() -> Backend:
    user = current_user()
    return Backend(user["token"] if user else None)


def login_required(*roles: str) -> Callable:
    """A page for signed-in users (of these roles, if named); others are sent to sign in."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                return redirect(url_for("signin.login", next=request.full_path))
            if roles and user["role"] not in roles:
                return render_template(
                    "error.html",
                    title="无权访问 Not allowed",
                    message=f"此页面供 {', '.join(ROLE_NAMES.get(r, r) for r in roles)} 使用 "
                    f"(this page is for: {', '.join(roles)})",
                ), 403
            return view(*args, **kwargs)

        return wrapper

    return decorator


def _redirect_uri() -> str:
    public = oidc.settings().public_url
    return (public.rstrip("/") if public else request.host_url.rstrip("/")) + url_for("signin.callback")


def _safe_next(target: str | None) -> str:
    # Only a path on this console: never an open redirect to another site.
    path = target or ""
    parsed = urlparse(path)
    if parsed.scheme or parsed.netloc or not path.startswith("/") or path.startswith("//"):
        return url_for("pages.home")
    return path


@bp.get("/login")
def login():
    cfg = oidc.settings()
    verifier, challenge = oidc.pkce_pair()
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    session["signin"] = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": _safe_next(request.args.get("next")),
    }
    try:
        return redirect(oidc.authorization_url(cfg, _redirect_uri(), state, nonce, challenge))
    except oidc.SignInFailed as exc:
        return render_template("error.html", title="无法登录 Cannot sign in", message=str(exc)), 502


@bp.get("/callback")
def callback():
    pending = session.pop("signin", None)
    if request.args.get("error"):
        return render_template(
            "error.html",
            title="登录未完成 Sign-in refused",
            message=f"{request.args['error']}: {request.args.get('error_description', '')}",
        ), 400
    if not pending or not secrets.compare_digest(request.args.get("state", ""), pending["state"]):
        return render_template(
            "error.html",
            title="登录已失效 Sign-in expired",
            message="this sign-in was not started here or is stale (state); please sign in again",
        ), 400
    cfg = oidc.settings()
    try:
        tokens = oidc.exchange(cfg, request.args.get("code", ""), _redirect_uri(), pending["verifier"])
        if tokens.get("id_token"):
            oidc.check_id_token(cfg, tokens["id_token"], pending["nonce"])
        principal = oidc.verify_access_token(tokens["access_token"])
    except oidc.SignInFailed as exc:
        return render_template("error.html", title="无法登录 Cannot sign in", message=str(exc)), 502
    session.clear()
    session["user"] = {
        "token": tokens["access_token"],
        "subject": principal.subject,
        "role": principal.role,
        "name": principal.name or principal.subject,
        "org": principal.organisation,
        "expires_at": int(principal.claims.get("exp", time.time() + 3600)),
    }
    session.permanent = True
    flash(f"欢迎，{principal.name or principal.subject}（{ROLE_NAMES.get(principal.role, principal.role)}）")
    return redirect(pending["next"])


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("pages.home"))
