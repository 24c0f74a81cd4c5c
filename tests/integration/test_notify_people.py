"""Organisations writing to the applicants of their own declarations, reports (举报) during a
publicity and their answers, the unread count, a revoked certificate's notice, editable templates."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from sqlalchemy import select

from shared.messaging.envelope import Envelope
from tests.integration.test_notify import deliver, envelope, messages, stage_changed

UNIT = "91120101MA05K1XT13"


def _org(auth, user: str) -> str:
    """The organisation a demo user acts for."""
    import pathlib

    import shared.demo

    users = json.loads((pathlib.Path(shared.demo.__file__).parent / "users.json").read_text(encoding="utf-8"))
    return next(u["org"] for u in users["users"] if u["username"] == user)


def _passed_through(dbs, organisation: str, stage: str = "unit_check", applicant: str = "applicant") -> str:
    declaration = str(uuid.uuid4())
    deliver(
        dbs,
        envelope(
            "review.stage.changed.v1",
            stage_changed(declaration, applicant=applicant, stage=stage, organisation=organisation),
        ),
    )
    return declaration


def _write(
    clients, auth, user: str, declaration: str, subject: str = "补充材料通知", content: str = "请补充继续教育证明。"
):
    return clients["notify"].post(
        "/api/v1/organisation-messages",
        headers=auth(user),
        json={"declaration_id": declaration, "subject": subject, "content": content},
    )


# --------------------------------------------------------------------------- organisations write to people


def test_a_unit_writes_to_the_applicant_of_its_own_declaration(dbs, clients, auth):
    declaration = _passed_through(dbs, _org(auth, "unit"))
    response = _write(clients, auth, "unit", declaration)
    assert response.status_code == 201, response.get_json()
    inbox = clients["notify"].get("/api/v1/messages", headers=auth("applicant")).get_json()
    [sent] = [m for m in inbox["items"] if m["kind"] == "organisation_message"]
    assert sent["title"] == "补充材料通知"
    assert "请补充继续教育证明。" in sent["body"]
    assert sent["sender"] == _org(auth, "unit")
    assert sent["declaration_id"] == declaration


@pytest.mark.parametrize("user", ["unit", "committee", "title_office"])
def test_staff_of_an_organisation_the_declaration_never_reached_may_not_write(dbs, clients, auth, user):
    declaration = _passed_through(dbs, "some-other-organisation")
    response = _write(clients, auth, user, declaration)
    assert response.status_code == 403
    assert [e["field"] for e in response.get_json()["errors"]] == ["declaration_id"]
    assert [m for m in messages(dbs) if m.kind == "organisation_message"] == []


def test_an_unknown_declaration_looks_like_someone_elses(dbs, clients, auth):
    unknown = _write(clients, auth, "unit", str(uuid.uuid4()))
    foreign = _write(clients, auth, "unit", _passed_through(dbs, "some-other-organisation"))
    assert unknown.status_code == foreign.status_code == 403
    assert unknown.get_json()["errors"] == foreign.get_json()["errors"]


@pytest.mark.parametrize("user, status", [("applicant", 403), ("expert1", 403)])
def test_applicants_and_experts_send_no_organisation_messages(dbs, clients, auth, user, status):
    declaration = _passed_through(dbs, _org(auth, "unit"))
    assert _write(clients, auth, user, declaration).status_code == status


def test_each_organisation_on_the_path_may_write(dbs, clients, auth):
    declaration = _passed_through(dbs, _org(auth, "unit"))
    deliver(
        dbs,
        envelope(
            "review.stage.changed.v1",
            stage_changed(
                declaration, stage="committee_acceptance", stage_name="评委会接收", organisation=_org(auth, "committee")
            ),
        ),
    )
    assert _write(clients, auth, "committee", declaration).status_code == 201
    assert _write(clients, auth, "unit", declaration).status_code == 201  # still one of the unit's
    assert _write(clients, auth, "dept2", declaration).status_code == 403


# --------------------------------------------------------------------------- reports


def _report(
    clients,
    declaration: str,
    content: str = "该申报人论文存在抄袭。",
    headers: dict | None = None,
    address: str = "203.0.113.7",
):
    return clients["notify"].post(
        "/api/v1/reports",
        json={"declaration_id": declaration, "content": content},
        headers=headers or {},
        environ_base={"REMOTE_ADDR": address},
    )


def _filed_events(dbs) -> list[Envelope]:
    model = dbs["notify"].outbox_model
    with dbs["notify"].uow(readonly=True) as uow:
        return [
            Envelope.from_json(r.body)
            for r in uow.session.scalars(
                select(model).where(model.type == "notify.report.filed.v1").order_by(model.seq)
            )
        ]


def _resolved(
    declaration: str, reference: str | None, upheld: bool = True, resolution: str = "经核查属实，已取消推荐。"
):
    return {
        "declaration_id": declaration,
        "report_reference": reference,
        "upheld": upheld,
        "resolution": resolution,
        "organisation": UNIT,
        "at": dt.datetime.now(dt.UTC).isoformat(),
    }


def test_anyone_reports_a_declaration_under_publicity_and_gets_a_reference(dbs, clients):
    declaration = _passed_through(dbs, UNIT, stage="unit_publicity")
    response = _report(clients, declaration)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert re.fullmatch(r"JB\d{8}[2-9A-Z]{10}", body["reference"])
    assert body["status"] == "pending" and body["upheld"] is None

    [event] = _filed_events(dbs)
    assert event.correlation_id == declaration
    assert event.data == {
        "reference": body["reference"],
        "declaration_id": declaration,
        "content": "该申报人论文存在抄袭。",
        "reporter": None,
        "filed_at": event.data["filed_at"],
    }


def test_a_report_is_taken_for_any_declaration_under_review_and_refused_otherwise(dbs, clients):
    """Whether a publicity runs is the review's to say (it answers the report); notify refuses only a
    declaration it does not know or whose review has ended."""
    checking = _passed_through(dbs, UNIT, stage="unit_check")
    assert _report(clients, checking).status_code == 201
    unknown = _report(clients, str(uuid.uuid4()))
    assert unknown.status_code == 422
    assert [(e["field"], e["rule"]) for e in unknown.get_json()["errors"]] == [
        ("declaration_id", "submitted_declaration")
    ]
    ended = _passed_through(dbs, UNIT, stage="result_publicity")
    deliver(
        dbs,
        envelope(
            "review.completed.v1",
            {
                "declaration_id": ended,
                "applicant": "applicant",
                "outcome": "certified",
                "at": dt.datetime.now(dt.UTC).isoformat(),
            },
        ),
    )
    response = _report(clients, ended)
    assert [(e["field"], e["rule"]) for e in response.get_json()["errors"]] == [("declaration_id", "under_review")]
    assert [e.data["declaration_id"] for e in _filed_events(dbs)] == [checking]


def test_a_report_right_after_a_publicity_starts_becomes_its_objection(demo, clients, auth, monkeypatch):
    """The unit starts its publicity; notify has not heard of it yet (its stage message is still on the
    way) when someone reports: the report is taken, and the review, which knows the publicity runs,
    records it as an objection to it instead of answering that none runs."""
    from tests.integration.review_flow_helpers import act, publicise, review_db, start
    from tests.integration.test_review import deliver as deliver_to_review
    from tests.integration.test_review import outbox as review_outbox

    review = review_db(demo, monkeypatch)
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    [first_stage] = review_outbox(review, "review.stage.changed.v1", declaration_id)
    deliver(demo, envelope("review.stage.changed.v1", first_stage))  # all notify knows: the unit check
    act(clients["review"], auth, "unit", declaration_id, "unit_check")
    act(clients["review"], auth, "unit", declaration_id, "unit_recommendation", "recommend")
    started = publicise(clients["review"], auth, "unit", declaration_id, "unit")

    response = _report(clients, declaration_id, headers=auth("applicant"))
    assert response.status_code == 201, response.get_json()
    reference = response.get_json()["reference"]
    [filed] = _filed_events(demo)
    assert deliver_to_review(review, filed, "on_report_filed") == "done"
    [publicity] = (
        clients["review"].get(f"/api/v1/declarations/{declaration_id}/publicities", headers=auth("unit")).get_json()
    )
    assert publicity["id"] == started["id"]
    [objection] = publicity["objections"]
    assert (objection["report_reference"], objection["status"]) == (reference, "open")
    assert review_outbox(review, "review.objection.resolved.v1", declaration_id) == []  # not "none runs"
    assert clients["notify"].get(f"/api/v1/reports/{reference}").get_json()["status"] == "pending"


def test_the_answer_is_looked_up_by_reference_and_reaches_a_logged_in_reporter(dbs, clients, auth):
    declaration = _passed_through(dbs, UNIT, stage="result_publicity", applicant="someone-else")
    anonymous = _report(clients, declaration).get_json()["reference"]
    signed_in = _report(clients, declaration, headers=auth("applicant")).get_json()["reference"]
    assert [e.data["reporter"] for e in _filed_events(dbs)] == [None, "applicant"]

    lookup = clients["notify"].get(f"/api/v1/reports/{anonymous}")
    assert lookup.status_code == 200 and lookup.get_json()["status"] == "pending"

    for reference, upheld in ((anonymous, False), (signed_in, True)):
        env = envelope("review.objection.resolved.v1", _resolved(declaration, reference, upheld=upheld))
        assert deliver(dbs, env) == "done"
        assert deliver(dbs, Envelope.from_json(env.to_json())) == "duplicate"

    answered = clients["notify"].get(f"/api/v1/reports/{anonymous.lower()}").get_json()
    assert (answered["status"], answered["upheld"], answered["resolution"]) == (
        "answered",
        False,
        "经核查属实，已取消推荐。",
    )
    assert answered["answered_at"] is not None
    [feedback] = [m for m in messages(dbs) if m.kind == "report_feedback"]
    assert feedback.title == "举报处理结果"
    assert signed_in in feedback.body and "举报属实" in feedback.body
    assert "content" not in answered  # the lookup does not repeat what was reported


def test_an_objection_without_a_report_or_an_unknown_reference_changes_nothing(dbs):
    declaration = str(uuid.uuid4())
    assert deliver(dbs, envelope("review.objection.resolved.v1", _resolved(declaration, None))) == "done"
    assert (
        deliver(dbs, envelope("review.objection.resolved.v1", _resolved(declaration, "JB20240101ZZZZZZZZZZ"))) == "done"
    )
    assert messages(dbs) == []


def test_an_unknown_reference_is_not_found(dbs, clients):
    response = clients["notify"].get("/api/v1/reports/JB20240101ABCDEFGHJK")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"


def test_reports_are_rate_limited_per_address(dbs, apps, clients, monkeypatch):
    monkeypatch.setenv("NOTIFY_REPORT_RATE_LIMIT", "2/3600")
    apps["notify"].extensions.pop("notify.rate.report", None)
    try:
        declaration = _passed_through(dbs, UNIT, stage="unit_publicity")
        statuses = [_report(clients, declaration, address="198.51.100.1").status_code for _ in range(3)]
        assert statuses == [201, 201, 429]
        assert _report(clients, declaration, address="198.51.100.2").status_code == 201
        assert len(_filed_events(dbs)) == 3
    finally:
        apps["notify"].extensions.pop("notify.rate.report", None)


def test_reports_need_no_login_in_the_openapi_document(clients):
    spec = clients["notify"].get("/openapi.json").get_json()
    assert spec["paths"]["/api/v1/reports"]["post"]["security"] == []
    assert spec["paths"]["/api/v1/reports/{reference}"]["get"]["security"] == []


# --------------------------------------------------------------------------- more kinds, unread count, templates


def test_a_revoked_certificate_tells_its_holder_why(dbs, clients, auth):
    data = {
        "certificate_id": str(uuid.uuid4()),
        "number": "TJZC2024000042",
        "declaration_id": str(uuid.uuid4()),
        "holder": "applicant",
        "holder_name": "张伟",
        "qualification_name": "工程师",
        "reason": "申报材料造假",
        "revoked_by": "title_office",
        "revoked_at": dt.datetime.now(dt.UTC).isoformat(),
    }
    deliver(dbs, envelope("certificate.revoked.v1", data))
    [message] = messages(dbs)
    assert message.kind == "certificate_revoked" and message.title == "电子职称证书已撤销"
    assert "TJZC2024000042" in message.body and "申报材料造假" in message.body
    assert clients["notify"].get("/api/v1/messages/unread-count", headers=auth("applicant")).get_json() == {"unread": 1}


def test_an_operator_edits_the_templates_in_a_file(dbs, tmp_path, monkeypatch):
    from services.notify import templates

    texts = json.loads(templates.DEFAULT_FILE.read_text(encoding="utf-8"))
    texts["stage_change"]["title"] = "进度提醒"
    texts["stage_change"]["body"] = "{stage_name}：已到达。{unknown_field}"
    edited = tmp_path / "templates.json"
    edited.write_text(json.dumps(texts, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setenv("NOTIFY_TEMPLATES", str(edited))
    deliver(dbs, envelope("review.stage.changed.v1", stage_changed(str(uuid.uuid4()))))
    [message] = messages(dbs)
    assert (message.title, message.body) == ("进度提醒", "单位审核：已到达。未说明")


# --------------------------------------------------------------------------- through the broker


def test_a_report_reaches_the_review_service_and_its_answer_comes_back(dbs, clients, auth, workers):
    """Filed with notify, taken by review as an objection; with no publicity running there, review
    answers at once, and the reporter reads the answer by reference and in their inbox."""
    from tests.conftest import wait_for

    declaration = _passed_through(dbs, UNIT, stage="unit_publicity", applicant="someone-else")
    reference = _report(clients, declaration, headers=auth("applicant")).get_json()["reference"]

    def answered():
        body = clients["notify"].get(f"/api/v1/reports/{reference}").get_json()
        return body if body["status"] == "answered" else None

    body = wait_for("review's answer to the report", answered)
    assert body["upheld"] is False and "公示" in body["resolution"]
    inbox = wait_for(
        "the answer in the reporter's inbox",
        lambda: [
            m
            for m in clients["notify"].get("/api/v1/messages", headers=auth("applicant")).get_json()["items"]
            if m["kind"] == "report_feedback"
        ],
    )
    assert reference in inbox[0]["body"]


def test_a_revocation_reaches_the_holders_inbox_through_the_broker(dbs, clients, auth, workers):
    from services.certificate.models import Certificate
    from tests.conftest import wait_for
    from tests.integration.test_certificate import envelope_of, issue_command, run

    command = issue_command()
    run(dbs, envelope_of(command))
    with dbs["certificate"].uow(readonly=True) as uow:
        number = uow.session.scalar(
            select(Certificate.number).where(Certificate.declaration_id == command["declaration_id"])
        )
    response = clients["certificate"].post(
        f"/api/v1/certificates/{number}/revoke", json={"reason": "学历造假"}, headers=auth("title_office")
    )
    assert response.status_code == 200
    kinds = wait_for(
        "both notices in the holder's inbox",
        lambda: (lambda k: k if len(k) == 2 else None)(
            sorted(
                m["kind"]
                for m in clients["notify"].get("/api/v1/messages", headers=auth("applicant")).get_json()["items"]
            )
        ),
    )
    assert kinds == ["certificate_issued", "certificate_revoked"]
