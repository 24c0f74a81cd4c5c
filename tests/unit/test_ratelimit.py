"""The public endpoints' rate limiter."""

from __future__ import annotations

from shared.web.ratelimit import RateLimiter


def test_a_client_gets_the_limit_then_waits(monkeypatch):
    import shared.web.ratelimit as module

    clock = [1000.0]
    monkeypatch.setattr(module.time, "monotonic", lambda: clock[0])
    limiter = RateLimiter("2/10")
    assert [limiter.allow("a")[0] for _ in range(3)] == [True, True, False]
    assert limiter.allow("b") == (True, 0)
    allowed, wait = limiter.allow("a")
    assert not allowed and 1 <= wait <= 11
    clock[0] += 10.5
    assert limiter.allow("a") == (True, 0)
