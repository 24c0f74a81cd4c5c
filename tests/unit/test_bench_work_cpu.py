"""The benchmark's CPU by piece of work (bench/work_cpu.py): two scrapes of /metrics make a level's table."""

from __future__ import annotations

from bench import report, work_cpu

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
    monkeypatch.setattr(work_cpu.config, "service_url", lambda service: "http://127.0.0.1:9/")
    assert work_cpu.snapshot() == {"cpu": {}, "count": {}}
