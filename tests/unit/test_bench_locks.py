"""The benchmark's SQLite write-lock figures (bench/locks.py): two scrapes of /metrics make a level's table."""

from __future__ import annotations

from bench import locks, report, scrape


def test_a_window_gives_each_database_its_share_of_the_time_held_and_its_figures_a_lifecycle():
    before = {"review": {"transactions": 10, "lock_held_seconds": 1.0, "lock_wait_seconds": 0.5}}
    after = {
        "review": {"transactions": 80, "lock_held_seconds": 8.0, "lock_wait_seconds": 20.5},
        "notify": {"transactions": 5, "lock_held_seconds": 0.05, "lock_wait_seconds": 0.0},
        "profile": {"transactions": 3, "lock_held_seconds": 0.1, "lock_wait_seconds": 0.0},
    }
    before["profile"] = dict(after["profile"])  # no write in the window: left out
    figures = locks.difference(before, after, seconds=10.0, lifecycles=20)
    assert set(figures) == {"review", "notify"}
    assert figures["review"] == {
        "transactions_per_lifecycle": 3.5,
        "held_ms_per_lifecycle": 350.0,
        "mean_hold_ms": 100.0,
        "held_share": 0.7,
        "waited_ms_per_lifecycle": 1000.0,
    }
    level = {"clients": 16, "write_locks": figures}
    table = report._write_locks([("social", level)])
    assert "| social, 16 clients | review | 3.5 | 350 | 100.0 | 70% | 1000 |" in table
    assert table.index(next(line for line in table if "| review |" in line)) < table.index(
        next(line for line in table if "| notify |" in line)
    )  # the most held first
    assert report._write_locks([("social", {"clients": 16, "write_locks": {}})]) == []  # PostgreSQL: no table


def test_a_scrape_where_nothing_answers_gives_nothing(monkeypatch):
    monkeypatch.setattr(scrape.config, "service_url", lambda service: "http://127.0.0.1:9/")
    assert locks.snapshot() == {}
