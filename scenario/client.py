"""A small HTTP client for driving the system as its users do."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlencode

import requests
import urllib3

from shared import config

T = TypeVar("T")


class ScenarioFailed(RuntimeError):
    pass


class Fatal(ScenarioFailed):
    """A failure that waiting longer cannot mend."""


# What a call raises when the request did not get an answer (the service down, the connection dropped):
# worth waiting out, as a ScenarioFailed of an answer is.
TRANSPORT_ERRORS = (requests.RequestException, urllib3.exceptions.HTTPError)


class Client:
    def __init__(self, timeout: float = 10.0):
        # For the odd request (readiness, the verification page); the users' calls go through ``pool``.
        self.http = requests.Session()
        # The services' addresses come from the project's config, never through a proxy: without this, requests
        # reads every proxy and netrc setting of the environment again on each call.
        self.http.trust_env = False
        # The users' calls through urllib3 itself, as requests would send them (no retries, no redirects
        # followed): requests' own layer (merging settings, preparing, hooks) was half of a benchmark
        # client's CPU, and the benchmark's clients share the machine's cores with the system they measure.
        self.pool = urllib3.PoolManager(retries=urllib3.Retry(0, read=False, redirect=False))
        self.timeout = timeout
        self.tokens: dict[str, str] = {}

    def url(self, service: str, path: str) -> str:
        return config.service_url(service).rstrip("/") + path

    def login(self, username: str) -> None:
        response = self._send("POST", self.url("issuer", "/token"), {}, json={"username": username})
        self._check(response, f"login as {username}")
        self.tokens[username] = json.loads(response.data)["access_token"]

    def call(
        self, user: str, method: str, service: str, path: str, expect: tuple[int, ...] = (200,), **kwargs: Any
    ) -> Any:
        """``kwargs``: ``params`` (the query), ``json`` (the body) or ``files`` ({field: (name, bytes)})."""
        if user not in self.tokens:
            self.login(user)
        headers = {"Authorization": f"Bearer {self.tokens[user]}"}
        response = self._send(method, self.url(service, path), headers, **kwargs)
        self._check(response, f"{user}: {method} {service}{path}", expect)
        return json.loads(response.data) if response.data else None

    def _send(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        params: dict[str, Any] | None = None,
        json: Any = None,  # requests' keyword for a JSON body, as the steps pass it (the module is not used here)
        files: dict[str, tuple[str, bytes]] | None = None,
    ) -> urllib3.BaseHTTPResponse:
        if params:
            # As requests encodes them: a list as the key repeated, a None left out.
            query = urlencode({k: v for k, v in params.items() if v is not None}, doseq=True)
            url += ("&" if "?" in url else "?") + query
        timeout = urllib3.Timeout(connect=self.timeout, read=self.timeout)
        if files is not None:
            return self.pool.request(method, url, headers=headers, fields=files, timeout=timeout)
        if json is not None:
            return self.pool.request(method, url, headers=headers, json=json, timeout=timeout)
        return self.pool.request(method, url, headers=headers, timeout=timeout)

    @staticmethod
    def _check(response: urllib3.BaseHTTPResponse, what: str, expect: tuple[int, ...] = (200,)) -> None:
        if response.status not in expect:
            text = response.data.decode("utf-8", "replace")
            raise ScenarioFailed(f"{what} answered {response.status}: {text[:500]}")


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
        except (*TRANSPORT_ERRORS, ScenarioFailed) as exc:
            last_error = exc
        time.sleep(interval)
        interval = min(interval * 1.5, longest)
    raise ScenarioFailed(
        f"timed out after {timeout:.0f}s waiting for {what}" + (f" (last error: {last_error})" if last_error else "")
    )
