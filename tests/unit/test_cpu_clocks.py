"""The CPU of `titles work`'s threads, each counted under its name (shared/observability/cpu.py)."""

from __future__ import annotations

import threading
import time

import pytest
from prometheus_client import REGISTRY

from shared.observability.cpu import ThreadClocks, thread_seconds


def counted(name: str) -> float:
    value = REGISTRY.get_sample_value(
        "titles_cpu_seconds_total", {"service": name.split("-")[0], "kind": "thread", "name": name}
    )
    return value or 0.0


def burn(seconds: float) -> None:
    deadline = time.thread_time() + seconds
    while time.thread_time() < deadline:
        pass


@pytest.fixture(autouse=True)
def _linux_only():
    if thread_seconds(threading.get_native_id()) is None:
        pytest.skip("thread clocks are read from /proc (Linux)")


def test_each_look_counts_what_a_thread_spent_since_the_last_one():
    busy, resume, done = threading.Event(), threading.Event(), threading.Event()

    def work() -> None:
        burn(0.15)
        busy.set()
        resume.wait(10)
        burn(0.15)
        done.set()
        time.sleep(10)  # alive, idle, until the test ends (a daemon)

    thread = threading.Thread(target=work, name="testclock-burner", daemon=True)
    before = counted(thread.name)
    thread.start()
    clocks = ThreadClocks([thread])
    assert busy.wait(10)
    time.sleep(0.05)  # the thread is waiting by now: no tick of its burn is left to land after the look
    clocks.look()
    first = counted(thread.name) - before
    assert 0.1 <= first <= 1.0  # ticks of 10 ms: about the 0.15 s burnt
    clocks.look()
    assert counted(thread.name) - before == first  # nothing spent between the looks, nothing added
    resume.set()
    assert done.wait(10)
    clocks.look()
    assert 0.25 <= counted(thread.name) - before <= 2.0


def test_a_thread_that_ended_or_never_started_is_left_out():
    ended = threading.Thread(target=lambda: None, name="testclock-ended")
    ended.start()
    ended.join()
    never = threading.Thread(target=lambda: None, name="testclock-never")
    clocks = ThreadClocks([ended, never])
    clocks.look()  # no file for the one, no id for the other: nothing raised, nothing counted
    assert counted("testclock-ended") == 0.0 and counted("testclock-never") == 0.0
