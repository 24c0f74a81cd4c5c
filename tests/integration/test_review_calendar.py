"""A publicity reaching into a year whose holidays are not announced yet."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.review_flow_helpers import act, as_headers, only_task, review_db, start


def test_a_publicity_into_an_unannounced_year_is_refused_with_the_calendar_rule(demo, clients, auth, monkeypatch):
    review = review_db(demo, monkeypatch, dt.date(2026, 12, 28))
    monkeypatch.delenv("TITLES_WORKDAYS_PROVISIONAL", raising=False)  # production: no guessing
    client = clients["review"]
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    act(client, auth, "unit", declaration_id, "unit_check")
    act(client, auth, "unit", declaration_id, "unit_recommendation", "recommend")
    response = client.post(
        f"/api/v1/declarations/{declaration_id}/publicities",
        headers=as_headers(auth, "unit"),
        json={"kind": "unit", "evidence": "notice.pdf"},
    )
    assert response.status_code == 409, response.get_json()
    error: dict[str, Any] = response.get_json()["errors"][0]
    assert (error["field"], error["rule"]) == ("starts_on", "calendar")
    assert "2027" in error["message"] and "workdays.json" in error["message"]
    # Nothing half written: the publicity task is still open for when the calendar is loaded.
    assert only_task(client, auth("unit"), declaration_id, "unit_publicity")

    monkeypatch.setenv("TITLES_WORKDAYS_PROVISIONAL", "1")  # a demonstration may guess
    retried = client.post(
        f"/api/v1/declarations/{declaration_id}/publicities",
        headers=as_headers(auth, "unit"),
        json={"kind": "unit", "evidence": "notice.pdf"},
    )
    assert (
        retried.status_code == 201 and retried.get_json()["ends_on"] == "2027-01-04"
    )  # 28–31 Dec, (1 Jan a holiday), 4 Jan
