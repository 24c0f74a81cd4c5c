"""Whom the development issuer signs in.

Three sources, asked in this order: the fixed demonstration users (``shared/demo/users.json``),
the applicants registered with the issuer itself (a name and a valid resident ID number, kept in
``<data_dir>/dev-issuer/applicants.json`` — the identity platform, not the profile service, owns
who a person is), and every staff account the profile directory knows, read over the profile
service's public API (``GET /api/v1/staff/{subject}``) with a short-lived token the issuer signs
for itself as the title office. No other service's tables are read.
"""

from __future__ import annotations

import fcntl
import functools
import json
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

import requests

from shared.identifiers import InvalidIdentifier, parse_resident_id

APPLICANTS_FILE = Path("dev-issuer") / "applicants.json"
USERNAME = re.compile(r"^[a-z][a-z0-9_.-]{2,31}$")
DIRECTORY_TIMEOUT_S = 3.0
# What a token may carry about a person; nothing else leaves the issuer.
CLAIMS = ("name", "role", "org", "id_number")


class DirectoryUnavailable(RuntimeError):
    """The profile service did not answer: staff accounts cannot be looked up now."""


class Refusal(Exception):
    """A registration the issuer refuses: the field, the rule and a message (English and Chinese)."""

    def __init__(self, field: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.field, self.rule, self.message = field, rule, message


@functools.cache
def fixed_users() -> dict[str, dict[str, Any]]:
    text = resources.files("shared.demo").joinpath("users.json").read_text(encoding="utf-8")
    return {u["username"]: {**u, "source": "demo"} for u in json.loads(text)["users"]}


class Directory:
    """Staff accounts of the profile directory, over the profile service's HTTP API."""

    def __init__(self, base_url: str, token: Callable[[], str]) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token

    def _get(self, path: str, **params: Any) -> requests.Response:
        try:
            return requests.get(
                self.base_url + path,
                params=params,
                timeout=DIRECTORY_TIMEOUT_S,
                headers={"Authorization": f"Bearer {self.token()}"},
            )
        except requests.RequestException as exc:
            raise DirectoryUnavailable(f"the profile directory at {self.base_url} did not answer: {exc}") from exc

    def staff(self, subject: str) -> dict[str, Any] | None:
        response = self._get(f"/api/v1/staff/{requests.utils.quote(subject, safe='')}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise DirectoryUnavailable(f"the profile directory answered {response.status_code}")
        return _from_staff(response.json())

    def all_staff(self, limit: int = 500) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        page = 1
        while len(found) < limit:
            response = self._get("/api/v1/staff", page=page, per_page=100)
            if response.status_code != 200:
                raise DirectoryUnavailable(f"the profile directory answered {response.status_code}")
            body = response.json()
            found += [_from_staff(item) for item in body["items"]]
            if page * body["per_page"] >= body["total"]:
                break
            page += 1
        return found


def _from_staff(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "username": item["subject"],
        "name": item["name"],
        "role": item["role"],
        "org": item["organisation"],
        "org_name": item.get("organisation_name"),
        "source": "directory",
    }


class Accounts:
    def __init__(self, data_dir: Path, directory: Directory | None) -> None:
        self.path = data_dir / APPLICANTS_FILE
        self.directory = directory

    # -- registered applicants ----------------------------------------------------------------

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with open(self.path.with_suffix(".lock"), "a") as lock:  # several gunicorn workers may register
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def registered(self) -> dict[str, dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        return {
            u["username"]: {**u, "role": "applicant", "org": None, "source": "registered"}
            for u in json.loads(text)["applicants"]
        }

    def register_applicant(self, username: str, name: str, id_number: str) -> dict[str, Any]:
        username, name = (username or "").strip().lower(), (name or "").strip()
        if not USERNAME.match(username):
            raise Refusal(
                "username",
                "format",
                "a user name is 3 to 32 lower-case letters, digits, '.', '_' or "
                "'-', starting with a letter (用户名格式错误)",
            )
        if not 2 <= len(name) <= 50:
            raise Refusal("name", "length", "the name has 2 to 50 characters (姓名长度错误)")
        try:
            id_number = parse_resident_id(id_number).number
        except InvalidIdentifier as exc:
            raise Refusal("id_number", exc.rule, exc.message) from None
        with self._locked():
            registered = self.registered()
            if username in fixed_users() or username in registered or self._staff(username):
                raise Refusal("username", "unique", f"the user name {username!r} is taken (用户名已被使用)")
            holders = [u for u in (*fixed_users().values(), *registered.values()) if u.get("id_number") == id_number]
            if holders:
                raise Refusal(
                    "id_number",
                    "unique",
                    f"this ID number is already registered; sign in as {holders[0]['username']} (该身份证号码已注册)",
                )
            entries = [
                {k: u[k] for k in ("username", "name", "id_number", "registered_at")} for u in registered.values()
            ]
            entries.append(
                {
                    "username": username,
                    "name": name,
                    "id_number": id_number,
                    "registered_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                }
            )
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"applicants": entries}, ensure_ascii=False, indent=1), encoding="utf-8")
            os.replace(tmp, self.path)
        return self.registered()[username]

    # -- everyone -----------------------------------------------------------------------------

    def _staff(self, username: str) -> dict[str, Any] | None:
        if self.directory is None:
            return None
        try:
            return self.directory.staff(username)
        except DirectoryUnavailable:
            return None

    def find(self, username: str) -> dict[str, Any] | None:
        """The account signing in as ``username``, or None if no source knows it."""
        return fixed_users().get(username) or self.registered().get(username) or self._staff(username)

    def listing(self) -> tuple[list[dict[str, Any]], str | None]:
        """Everyone who can sign in, for the sign-in page; and why directory staff are missing, if they are."""
        people = {**fixed_users(), **self.registered()}
        note = None
        if self.directory is not None:
            try:
                for account in self.directory.all_staff():
                    people.setdefault(account["username"], account)
            except DirectoryUnavailable as exc:
                note = str(exc)
        return list(people.values()), note


def claims_of(account: dict[str, Any]) -> dict[str, Any]:
    return {claim: account[claim] for claim in CLAIMS if account.get(claim) is not None}
