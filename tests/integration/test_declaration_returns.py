"""A returned declaration: editable again with the reason, resubmitted before the modification deadline."""

from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select

from services.declaration import clock
from services.declaration.handlers import HANDLERS
from services.declaration.models import Activity, Declaration
from shared.messaging import topology
from shared.messaging.consumer import process
from shared.messaging.envelope import Envelope
from tests.conftest import wait_for
from tests.integration.test_declaration import fill


def _submitted(clients, auth, workers) -> str:
    headers = auth("applicant")
    clients["profile"].post(
        "/api/v1/profile/work-experiences",
        headers=headers,
        json={"status": "current", "unit_code": "91120101MA05K1XT13", "start_date": "2015-01-01"},
    )
    activity = clients["declaration"].get("/api/v1/activities", headers=headers).get_json()[0]
    created = (
        clients["declaration"]
        .post(
            "/api/v1/declarations",
            headers=headers,
            json={
                "activity_id": activity["id"],
                "level": "副高级",
                "specialty": "软件工程",
                "qualification_name": "高级工程师",
                "category": "normal",
            },
        )
        .get_json()
    )
    url = f"/api/v1/declarations/{created['id']}"
    wait_for("the draft", lambda: clients["declaration"].get(url, headers=headers).get_json()["status"] == "draft")
    fill(clients, headers, created["id"])
    assert clients["declaration"].post(url + "/submit", headers=headers).status_code == 200
    return created["id"]


def _return(dbs, declaration_id: str, reason: str = "缺少任职证明") -> str:
    sub = next(s for s in topology.subscriptions_of("declaration") if s.name == "commands")
    envelope = Envelope(
        type="declaration.return_for_revision.v1",
        source="review",
        correlation_id=declaration_id,
        data={
            "declaration_id": declaration_id,
            "stage": "unit_check",
            "stage_name": "Unit check (单位审核)",
            "organisation": "91120101MA05K1XT13",
            "actor": "unit",
            "reason": reason,
            "at": dt.datetime.now(dt.UTC).isoformat(),
        },
    )
    assert process(dbs["declaration"], sub, envelope, HANDLERS[envelope.type]) == "done"
    assert process(dbs["declaration"], sub, envelope, HANDLERS[envelope.type]) == "duplicate"
    return reason


def _outbox_types(dbs, declaration_id: str) -> list[str]:
    model = dbs["declaration"].outbox_model
    with dbs["declaration"].uow(readonly=True) as uow:
        rows = uow.session.scalars(select(model).order_by(model.seq)).all()
        return [r.type for r in rows if json.loads(r.body)["correlation_id"] == declaration_id]


def test_a_returned_declaration_shows_the_reason_and_is_resubmitted(demo, clients, auth, workers):
    declaration_id = _submitted(clients, auth, workers)
    reason = _return(dbs=demo, declaration_id=declaration_id)
    url = f"/api/v1/declarations/{declaration_id}"
    returned = clients["declaration"].get(url, headers=auth("applicant")).get_json()
    assert (returned["status"], returned["return_reason"], returned["returned_by"]) == (
        "returned",
        reason,
        "91120101MA05K1XT13",
    )
    assert [t for t in returned["trail"] if t["kind"] == "return"][0]["reason"] == reason
    again = clients["declaration"].post(url + "/submit", headers=auth("applicant"))
    assert again.status_code == 200, again.get_json()
    body = again.get_json()
    assert body["status"] == "submitted" and body["return_reason"] is None
    assert "declaration.resubmitted.v1" in _outbox_types(demo, declaration_id)


def test_resubmission_after_the_modification_deadline_is_refused(demo, clients, auth, workers):
    declaration_id = _submitted(clients, auth, workers)
    _return(dbs=demo, declaration_id=declaration_id)
    with demo["declaration"].uow() as uow:
        # The declaration's own activity: the demonstration has several, in no set order on PostgreSQL.
        activity = uow.session.get(Activity, uow.session.get(Declaration, declaration_id).activity_id)
        activity.modification_deadline = clock.end_of_day(clock.today() - dt.timedelta(days=1))
        uow.commit()
    refused = clients["declaration"].post(f"/api/v1/declarations/{declaration_id}/submit", headers=auth("applicant"))
    assert refused.status_code == 409
    assert refused.get_json()["errors"][0] == {
        "field": "activity_id",
        "rule": "modification_deadline",
        "message": refused.get_json()["errors"][0]["message"],
    }
    assert "修改提交截止时间" in refused.get_json()["detail"]
