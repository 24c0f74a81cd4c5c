"""Helpers for the review flow tests: drive a declaration through the diagrams over HTTP."""

from __future__ import annotations

import datetime as dt
from typing import Any

from tests.integration.test_review import (
    COMMITTEE,
    UNIT,
    complete,
    deliver,
    envelope,
    fire_due,
    instance_of,
    only_task,
    outbox,
    queue,
    register,
    register_directory,
    start,
    submitted,
    tasks_of,
)

__all__ = [
    "COMMITTEE",
    "UNIT",
    "complete",
    "deliver",
    "envelope",
    "fire_due",
    "instance_of",
    "only_task",
    "outbox",
    "queue",
    "register",
    "register_directory",
    "start",
    "submitted",
    "tasks_of",
]


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_json()
    return response.get_json()


def as_headers(auth: Any, user: str | dict[str, str]) -> dict[str, str]:
    """A demo user's name, or headers already made (headers_for)."""
    return user if isinstance(user, dict) else auth(user)


def act(
    client: Any,
    auth: Any,
    user: str | dict[str, str],
    declaration_id: str,
    stage: str,
    decision: str = "approve",
    reason: str | None = None,
) -> dict[str, Any]:
    headers = as_headers(auth, user)
    task = only_task(client, headers, declaration_id, stage)
    return ok(complete(client, headers, task["id"], decision, reason))


def advance_clock(client: Any, auth: Any, days: int = 0, seconds: int = 0) -> None:
    """Move the system's test clock forward (as the title office), then let the review scheduler fire
    what fell due meanwhile, as ``titles scheduler`` would on its next tick."""
    ok(client.post("/api/v1/clock/advance", headers=auth("title_office"), json={"days": days, "seconds": seconds}))
    fire_due(client.application.extensions["titles.database"])


def advance_to(client: Any, auth: Any, instant: dt.datetime) -> None:
    """Move the test clock forward to ``instant`` (to the second) and let the scheduler fire."""
    from shared import clock

    advance_clock(client, auth, seconds=max(1, round((instant - clock.now()).total_seconds())))


def timers_of(client: Any, auth: Any, declaration_id: str) -> list[tuple[str, str, str]]:
    """The timers the process view shows the process waiting at: (element, process, due at in Beijing)."""
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("title_office")))
    return [
        (
            t["element"],
            t["process_id"],
            dt.datetime.fromisoformat(t["due_at"]).astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat(),
        )
        for t in view["timers"]
    ]


def publicise(client: Any, auth: Any, user: str | dict[str, str], declaration_id: str, kind: str) -> dict[str, Any]:
    return ok(
        client.post(
            f"/api/v1/declarations/{declaration_id}/publicities",
            headers=as_headers(auth, user),
            json={"kind": kind, "evidence": "notice.pdf"},
        ),
        201,
    )


def through_unit(client: Any, auth: Any, declaration_id: str, unit: str | dict[str, str] = "unit") -> None:
    act(client, auth, unit, declaration_id, "unit_check")
    act(client, auth, unit, declaration_id, "unit_recommendation", "recommend")
    publicise(client, auth, unit, declaration_id, "unit")
    advance_clock(client, auth, 14)
    act(client, auth, unit, declaration_id, "unit_recommend")


def through_departments(
    client: Any, auth: Any, declaration_id: str, users: tuple[str | dict[str, str], ...] = ("dept1", "dept2")
) -> None:
    for user in users:
        act(client, auth, user, declaration_id, "department_check")


def attend(client: Any, auth: Any, declaration_id: str, present: list[str], status: int = 200) -> Any:
    return ok(
        client.post(
            f"/api/v1/declarations/{declaration_id}/panel/attendance",
            headers=auth("committee"),
            json={"present": present},
        ),
        status,
    )


def panel_of(client: Any, auth: Any, declaration_id: str) -> list[str]:
    return ok(client.get(f"/api/v1/declarations/{declaration_id}/panel", headers=auth("committee")))["panel"]


def vote_all(client: Any, auth: Any, declaration_id: str, choices: dict[str, str]) -> None:
    for expert, choice in choices.items():
        act(client, auth, expert_headers(auth, expert), declaration_id, "expert_vote", choice)


def through_the_vote(client: Any, auth: Any, declaration_id: str, choice: str = "agree") -> list[str]:
    """From the unit check to the experts' votes, every one voting ``choice``; returns the panel."""
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    panel = panel_of(client, auth, declaration_id)
    attend(client, auth, declaration_id, panel)
    vote_all(client, auth, declaration_id, {e: choice for e in panel})
    return panel


def after_vote(client: Any, auth: Any, declaration_id: str) -> None:
    publicise(client, auth, "committee", declaration_id, "result")
    advance_clock(client, auth, 14)
    act(client, auth, "committee", declaration_id, "report_results")
    act(client, auth, "title_office", declaration_id, "title_office_filing")


def finish_social(client: Any, auth: Any, db: Any, data: dict[str, Any]) -> None:
    """From committee acceptance to the certificate, every expert agreeing."""
    declaration_id = data["declaration_id"]
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    panel = panel_of(client, auth, declaration_id)
    attend(client, auth, declaration_id, panel)
    vote_all(client, auth, declaration_id, {e: "agree" for e in panel})
    after_vote(client, auth, declaration_id)
    certificate_issued(db, data)
    assert outcome_of(db, declaration_id) == ("completed", "certified")


def certificate_issued(db: Any, data: dict[str, Any]) -> None:
    issued = {
        "certificate_id": "c-" + data["declaration_id"][:8],
        "number": "TJ-2026-000001",
        "declaration_id": data["declaration_id"],
        "holder": data["applicant"],
        "holder_name": "张伟",
        "series": data["series"],
        "level": data["level"],
        "specialty": data["specialty"],
        "qualification_name": data["qualification_name"],
        "issued_on": dt.date.today().isoformat(),
    }
    assert (
        deliver(db, envelope("certificate.issued.v1", issued, source="certificate"), "on_certificate_issued") == "done"
    )


# -- people beyond the demo users (extra experts, departments, a second unit reviewer) ----------


def headers_for(subject: str, role: str, organisation: str | None, name: str | None = None) -> dict[str, str]:
    """A bearer token from the development issuer's key for someone not in users.json."""
    import time

    import jwt

    from shared.identity import dev_issuer

    kid, key = dev_issuer.signing_key()  # TITLES_DATA_DIR is the test run's data folder
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": dev_issuer.default_issuer(),
        "aud": dev_issuer.DEFAULT_AUDIENCE,
        "sub": subject,
        "iat": now,
        "exp": now + 3600,
        "role": role,
        "name": name or subject,
    }
    if organisation is not None:
        claims["org"] = organisation
    return {"Authorization": f"Bearer {jwt.encode(claims, key, algorithm='RS256', headers={'kid': kid})}"}


def add_experts(db: Any, count: int, committee: str = COMMITTEE) -> list[str]:
    """expert4, expert5, ... in the committee's pool (the demo has expert1..3)."""
    from services.review import service

    names = [f"expert{i}" for i in range(4, 4 + count)]
    with db.uow() as uow:
        for name in names:
            service.add_expert(uow, committee, name, name)
        uow.commit()
    return names


def expert_headers(auth: Any, expert: str) -> dict[str, str]:
    if expert in ("expert1", "expert2", "expert3"):
        return auth(expert)
    return headers_for(expert, "expert", COMMITTEE)


# -- messages from other services, through the review subscriptions ---------------------------


def handle(db: Any, message_type: str, data: dict[str, Any], source: str = "declaration") -> str:
    """Process one message as the review consumer does (inbox, the wired handlers, commit)."""
    from services.review.bootstrap import handlers
    from shared.messaging import topology
    from shared.messaging.consumer import process

    subscription = next(s for s in topology.subscriptions_of("review") if message_type in s.types)
    return process(db, subscription, envelope(message_type, data, source=source), handlers()[message_type])


def resubmit(db: Any, data: dict[str, Any], **changes: Any) -> None:
    body = {**data, "submitted_at": "2026-06-01T09:00:00+08:00", **changes}
    assert handle(db, "declaration.resubmitted.v1", body) == "done"


def withdraw(db: Any, declaration_id: str) -> None:
    assert (
        handle(
            db,
            "declaration.withdrawn.v1",
            {"declaration_id": declaration_id, "applicant": "applicant", "at": "2026-06-01T09:00:00+08:00"},
        )
        == "done"
    )


def open_stages(db: Any, declaration_id: str) -> list[tuple[str, str | None]]:
    return [(t.bpmn_id, t.organisation) for t in tasks_of(db, declaration_id) if t.status in ("ready", "claimed")]


def outcome_of(db: Any, declaration_id: str) -> tuple[str, str | None]:
    found = instance_of(db, declaration_id)
    return found.status, found.outcome


def incidents(db: Any, declaration_id: str) -> list[Any]:
    from sqlalchemy import select

    from services.review.models import Incident

    with db.uow(readonly=True) as uow:
        return list(uow.session.scalars(select(Incident).where(Incident.declaration_id == declaration_id)))


def process_data(db: Any, declaration_id: str, stage: str) -> dict[str, Any]:
    """The data of the instance's open task at ``stage`` (what its scripts and gateways read)."""
    import uuid

    from services.review.engine import runtime

    [row] = [t for t in tasks_of(db, declaration_id, bpmn_id=stage) if t.status in ("ready", "claimed")]
    with db.uow(readonly=True) as uow:
        found = uow.session.get(type(instance_of(db, declaration_id)), row.instance_id)
        workflow = runtime.SERIALIZER.deserialize_json(found.state)
    return dict(workflow.get_task_from_id(uuid.UUID(row.id)).data)


# -- the test clock -------------------------------------------------------------------------------


def set_today(db: Any, day: dt.date) -> None:
    """Put the system's test clock on ``day`` (noon, Beijing): test setup, so it may go back too.
    ``db`` is unused (the clock is one file for every service); kept so callers need not change."""
    from shared import clock

    clock.set_now_for_tests(dt.datetime.combine(day, dt.time(12), tzinfo=clock.BEIJING))


def today(db: Any = None) -> dt.date:
    """Today (Beijing) on the system's clock; ``db`` is unused."""
    from shared import clock

    return clock.today()


# Every flow test starts on a fixed day, so periods and deadlines do not depend on when the suite
# runs (nor run into a year the working-day calendar does not know yet).
START_DAY = dt.date(2026, 3, 2)


def review_db(demo: Any, monkeypatch: Any, day: dt.date = START_DAY) -> Any:
    """The review database with the demo data, its directory replica, and the test clock on ``day``."""
    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")
    db = demo["review"]
    register_directory(db)
    set_today(db, day)
    _deployed_just_now(db)
    return db


def _deployed_just_now(db: Any) -> None:
    """The demo's diagrams were deployed on real time; with the clock set back before that, a version a
    test deploys would look older than they are (the latest is the last deployed). Test setup: they
    were deployed just now, on the test's day."""
    from sqlalchemy import update

    from services.review.models import Definition
    from shared.db import utcnow

    with db.uow() as uow:
        uow.session.execute(update(Definition).values(deployed_at=utcnow()))
        uow.commit()
