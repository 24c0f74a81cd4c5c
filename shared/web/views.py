"""The one way to write a view: a unit of work per request, the caller handed over, closed by default.

A view says what it does and nothing of transactions::

    @blp.arguments(ThingIn)                 # flask-smorest: the body, then the path's parts
    @blp.response(200, ThingOut)
    @require_roles("title_office")          # who may (authentication itself is the default)
    @transaction                            # innermost: the unit of work around the call
    def put(self, body, thing_id, *, uow, principal):
        return things.change(uow, principal, thing_id, body)

``transaction`` opens the service's unit of work, hands it over (and the verified caller, if the
view names ``principal``), and commits when the view returns. Whatever the view raises leaves
nothing written: the unit of work rolls back, and the app's error handlers (shared/web/app.py)
answer with problem details. ``read_only`` is the same without a commit, for reads.

Every ``/api/v1`` operation (and every other documented one) requires a verified caller unless it
is declared ``@public``: a new view cannot be open by accident.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request

from shared.identity.flask_auth import current_principal
from shared.web.blueprint import Blueprint

API_PREFIX = "/api/v1/"

View = Callable[..., Any]


def transaction(view: View) -> View:
    """Run the view in a unit of work that commits when it returns."""
    return _in_unit_of_work(view, readonly=False)


def read_only(view: View) -> View:
    """Run the view in a read-only unit of work (no write lock on SQLite, nothing committed)."""
    return _in_unit_of_work(view, readonly=True)


def _in_unit_of_work(view: View, readonly: bool) -> View:
    wants_principal = "principal" in inspect.signature(view).parameters

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if wants_principal:
            kwargs["principal"] = current_principal()
        with current_app.extensions["titles.database"].uow(readonly=readonly) as uow:
            result = view(*args, uow=uow, **kwargs)
            if not readonly:
                uow.commit()
            return result

    return wrapper


def public(view: View) -> View:
    """Anyone may call this operation, without a token; the OpenAPI says so (no security)."""
    documented: View = Blueprint.doc(security=[])(view)
    return documented


def is_public(handler: Any) -> bool:
    manual = (getattr(handler, "_apidoc", None) or {}).get("manual_doc", {})
    return bool(manual.get("security") == [])


def handler_of(app: Flask, endpoint: str, method: str) -> Any:
    """The function that answers ``method`` at ``endpoint`` (a MethodView's method, or the view)."""
    view = app.view_functions.get(endpoint)
    name = "get" if method == "HEAD" else method.lower()
    return getattr(getattr(view, "view_class", None), name, None) or view


def install(app: Flask) -> None:
    """Refuse an anonymous (or badly authenticated) caller of a non-public ``/api/v1`` operation
    before anything else: who asks comes before what they send, so the answer is 401, not a 422
    on the body."""

    @app.before_request
    def _authenticate() -> None:
        rule = request.url_rule
        if rule is None or request.method == "OPTIONS":
            return  # unrouted (404, 405) or a preflight: the router answers
        handler = handler_of(app, request.endpoint or "", request.method)
        # Beside /api/v1, the documented operations (the verification page) are closed by default too;
        # the static files and the OpenAPI document are no operations of the API.
        if (rule.rule.startswith(API_PREFIX) or hasattr(handler, "_apidoc")) and not is_public(handler):
            current_principal()
