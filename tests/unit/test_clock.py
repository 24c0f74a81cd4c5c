"""The system's clock without services: the switch, the file, and what `titles run` says about it."""

from __future__ import annotations

import datetime as dt

import pytest

from shared import clock, file_cache
from titles import supervisor


@pytest.fixture
def clock_file(tmp_path, monkeypatch):
    path = tmp_path / "clock.json"
    monkeypatch.setenv("TITLES_TEST_CLOCK_FILE", str(path))
    return path


@pytest.mark.parametrize("value", [None, "", "0", "true", "yes"])
def test_only_an_explicit_1_switches_the_test_clock_on(monkeypatch, clock_file, value):
    if value is None:
        monkeypatch.delenv("TITLES_TEST_CLOCK", raising=False)
    else:
        monkeypatch.setenv("TITLES_TEST_CLOCK", value)
    assert not clock.enabled()
    with pytest.raises(clock.NotFound):
        clock.advance(60)
    assert not clock_file.exists() and clock.offset_seconds() == 0


def test_the_file_is_where_the_settings_say(monkeypatch, tmp_path):
    monkeypatch.delenv("TITLES_TEST_CLOCK_FILE", raising=False)
    monkeypatch.setenv("TITLES_DATA_DIR", str(tmp_path))
    assert clock.clock_file() == tmp_path / "test-clock.json"
    monkeypatch.delenv("TITLES_DATA_DIR")
    assert clock.clock_file() == clock.Path("data") / "test-clock.json"


def test_a_move_is_read_back_and_a_test_may_set_the_clock_back(monkeypatch, clock_file):
    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")
    instant = dt.datetime(2026, 12, 3, 1, 2, 3, tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "real_now", lambda: instant)
    move = clock.advance(3600)
    assert (move.before, move.after, move.offset_seconds) == (instant, instant + dt.timedelta(hours=1), 3600)
    assert clock.now() == instant + dt.timedelta(hours=1)
    clock.set_now_for_tests(dt.datetime(2026, 3, 2, 12, tzinfo=clock.BEIJING))
    assert clock.today() == dt.date(2026, 3, 2) and clock.offset_seconds() < 0


def test_days_are_beijing_days():
    day = dt.date(2026, 10, 1)
    assert clock.start_of_day(day) == dt.datetime(2026, 9, 30, 16, tzinfo=dt.UTC)
    assert clock.end_of_day(day) == dt.datetime(2026, 10, 1, 15, 59, 59, tzinfo=dt.UTC)


def test_titles_run_switches_the_test_clock_on_and_says_so(monkeypatch):
    monkeypatch.setenv("TITLES_TEST_CLOCK", "recorded")  # so that the "1" set below is undone after the test
    monkeypatch.delenv("TITLES_TEST_CLOCK")
    notice = supervisor.announce_test_clock()
    assert clock.enabled()
    assert "ON" in notice and "title office" in notice and "production never sets it" in notice


def test_titles_run_leaves_an_explicit_setting_alone(monkeypatch):
    monkeypatch.setenv("TITLES_TEST_CLOCK", "0")
    notice = supervisor.announce_test_clock()
    assert not clock.enabled() and "off" in notice


def test_two_writes_that_look_alike_to_stat_are_both_read(monkeypatch, clock_file):
    """The freed inode number may go straight to the next file and mtime moves in coarse ticks: a file
    rewritten within one tick, to the same size, looks unchanged to stat. A fresh file is read anyway."""
    import os
    import time

    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")
    real_stat = os.stat
    tick = time.time_ns()

    class Alike:
        def __init__(self, path):
            self.st_size = real_stat(path).st_size
            self.st_ino, self.st_mtime_ns = 4242, tick

    monkeypatch.setattr(
        clock.os,
        "stat",
        lambda path, *args, **kwargs: Alike(path) if str(path) == str(clock_file) else real_stat(path, *args, **kwargs),
    )
    monkeypatch.setattr(
        file_cache.time, "time_ns", lambda: tick + 1_000_000
    )  # read within the tick, however slow fsync is
    clock.advance(1000)
    assert clock.offset_seconds() == 1000
    clock.advance(1000)  # same size, and to stat the same file
    assert clock.offset_seconds() == 2000


def test_a_settled_file_is_read_once_and_a_later_move_is_seen(monkeypatch, clock_file):
    """now() runs on every row timestamp: once the file is older than the settling window, a stat alone
    answers; the next move (a later mtime) is read."""
    import time

    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")
    clock.advance(3600)
    reads = []
    real_load = clock._load
    monkeypatch.setattr(clock, "_load", lambda path: reads.append(path) or real_load(path))
    later = time.time_ns() + file_cache.SETTLED_NS + 1
    monkeypatch.setattr(file_cache.time, "time_ns", lambda: later)
    assert [clock.offset_seconds() for _ in range(5)] == [3600] * 5
    assert len(reads) == 1
    clock.advance(60)
    assert clock.offset_seconds() == 3660
