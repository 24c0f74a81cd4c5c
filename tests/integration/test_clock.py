"""One clock for the whole system (shared/clock.py): the test clock, switched on only by
TITLES_TEST_CLOCK=1, moved forward only by the title office, bounded, audited, and read by every
service (the declaration's deadlines, the notices' dates)."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
import uuid

import pytest
from sqlalchemy import select

from shared import clock
from tests.integration.test_declaration_returns import _return, _submitted
from tests.integration.test_notify import deliver, envelope, messages, stage_changed

DAY = 86400


@pytest.fixture
def test_clock(monkeypatch: pytest.MonkeyPatch, data_dir) -> None:
    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")


@pytest.fixture
def frozen(monkeypatch: pytest.MonkeyPatch) -> dt.datetime:
    """Real time stands still (on a whole second) so that a move lands exactly where the test says;
    the test clock's offset file, and everything reading it, stay what they are."""
    instant = dt.datetime.now(dt.UTC).replace(microsecond=0)
    monkeypatch.setattr(clock, "real_now", lambda: instant)
    return instant


def move(clients, auth, user: str = "title_office", **body):
    return clients["review"].post("/api/v1/clock/advance", headers=auth(user), json=body)


def state(clients, auth, user: str = "title_office") -> dict:
    response = clients["review"].get("/api/v1/clock", headers=auth(user))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


# -- who may move it -----------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["applicant", "unit", "dept1", "committee", "expert1"])
def test_only_the_title_office_moves_the_test_clock(dbs, clients, auth, test_clock, user):
    refused = move(clients, auth, user, days=1)
    assert refused.status_code == 403, refused.get_json()
    assert refused.get_json()["errors"][0]["rule"] == "title_office_only"
    assert state(clients, auth)["offset_seconds"] == 0

    moved = move(clients, auth, days=1)
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["moved_by"] == "title_office" and moved.get_json()["seconds"] == DAY
    assert state(clients, auth, user)["offset_seconds"] == DAY


def test_moving_the_clock_needs_a_login(dbs, clients, test_clock):
    assert clients["review"].post("/api/v1/clock/advance", json={"days": 1}).status_code == 401
    assert clients["review"].get("/api/v1/clock").status_code == 401
    assert clock.offset_seconds() == 0


def test_without_the_setting_the_clock_cannot_be_moved_and_runs_on_real_time(dbs, clients, auth, monkeypatch, frozen):
    monkeypatch.delenv("TITLES_TEST_CLOCK", raising=False)
    clock.set_now_for_tests(frozen + dt.timedelta(days=30))  # a file left behind is not read

    refused = move(clients, auth, days=1)
    assert refused.status_code == 404, refused.get_json()
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert refused.get_json()["errors"][0]["field"] == "TITLES_TEST_CLOCK"
    assert "TITLES_TEST_CLOCK" in refused.get_json()["detail"]
    assert move(clients, auth, "applicant", days=1).status_code == 404

    seen = state(clients, auth)
    assert (seen["test_clock"], seen["offset_seconds"]) == (False, 0)
    assert dt.datetime.fromisoformat(seen["now"]) == frozen
    assert clock.now() == frozen and clock.today() == frozen.astimezone(clock.BEIJING).date()
    assert seen["moves"] == []


def test_a_move_is_forwards_bounded_and_validated(dbs, clients, auth, test_clock):
    cases = [
        ({"days": -1}, "days", "forward_only"),
        ({"seconds": -5}, "seconds", "forward_only"),
        ({"days": 2, "seconds": -1}, "seconds", "forward_only"),
        ({}, "seconds", "at_least_one_second"),
        ({"days": 0, "seconds": 0}, "seconds", "at_least_one_second"),
        ({"seconds": 10**15}, "seconds", "at_most_366_days"),
        ({"days": 367}, "days", "at_most_366_days"),
        ({"days": 10**15}, "days", "at_most_366_days"),
        ({"days": 366, "seconds": 1}, "seconds", "at_most_366_days"),
        ({"days": "soon"}, "days", "invalid"),
        ({"days": 1.5}, "days", "invalid"),
        ({"hours": 3}, "hours", "unknown_field"),
    ]
    for body, field, rule in cases:
        refused = move(clients, auth, **body)
        assert refused.status_code == 422, (body, refused.get_json())
        assert [(e["field"], e["rule"]) for e in refused.get_json()["errors"]] == [(field, rule)], body
    assert clock.offset_seconds() == 0


def test_the_clock_runs_at_most_a_hundred_years_ahead(dbs, clients, auth, test_clock, frozen):
    clock.set_now_for_tests(frozen + dt.timedelta(days=36600, seconds=-366 * DAY - 10))  # setup: near the end
    assert move(clients, auth, days=366).status_code == 200
    assert move(clients, auth, seconds=10).status_code == 200
    refused = move(clients, auth, seconds=1)
    assert refused.status_code == 422
    assert refused.get_json()["errors"][0]["rule"] == "at_most_36600_days_ahead"
    assert clock.offset_seconds() == 36600 * DAY
    assert state(clients, auth)["moves_total"] == 2


def test_every_move_is_audited_and_logged(dbs, clients, auth, test_clock, frozen, caplog):
    from services.review.models import ClockMove

    with caplog.at_level("INFO", logger="services.review.clock"):
        first = move(clients, auth, days=15).get_json()
        second = move(clients, auth, seconds=90).get_json()
    assert (first["from"], first["to"]) == ((frozen).isoformat(), (frozen + dt.timedelta(days=15)).isoformat())
    assert (second["from"], second["to"]) == (first["to"], (frozen + dt.timedelta(days=15, seconds=90)).isoformat())

    seen = state(clients, auth)
    assert seen["offset_seconds"] == 15 * DAY + 90 and seen["moves_total"] == 2
    assert [(m["moved_by"], m["seconds"], m["moved_at"]) for m in seen["moves"]] == [
        ("title_office", 90, frozen.isoformat()),
        ("title_office", 15 * DAY, frozen.isoformat()),
    ]
    assert seen["today"] == (frozen + dt.timedelta(days=15, seconds=90)).astimezone(clock.BEIJING).date().isoformat()
    assert "moves" not in state(clients, auth, "applicant")  # the audit is the title office's

    with dbs["review"].uow(readonly=True) as uow:
        assert len(uow.session.scalars(select(ClockMove)).all()) == 2
    logged = [r for r in caplog.records if r.getMessage().startswith("test clock moved forward")]
    assert [(r.moved_by, r.seconds) for r in logged] == [("title_office", 15 * DAY), ("title_office", 90)]


def test_refused_moves_are_not_audited(dbs, clients, auth, test_clock):
    move(clients, auth, "applicant", days=1)
    move(clients, auth, days=-1)
    assert state(clients, auth)["moves"] == []


def test_the_clock_is_documented_in_the_openapi(dbs, clients):
    paths = clients["review"].get("/openapi.json").get_json()["paths"]
    assert {"403", "404", "422"} <= set(paths["/api/v1/clock/advance"]["post"]["responses"])
    assert "200" in paths["/api/v1/clock"]["get"]["responses"]


# -- one clock, every process ----------------------------------------------------------------------


def test_two_moves_at_once_both_count(data_dir, test_clock):
    def slowly_recorded(_move: clock.Move) -> None:
        time.sleep(0.002)  # widens the read-modify-write window: without the lock, moves would be lost

    def mover() -> None:
        for _ in range(10):
            clock.advance(1, slowly_recorded)

    threads = [threading.Thread(target=mover) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.offset_seconds() == 30


def test_a_move_in_another_process_moves_this_one(data_dir, test_clock):
    before = clock.offset_seconds()
    subprocess.run(
        [sys.executable, "-c", "from shared import clock; clock.advance(86400)"],
        check=True,
        env={**os.environ, "TITLES_TEST_CLOCK": "1"},
    )
    assert clock.offset_seconds() == before + DAY


def test_an_unreadable_clock_file_is_an_error_not_real_time(data_dir, test_clock):
    clock.clock_file().write_text("{not json", "utf-8")
    with pytest.raises(RuntimeError, match="test clock file"):
        clock.now()
    clock.set_now_for_tests(clock.real_now())


# -- every service reads it ----------------------------------------------------------------------


@pytest.mark.parametrize("after_deadline, status", [(-1, 200), (1, 409)])
def test_the_declaration_service_judges_a_resubmission_by_the_moved_clock(
    demo, clients, auth, workers, test_clock, monkeypatch, after_deadline, status
):
    from services.declaration.models import Activity, Declaration

    declaration_id = _submitted(clients, auth, workers)
    _return(dbs=demo, declaration_id=declaration_id)
    instant = dt.datetime.now(dt.UTC).replace(microsecond=0)
    monkeypatch.setattr(clock, "real_now", lambda: instant)
    deadline = clock.end_of_day(instant.astimezone(clock.BEIJING).date() + dt.timedelta(days=3))
    with demo["declaration"].uow() as uow:
        # The declaration's own activity: the demonstration has several, in no set order on PostgreSQL.
        activity_id = uow.session.get(Declaration, declaration_id).activity_id
        uow.session.get(Activity, activity_id).modification_deadline = deadline
        uow.commit()

    # The title office moves the review's clock to a second before (or after) the deadline ...
    target = deadline + dt.timedelta(seconds=after_deadline)
    assert move(clients, auth, seconds=int((target - instant).total_seconds())).status_code == 200
    # ... and the declaration service, a service of its own, judges the resubmission by it.
    answer = clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=auth("applicant"))
    assert answer.status_code == status, answer.get_json()
    if status == 200:
        assert answer.get_json()["status"] == "submitted"
        assert dt.datetime.fromisoformat(answer.get_json()["submitted_at"]) == target
    else:
        assert answer.get_json()["errors"][0]["rule"] == "modification_deadline"


def test_a_notice_is_dated_by_the_moved_clock_and_released_on_its_day(dbs, clients, auth, test_clock, frozen):
    from services.notify import defences

    # A defence in 10 days: the first notice is due in 3, the reminder in 9 (Beijing days).
    today = frozen.astimezone(clock.BEIJING).date()
    at = dt.datetime.combine(today + dt.timedelta(days=10), dt.time(9, 30), clock.BEIJING)
    declaration_id = str(uuid.uuid4())
    assert (
        deliver(
            dbs,
            envelope(
                "review.defence.scheduled.v1",
                {
                    "declaration_id": declaration_id,
                    "applicant": "applicant",
                    "at": at.isoformat(),
                    "place": "三楼会议室",
                    "committee_code": "12120000MB1234567L",
                    "first_notice_on": (today + dt.timedelta(days=3)).isoformat(),
                    "reminder_on": (today + dt.timedelta(days=9)).isoformat(),
                    "scheduled_at": frozen.isoformat(),
                },
            ),
        )
        == "done"
    )
    assert defences.release_due(dbs["notify"]) == 0 and messages(dbs) == []

    assert move(clients, auth, days=3).status_code == 200
    assert defences.release_due(dbs["notify"]) == 1
    [notice] = messages(dbs)
    assert (notice.kind, notice.created_at) == ("defence_notice", frozen + dt.timedelta(days=3))

    assert move(clients, auth, days=2).status_code == 200
    deliver(dbs, envelope("review.stage.changed.v1", stage_changed(declaration_id)))
    assert messages(dbs)[-1].created_at == frozen + dt.timedelta(days=5)
    listed = clients["notify"].get("/api/v1/messages", headers=auth("applicant")).get_json()["items"]
    assert dt.datetime.fromisoformat(listed[0]["created_at"]) == frozen + dt.timedelta(days=5)
