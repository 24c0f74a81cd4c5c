"""The benchmark's CPU by piece of work (bench/work_cpu.py): two scrapes of /metrics make a level's table."""

from __future__ import annotations

from bench import report, scrape, work_cpu

BEFORE = """
# TYPE titles_cpu_seconds counter
titles_cpu_seconds_total{kind="http",name="POST /api/v1/tasks/<task_id>/complete",service="review"} 1.0
titles_cpu_seconds_total{kind="message",name="on_stage_changed",service="notify"} 0.5
titles_cpu_seconds_total{kind="thread",name="review-relay",service="review"} 2.0
titles_http_requests_total{endpoint="/api/v1/tasks/<task_id>/complete",method="POST",service="review",status="200"} 100.0
titles_messages_consumed_total{handler="on_stage_changed",service="notify",type="review.stage.changed.v1",outcome="ok"} 40.0
"""
AFTER = """
titles_cpu_seconds_total{kind="http",name="POST /api/v1/tasks/<task_id>/complete",service="review"} 3.0
titles_cpu_seconds_total{kind="http",name="GET /health",service="review"} 0.0
titles_cpu_seconds_total{kind="message",name="on_stage_changed",service="notify"} 1.5
titles_cpu_seconds_total{kind="thread",name="review-relay",service="review"} 2.5
titles_http_requests_total{endpoint="/api/v1/tasks/<task_id>/complete",method="POST",service="review",status="200"} 480.0
titles_http_requests_total{endpoint="/api/v1/tasks/<task_id>/complete",method="POST",service="review",status="409"} 20.0
titles_messages_consumed_total{handler="on_stage_changed",service="notify",type="review.stage.changed.v1",outcome="ok"} 540.0
"""


def test_a_window_gives_each_piece_of_work_its_cpu_a_lifecycle_and_each():
    rows = work_cpu.difference(work_cpu.parse(BEFORE), work_cpu.parse(AFTER), lifecycles=40)
    assert rows == [
        {
            "kind": "http",
            "service": "review",
            "name": "POST /api/v1/tasks/<task_id>/complete",
            "ms_per_lifecycle": 50.0,
            "per_lifecycle": 10.0,  # every status counted
            "ms_each": 5.0,
        },
        {
            "kind": "message",
            "service": "notify",
            "name": "on_stage_changed",
            "ms_per_lifecycle": 25.0,
            "per_lifecycle": 12.5,
            "ms_each": 2.0,
        },
        {
            "kind": "thread",
            "service": "review",
            "name": "review-relay",
            "ms_per_lifecycle": 12.5,
            "per_lifecycle": None,
            "ms_each": None,
        },
    ]  # the most first; what spent nothing in the window (GET /health) left out
    table = report._work_cpu([("social", {"clients": 16, "work_cpu": rows})])
    assert "| `POST /api/v1/tasks/<task_id>/complete` | review | 10.0 | 50.0 | 5.00 |" in table
    assert "| delivery to `on_stage_changed` | notify | 12.5 | 25.0 | 2.00 |" in table
    assert "| **all HTTP requests (Flask's first hook to the answer)** | | | 50.0 | |" in table
    assert "| review-relay | 12.5 |" in table
    assert report._work_cpu([("social", {"clients": 16, "work_cpu": []})]) == []


def test_a_scrape_where_nothing_answers_gives_nothing(monkeypatch):
    monkeypatch.setattr(scrape.config, "service_url", lambda service: "http://127.0.0.1:9/")
    assert work_cpu.snapshot() == {"cpu": {}, "count": {}}


def test_a_lifecycles_cpu_by_kind_of_work_adds_up_to_the_machines_busy_time():
    level = {
        "clients": 16,
        "cpu": {
            "seconds_per_lifecycle": {
                "system: consumers, relays, scheduler, dispatcher": 0.300,
                "system: review HTTP": 0.200,
                "system: other HTTP apps": 0.100,
                "benchmark clients (this process)": 0.050,
                "PostgreSQL": 0.0,
            },
            "unaccounted_seconds_per_lifecycle": 0.010,
            "busy_seconds_per_lifecycle": 0.660,
        },
        "work_cpu": [
            {
                "kind": "http",
                "service": "review",
                "name": "POST /x",
                "ms_per_lifecycle": 150.0,
                "per_lifecycle": 10.0,
                "ms_each": 15.0,
            },
            {
                "kind": "http",
                "service": "profile",
                "name": "GET /y",
                "ms_per_lifecycle": 60.0,
                "per_lifecycle": 20.0,
                "ms_each": 3.0,
            },
            {
                "kind": "message",
                "service": "notify",
                "name": "on_stage_changed",
                "ms_per_lifecycle": 120.0,
                "per_lifecycle": 12.0,
                "ms_each": 10.0,
            },
            {"kind": "thread", "service": "notify", "name": "notify-consumer", "ms_per_lifecycle": 140.0},
            {"kind": "thread", "service": "review", "name": "review-relay", "ms_per_lifecycle": 50.0},
            {"kind": "thread", "service": "review", "name": "review-scheduler", "ms_per_lifecycle": 30.0},
        ],
    }
    rows = dict(report._cpu_by_kind(level))
    assert rows["HTTP requests in the apps (Flask's first hook to the answer)"] == 210.0
    assert round(rows["the HTTP servers around the apps (gunicorn, the WSGI layers, routing)"], 6) == 90.0
    assert rows["deliveries (from arrival to ack)"] == 120.0
    assert rows["`titles work`: the consumers' own loops (the transport between deliveries)"] == 20.0
    assert rows["`titles work`: outbox relays"] == 50.0
    assert round(rows["`titles work`: the rest (its main thread)"], 6) == 80.0  # 300 - 120 - 50 - 30 - 20
    assert "PostgreSQL" not in rows  # nothing spent: left out
    assert round(sum(rows.values()), 6) == 660.0
    table = report._work_cpu([("social", level)])
    assert "| HTTP requests in the apps (Flask's first hook to the answer) | 210.0 | 32% |" in table
