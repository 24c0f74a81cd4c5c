"""Defence notices (答辩通知): a first notice about a week ahead, a reminder the day before, each once."""

from __future__ import annotations

import datetime as dt
import uuid

from shared.messaging.envelope import Envelope
from tests.integration.test_notify import deliver, envelope, messages

BEIJING = dt.timezone(dt.timedelta(hours=8))


def scheduled(declaration: str, defence_on: dt.date, hour: int = 9, place: str = "天津市人社局三楼会议室") -> dict:
    at = dt.datetime.combine(defence_on, dt.time(hour, 30), BEIJING)
    return {
        "declaration_id": declaration,
        "applicant": "applicant",
        "at": at.isoformat(),
        "place": place,
        "committee_code": "12120000MB1234567L",
        "first_notice_on": (defence_on - dt.timedelta(days=7)).isoformat(),
        "reminder_on": (defence_on - dt.timedelta(days=1)).isoformat(),
        "scheduled_at": dt.datetime.now(dt.UTC).isoformat(),
    }


def release(dbs, today: dt.date) -> int:
    from services.notify import defences

    return defences.release_due(dbs["notify"], today)


def today() -> dt.date:
    return dt.datetime.now(BEIJING).date()


def test_the_first_notice_goes_out_at_once_when_its_day_has_come_and_the_reminder_the_day_before(dbs):
    defence_on = today() + dt.timedelta(days=7)
    env = envelope("review.defence.scheduled.v1", scheduled(str(uuid.uuid4()), defence_on))
    assert deliver(dbs, env) == "done"
    [first] = messages(dbs)
    assert (first.kind, first.title) == ("defence_notice", "答辩通知")
    assert f"{defence_on.year}年{defence_on.month}月{defence_on.day}日 09:30" in first.body
    assert "天津市人社局三楼会议室" in first.body

    assert deliver(dbs, Envelope.from_json(env.to_json())) == "duplicate"
    assert release(dbs, today()) == 0
    assert release(dbs, defence_on - dt.timedelta(days=1)) == 1
    assert release(dbs, defence_on) == 0  # once
    kinds = [(m.kind, m.title) for m in messages(dbs)]
    assert kinds == [("defence_notice", "答辩通知"), ("defence_notice", "答辩提醒")]
    assert "明天" in messages(dbs)[1].body


def test_notices_wait_for_their_day(dbs):
    defence_on = today() + dt.timedelta(days=20)
    deliver(dbs, envelope("review.defence.scheduled.v1", scheduled(str(uuid.uuid4()), defence_on)))
    assert messages(dbs) == []
    assert release(dbs, defence_on - dt.timedelta(days=8)) == 0
    assert release(dbs, defence_on - dt.timedelta(days=7)) == 1
    assert [m.title for m in messages(dbs)] == ["答辩通知"]


def test_a_new_schedule_replaces_the_pending_notices(dbs):
    declaration = str(uuid.uuid4())
    first_on = today() + dt.timedelta(days=20)
    deliver(dbs, envelope("review.defence.scheduled.v1", scheduled(declaration, first_on, place="旧会议室")))
    moved_on = today() + dt.timedelta(days=30)
    deliver(dbs, envelope("review.defence.scheduled.v1", scheduled(declaration, moved_on, place="新会议室")))
    assert release(dbs, moved_on) == 2
    bodies = [m.body for m in messages(dbs)]
    assert len(bodies) == 2 and all("新会议室" in b and "旧会议室" not in b for b in bodies)


def test_concurrent_releases_send_each_notice_once(dbs):
    import threading

    defence_on = today() + dt.timedelta(days=20)
    for _ in range(4):
        deliver(dbs, envelope("review.defence.scheduled.v1", scheduled(str(uuid.uuid4()), defence_on)))
    barrier = threading.Barrier(3)
    counts: list[int] = []

    def work() -> None:
        barrier.wait()
        try:
            counts.append(release(dbs, defence_on - dt.timedelta(days=1)))
        except Exception:  # noqa: BLE001 - SQLite may refuse a concurrent writer; the next round retries
            counts.append(0)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    counts.append(release(dbs, defence_on - dt.timedelta(days=1)))
    assert sum(counts) == 8
    assert len(messages(dbs)) == 8
