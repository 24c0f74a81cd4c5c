"""RFC 9457 problem details for every error response."""

from __future__ import annotations

from typing import Any

from flask import Response, json, request
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException

from shared.errors import DomainError

PROBLEM = "application/problem+json"

_RULES = {
    "Missing data for required field.": "required",
    "Unknown field.": "unknown_field",
    "Field may not be null.": "not_null",
}


class FieldProblem(Schema):
    field = fields.String(metadata={"description": "the field, dotted for nested ones (items.0.name)"})
    rule = fields.String(metadata={"description": "the rule it breaks, a stable name"})
    message = fields.String(metadata={"description": "English, with the Chinese term the user sees"})
    in_ = fields.String(data_key="in", metadata={"description": "where the field is: json, query, ..."})


class ProblemSchema(Schema):
    """RFC 9457 problem details, the body of every error response."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    instance = fields.String()
    detail = fields.String()
    errors = fields.List(fields.Nested(FieldProblem))


def documented(description: str) -> dict[str, Any]:
    """An OpenAPI response of problem details (what ``problem`` answers)."""
    return {"description": description, "content": {PROBLEM: {"schema": ProblemSchema}}}


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    type_: str = "about:blank",
) -> Response:
    body: dict[str, Any] = {"type": type_, "title": title, "status": status, "instance": request.path}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = Response(json.dumps(body, ensure_ascii=False), status=status, mimetype=PROBLEM)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _flatten(messages: Any, path: str = "") -> list[dict[str, Any]]:
    """webargs/marshmallow messages {"json": {"a": {"b": ["..."]}}} -> field errors."""
    out: list[dict[str, Any]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.extend(_flatten(value, f"{path}.{key}" if path else str(key)))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        for message in messages:
            out.append({"field": path, "rule": _RULES.get(message, "invalid"), "message": message})
    elif isinstance(messages, list):
        for index, value in enumerate(messages):
            out.extend(_flatten(value, f"{path}.{index}"))
    else:
        out.append({"field": path, "rule": "invalid", "message": str(messages)})
    return out


def from_http_exception(error: HTTPException) -> Response:
    data = getattr(error, "data", None) or {}
    messages = data.get("errors") or data.get("messages")
    errors = None
    if messages:
        errors = _flatten(messages)
        # webargs prefixes the location ("json", "query"): keep it as "in".
        for entry in errors:
            location, _, field = entry["field"].partition(".")
            if location in ("json", "query", "form", "files", "headers", "view_args") and field:
                entry["field"], entry["in"] = field, location
    # Keep what the exception says in its own headers (WWW-Authenticate, Retry-After, Allow, ...).
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    headers.update(data.get("headers") or {})
    detail = data.get("message") or error.description
    if error.code == 422 and errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problem(error.code or 500, error.name, detail, errors, headers)


def from_domain_error(error: DomainError) -> Response:
    errors = [{"field": e.field, "rule": e.rule, "message": e.message} for e in error.errors]
    return problem(error.status, error.title, error.message, errors or None)
