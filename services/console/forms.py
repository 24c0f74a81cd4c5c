"""Server-rendered forms over the services' JSON APIs: what a form shows, how its posted fields become
the API's JSON body, and how the API's 4xx problem body comes back next to the fields it names.

A form is described once (``Form`` of ``Field``s, each named as the API names it, dotted for a nested
object such as ``appointment.post``); the template ``form.html`` draws it and ``body_of`` reads it back.
A file field uploads the chosen file to the applicant's profile first (the profile service is where
every attachment lives) and sends its id, as the API wants.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import request

from services.console.backend import ApiError, Backend

UPLOAD_PATH = "/api/v1/profile/attachments"


@dataclass(frozen=True)
class Field:
    name: str  # the API's name; dotted for a nested object ("appointment.post")
    label: str
    kind: str = "text"  # text, textarea, date, number, integer, select, checkbox, file, files
    choices: tuple[tuple[str, str], ...] = ()
    required: bool = False
    hint: str = ""


@dataclass(frozen=True)
class Form:
    key: str
    title: str
    fields: tuple[Field, ...]
    submit: str = "保存 Save"
    keep_empty: bool = False  # send empty fields as null (a whole record), rather than leave them out
    extra: dict[str, Any] = field(default_factory=dict)


class FormInvalid(Exception):
    """What the console itself can tell is wrong before asking the service (a number that is none)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def choices(values: tuple[str, ...] | list[str], labels: dict[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    return tuple((v, (labels or {}).get(v, v)) for v in values)


def _set(body: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for name in parents:
        body = body.setdefault(name, {})
    body[last] = value


def _upload(api: Backend, name: str) -> str | None:
    chosen = request.files.get(name)
    if chosen is None or not chosen.filename:
        return None
    stored = api.upload("profile", UPLOAD_PATH, chosen.filename, chosen.read(), chosen.mimetype)
    return stored["id"]


def body_of(form: Form, api: Backend) -> dict[str, Any]:
    """The API's JSON body from the posted form; files are uploaded on the way."""
    body: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for f in form.fields:
        if f.kind == "checkbox":
            _set(body, f.name, request.form.get(f.name) in ("1", "true", "on"))
            continue
        if f.kind in ("file", "files"):
            uploaded = _upload(api, f.name)
            kept = request.form.get(f"{f.name}__kept") or None  # the file already there, unless replaced
            chosen = uploaded or kept
            if chosen is not None or form.keep_empty:
                _set(body, f.name, ([chosen] if chosen else []) if f.kind == "files" else chosen)
            continue
        raw = (request.form.get(f.name) or "").strip()
        if not raw:
            if form.keep_empty:
                _set(body, f.name, None)
            continue
        try:
            value: Any = {"number": float, "integer": int}.get(f.kind, str)(raw)
        except ValueError:
            errors[f.name] = "请填写数字 must be a number"
            continue
        _set(body, f.name, value)
    if errors:
        raise FormInvalid(errors)
    return body


def field_errors(form: Form | None, error: ApiError | FormInvalid) -> dict[str, str]:
    """The problem body's field errors keyed by this form's field names (the longest one the API's
    field starts with, e.g. ``appointment.proof_ids.0`` -> ``appointment.proof_ids``); the rest under ""."""
    if isinstance(error, FormInvalid):
        return dict(error.errors)
    names = sorted((f.name for f in form.fields), key=len, reverse=True) if form else []
    found: dict[str, str] = {}
    for entry in error.problem.get("errors") or []:
        if not isinstance(entry, dict):
            continue
        api_field = str(entry.get("field") or "")
        message = str(entry.get("message") or entry.get("rule") or "")
        if entry.get("rule") and entry["rule"] not in message:
            message += f" ({entry['rule']})"
        target = next(
            (
                n
                for n in names
                if api_field == n
                or api_field.startswith(n + ".")
                or n.endswith("." + api_field)
                or api_field.endswith("." + n)
            ),
            "",
        )
        found[target] = f"{found[target]}; {message}" if target in found else message
    if not found:
        found[""] = error.message()
    elif "" not in found and error.problem.get("detail") and not form:
        found[""] = str(error.problem["detail"])
    return found


def value_of(values: Any, dotted: str) -> Any:
    for name in dotted.split("."):
        if not isinstance(values, dict):
            return None
        values = values.get(name)
    return values


def posted_values(form: Form) -> dict[str, Any]:
    """What was typed, to show again beside the errors."""
    shown: dict[str, Any] = {}
    for f in form.fields:
        if f.kind in ("file", "files"):
            kept = request.form.get(f"{f.name}__kept")
            if kept:
                _set(shown, f.name, [kept] if f.kind == "files" else kept)
        elif f.kind == "checkbox":
            _set(shown, f.name, request.form.get(f.name) in ("1", "true", "on"))
        else:
            _set(shown, f.name, request.form.get(f.name))
    return shown
