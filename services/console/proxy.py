"""The same-origin proxy and the API documentation.

``/api/<service>/<path>`` forwards the browser's call to that service with the signed-in user's
bearer token (the token never reaches the page's JavaScript, and no service needs CORS). A call
that changes anything must carry the session's CSRF token in ``X-CSRF-Token`` (checked in
bootstrap). ``/docs/<service>`` is Swagger UI on the service's OpenAPI, served from the console's
own copy of swagger-ui-dist; its "try it out" goes through this proxy.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, jsonify, render_template, request, stream_with_context

from services.console import backend
from services.console.signin import current_user
from shared.config import SERVICES

bp = Blueprint("proxy", __name__)

# Request headers passed on; everything else (cookies above all) stays with the console.
FORWARDED = ("Accept", "Content-Type", "If-None-Match", "X-Correlation-ID")
RETURNED = (
    "Content-Type",
    "Content-Disposition",
    "ETag",
    "Cache-Control",
    "Retry-After",
    "X-Correlation-ID",
    "Content-Security-Policy",
    "X-Content-Type-Options",
    "WWW-Authenticate",
)
# Types a browser may show in place (opened in the browser rather than saved).
INLINE_TYPES = ("application/pdf", "image/png", "image/jpeg", "image/gif", "text/plain")


@bp.route("/api/<service>/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def forward(service: str, rest: str):
    if service not in SERVICES:
        abort(404)
    user = current_user()
    if rest == "openapi.json":
        return _openapi(service)
    upstream = backend.raw(
        user["token"] if user else None,
        request.method,
        service,
        "/" + rest,
        params=request.args.to_dict(flat=False),
        data=request.get_data() or None,
        headers={h: request.headers[h] for h in FORWARDED if h in request.headers},
        stream=True,
    )
    response = Response(stream_with_context(upstream.iter_content(64 * 1024)), status=upstream.status_code)
    for header in RETURNED:
        if header in upstream.headers:
            response.headers[header] = upstream.headers[header]
    kind = upstream.headers.get("Content-Type", "").split(";")[0].strip()
    if request.args.get("inline") == "1" and kind in INLINE_TYPES and upstream.status_code == 200:
        # Shown in a tab of its own: the file's own name kept, no script of the console's origin runs in it.
        disposition = upstream.headers.get("Content-Disposition", "")
        response.headers["Content-Disposition"] = (
            "inline" + disposition[len("attachment") :] if disposition.startswith("attachment") else "inline"
        )
        response.headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"
        if kind == "application/pdf":
            del response.headers["Content-Security-Policy"]  # the browser's PDF viewer needs its own scripts
    return response


def _openapi(service: str):
    """The service's OpenAPI with its server set to this proxy, so Swagger UI's calls come back here."""
    upstream = backend.raw(None, "GET", service, "/openapi.json")
    if upstream.status_code != 200:
        return Response(
            upstream.content, status=upstream.status_code, content_type=upstream.headers.get("Content-Type")
        )
    spec = upstream.json()
    spec["servers"] = [{"url": f"/api/{service}", "description": f"{service} service through the console"}]
    return jsonify(spec)


@bp.get("/docs")
@bp.get("/docs/<service>")
def docs(service: str | None = None):
    if service is not None and service not in SERVICES:
        abort(404)
    return render_template("docs.html", services=SERVICES, service=service)
