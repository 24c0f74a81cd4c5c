"""What every service refuses before a view sees the request, and how database trouble is answered.

- A body over the request limit is refused with 413 before it is read (a file upload, which comes
  as ``multipart/form-data``, has a larger limit of its own; the endpoint then judges the file's own
  size).
- JSON nested deeper than ``MAX_DEPTH`` is refused before it is parsed: Python's parser recurses, and
  100,000 nested arrays would end in a RecursionError (a 500).
- Text may not hold control characters (NUL and the other C0 codes but tab, line feed and carriage
  return): PostgreSQL refuses NUL where SQLite stores it, so both backends answer alike, and nobody
  sees an invisible character in a name.
- Database errors that are the client's (a duplicate key, a number out of the column's range) are
  4xx naming the field; a database that went away is 503 with ``Retry-After``: the transaction was
  rolled back, so retrying is safe.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, current_app, request
from sqlalchemy import exc as sa_exc

from shared import config
from shared.web import problems, views

log = logging.getLogger(__name__)

MAX_DEPTH = 32
RETRY_AFTER_SECONDS = "2"
# C0 controls and DEL, except tab, line feed and carriage return; the OpenAPI says so of every string.
CONTROL_CHARACTERS = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f"
_CONTROL = re.compile(f"[{CONTROL_CHARACTERS}]")
TEXT_PATTERN = f"^[^{CONTROL_CHARACTERS}]*$"


def request_limit() -> int:
    return config.settings().max_request_bytes


def upload_limit() -> int:
    # The largest attachment (10 MiB) and the multipart envelope around it.
    return config.settings().max_upload_bytes


def install(app: Flask) -> None:
    app.config["MAX_CONTENT_LENGTH"] = request_limit()
    app.before_request(_screen)
    app.register_error_handler(sa_exc.IntegrityError, _integrity)
    app.register_error_handler(sa_exc.DataError, _data)
    app.register_error_handler(OverflowError, _data)  # SQLite's driver, for an integer beyond 64 bits
    for unavailable in (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError, sa_exc.TimeoutError):
        app.register_error_handler(unavailable, _unavailable)


def _limit_for_request() -> int:
    return upload_limit() if request.mimetype == "multipart/form-data" else request_limit()


def _operation_doc() -> dict[str, Any]:
    """What flask-smorest recorded of the view about to run (its arguments)."""
    handler = views.handler_of(current_app, request.endpoint or "", request.method)
    return getattr(handler, "_apidoc", None) or {}


def _screen() -> Response | None:
    limit = _limit_for_request()
    request.max_content_length = limit  # werkzeug also stops a body without a length at the limit
    if request.content_length is not None and request.content_length > limit:
        return problems.problem(
            413,
            "Content Too Large",
            f"the request body is over {limit} bytes",
            [{"field": "body", "rule": "max_bytes", "message": f"at most {limit} bytes (请求内容过大)"}],
        )
    for name, values in request.args.lists():
        for value in values:
            if _CONTROL.search(value) or _CONTROL.search(name):
                return _control_problem(name, "query")
    if request.mimetype and (request.mimetype == "application/json" or request.mimetype.endswith("+json")):
        raw = request.get_data(cache=True)
        if raw:
            return _screen_json(raw)
    if (
        request.method in ("POST", "PUT", "PATCH")
        and not request.content_length
        and _json_body_required(_operation_doc())
    ):
        return problems.problem(
            422,
            "Request breaks a rule",
            "a JSON body is required",
            [{"field": "body", "rule": "required", "message": "this request needs a JSON body (请求内容不能为空)"}],
        )
    return None


def _json_body_required(doc: dict[str, Any]) -> bool:
    return any(
        p.get("location", "json") == "json" and p.get("required", True)
        for p in doc.get("arguments", {}).get("parameters", [])
    )


def _screen_json(raw: bytes) -> Response | None:
    depth = nesting_depth(raw)
    if depth > MAX_DEPTH:
        return problems.problem(
            422,
            "Request breaks a rule",
            f"JSON nested {depth} deep; at most {MAX_DEPTH}",
            [
                {
                    "field": "body",
                    "rule": "max_nesting",
                    "message": f"JSON may be nested at most {MAX_DEPTH} levels (嵌套层级过深)",
                }
            ],
        )
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None  # webargs answers a body that does not parse, as before
    for path in control_character_paths(body):
        return _control_problem(path, "json")
    return None


def nesting_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in JSON text, counted without parsing it.

    Strings go first (a bracket in text is not nesting), then everything but brackets, both in C:
    a byte-by-byte loop in Python cost a request more than its view did."""
    depth = deepest = 0
    for byte in _JSON_STRING.sub(b"", raw).translate(None, _NOT_A_BRACKET):
        if byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
        else:
            depth -= 1
    return deepest


# A string runs to its closing quote or, left open, to the end: one pass whatever the text (a pattern that
# needed the closing quote would start again at every escaped quote of an open string, O(n**2)).
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"?', re.DOTALL)
_NOT_A_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def control_character_paths(value: Any, path: str = "") -> Iterator[str]:
    """The paths (``items.0.name``) of strings, and of keys, holding a control character."""
    if isinstance(value, str):
        if _CONTROL.search(value):
            yield path or "body"
    elif isinstance(value, dict):
        for key, item in value.items():
            inner = f"{path}.{key}" if path else str(key)
            if _CONTROL.search(str(key)):
                yield inner
            else:
                yield from control_character_paths(item, inner)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from control_character_paths(item, f"{path}.{index}" if path else str(index))


def _control_problem(field: str, location: str) -> Response:
    message = "text may not contain control characters such as NUL (不能包含控制字符)"
    return problems.problem(
        422,
        "Request breaks a rule",
        f"{field}: {message}",
        [{"field": field, "in": location, "rule": "no_control_characters", "message": message}],
    )


# PostgreSQL: Key (code)=(x) already exists.  SQLite: UNIQUE constraint failed: series.code
_PG_KEY = re.compile(r"Key \(([^)]+)\)=")
_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")


def duplicate_fields(error: sa_exc.IntegrityError) -> list[str]:
    text = str(error.orig)
    found = _PG_KEY.search(text)
    if found:
        return [part.strip() for part in found.group(1).split(",")]
    found = _SQLITE_UNIQUE.search(text)
    if found:
        return [part.strip().rsplit(".", 1)[-1] for part in found.group(1).split(",")]
    return []


def _integrity(error: sa_exc.IntegrityError) -> Response:
    text = str(error.orig).lower()
    fields = duplicate_fields(error)
    if "unique" in text or "duplicate key" in text:
        names = ", ".join(fields) or "a unique value"
        message = f"{names}: already used by another record (已存在)"
        return problems.problem(
            409,
            "Conflict with the current state",
            message,
            [{"field": f, "rule": "unique", "message": message} for f in fields or ["body"]],
        )
    log.warning("integrity error answered as a conflict", exc_info=error)
    return problems.problem(
        409,
        "Conflict with the current state",
        "the change conflicts with related records (数据关联冲突)",
        [
            {
                "field": fields[0] if fields else "body",
                "rule": "integrity",
                "message": "the change conflicts with related records",
            }
        ],
    )


def _data(error: Exception) -> Response:
    log.warning("data error answered as 422", exc_info=error)
    return problems.problem(
        422,
        "Request breaks a rule",
        "a value is out of the range the database stores (数值超出范围)",
        [{"field": "body", "rule": "in_range", "message": "a value is out of range"}],
    )


def _unavailable(error: Exception) -> Response:
    # The unit of work rolled back: nothing of the request was written, so retrying is safe.
    log.error("database unavailable", exc_info=error)
    return problems.problem(
        503,
        "Service Unavailable",
        "the database is unavailable; nothing was changed, retry later (服务暂不可用)",
        headers={"Retry-After": RETRY_AFTER_SECONDS},
    )
