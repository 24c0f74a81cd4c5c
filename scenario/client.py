"""A small HTTP client for driving the system as its users do."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

from shared import config

T = TypeVar("T")


class ScenarioFailed(RuntimeError):
    pass


class Fatal(ScenarioFailed):
    """A failure that waiting longer cannot mend."""


class Client:
    def __init__(self, timeout: float = 10.0):
        self.http = requests.Session()
        # The services' addresses come from the project's config, never through a proxy: without this, requests
        # reads every proxy and netrc setting of the environment again on each call (a quarter of a bench
        # client's CPU).
        self.http.trust_env = False
        self.timeout = timeout
        self.tokens: dict[str, str] = {}

    def url(self, service: str, path: str) -> str:
        return config.service_url(service).rstrip("/") + path

    def login(self, username: str) -> None:
        response = self.http.post(self.url("issuer", "/token"), json={"username": username}, timeout=self.timeout)
        self._check(response, f"login as {username}")
        self.tokens[username] = response.json()["access_token"]

    def call(
        self, user: str, method: str, service: str, path: str, expect: tuple[int, ...] = (200,), **kwargs: Any
    ) -> Any:
        if user not in self.tokens:
            self.login(user)
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        response = self.http.request(method, self.url(service, path), headers=headers, timeout=self.timeout, **kwargs)
        self._check(response, f"{user}: {method} {service}{path}", expect)
        return response.json() if response.content else None

    @staticmethod
    def _check(response: requests.Response, what: str, expect: tuple[int, ...] = (200,)) -> None:
        if response.status_code not in expect:
            raise ScenarioFailed(f"{what} answered {response.status_code}: {response.text[:500]}")


def system_today(client: Client) -> dt.date:
    """Today (Beijing) on the system's clock, which the test clock may have moved past real time."""
    return dt.date.fromisoformat(client.call("applicant", "GET", "review", "/api/v1/clock")["today"])


# A wait polls ever less often, as a page that refreshes itself would: each pause half as long again as the
# last, up to this long (or the first pause, if longer).
LONGEST_PAUSE = 0.25


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 60.0, interval: float = 0.2) -> T:
    """Poll until ``probe`` returns something truthy; the system is asynchronous. The first pause is
    ``interval``; the next ones grow (``LONGEST_PAUSE``)."""
    deadline = time.monotonic() + timeout
    longest = max(interval, LONGEST_PAUSE)
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = probe()
            if result:
                return result
        except Fatal:
            raise
        except (requests.RequestException, ScenarioFailed) as exc:
            last_error = exc
        time.sleep(interval)
        interval = min(interval * 1.5, longest)
    raise ScenarioFailed(
        f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_error})" if last_error else "")
    )
