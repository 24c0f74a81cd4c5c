"""The notify service: events become messages in the applicant's inbox; reading and marking them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from shared.contracts.certificate import Issued
from shared.messaging.consumer import process
from shared.messaging.envelope import Envelope
from shared.messaging.topology import subscriptions_of
from tests.conftest import wait_for


def _at() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


def stage_changed(declaration_id: str, applicant: str = "applicant", **overrides) -> dict:
    return {
        "declaration_id": declaration_id,
        "applicant": applicant,
        "stage": "unit_review",
        "stage_name": "单位审核",
        "role": "unit",
        "organisation": "91120101MA05K1XT13",
        "at": _at(),
        **overrides,
    }


def decision_recorded(declaration_id: str, decision: str, reason: str | None = None, **overrides) -> dict:
    return {
        "declaration_id": declaration_id,
        "applicant": "applicant",
        "stage": "dept_review",
        "stage_name": "主管部门审核",
        "decision": decision,
        "reason": reason,
        "actor": "dept1",
        "organisation": "111201010000123459",
        "at": _at(),
        **overrides,
    }


def completed(declaration_id: str, outcome: str) -> dict:
    return {"declaration_id": declaration_id, "applicant": "applicant", "outcome": outcome, "at": _at()}


def issued(declaration_id: str, number: str = "TJZC2024000042", holder: str = "applicant") -> dict:
    return {
        "certificate_id": str(uuid.uuid4()),
        "number": number,
        "declaration_id": declaration_id,
        "holder": holder,
        "holder_name": "张伟",
        "series": "工程",
        "level": "中级",
        "specialty": "土木工程",
        "qualification_name": "工程师",
        "issued_on": "2024-07-01",
    }


def envelope(message_type: str, data: dict) -> Envelope:
    return Envelope(
        type=message_type, source=message_type.split(".", 1)[0], data=data, correlation_id=data["declaration_id"]
    )


def deliver(dbs, env: Envelope) -> str:
    """What notify's consumer does with one delivery: the subscription for the type, its handler."""
    from titles import bootstrap

    [sub] = [s for s in subscriptions_of("notify") if env.type in s.types]
    return process(dbs["notify"], sub, env, bootstrap.service("notify").handlers()[env.type])


def messages(dbs, recipient: str = "applicant") -> list:
    from services.notify.models import Message

    with dbs["notify"].uow(readonly=True) as uow:
        return list(
            uow.session.scalars(select(Message).where(Message.recipient == recipient).order_by(Message.created_at))
        )


# --------------------------------------------------------------------------- events -> messages


def test_a_stage_change_tells_the_applicant_where_the_declaration_is(dbs):
    declaration = str(uuid.uuid4())
    assert deliver(dbs, envelope("review.stage.changed.v1", stage_changed(declaration))) == "done"
    [message] = messages(dbs)
    assert message.kind == "stage_change"
    assert message.title == "申报进度更新"
    assert "单位审核" in message.body and message.body.startswith("您的职称申报")
    assert message.declaration_id == declaration
    assert message.read_at is None


def test_two_department_levels_give_two_different_notices_naming_each_department(dbs):
    declaration = str(uuid.uuid4())
    for code, name in (
        ("111201010000123459", "天津市和平区科学技术局"),
        ("111200000000123452", "天津市工业和信息化局"),
    ):
        assert (
            deliver(
                dbs,
                envelope(
                    "review.stage.changed.v1",
                    stage_changed(
                        declaration,
                        stage="department_check",
                        stage_name="主管部门审核",
                        role="department",
                        organisation=code,
                        organisation_name=name,
                    ),
                ),
            )
            == "done"
        )
    first, second = messages(dbs)
    assert "天津市和平区科学技术局的“主管部门审核”" in first.body and "天津市工业和信息化局" in second.body
    assert first.body != second.body


def test_the_replica_keeps_the_newest_stage_and_every_organisation_the_declaration_reached(dbs):
    from services.notify.models import DeclarationOrganisation, DeclarationReplica

    declaration = str(uuid.uuid4())
    early, late = "2026-06-01T09:00:00+08:00", "2026-06-03T09:00:00+08:00"
    unit, department = "91120101MA05K1XT13", "111201010000123459"
    for data in (
        stage_changed(declaration, stage="unit_check", organisation=unit, at=early),
        stage_changed(declaration, stage="department_check", organisation=department, at=late),
        # older than what the replica holds (events may arrive out of order), and the unit a second time
        stage_changed(declaration, stage="unit_recommend", organisation=unit, at=early),
        # no stage at all: nothing to keep
        stage_changed(declaration, stage="", organisation=None, at="2026-06-09T09:00:00+08:00"),
    ):
        assert deliver(dbs, envelope("review.stage.changed.v1", data)) == "done"
    with dbs["notify"].uow(readonly=True) as uow:
        replica = uow.session.get(DeclarationReplica, declaration)
        assert (replica.applicant, replica.stage, replica.stage_at) == ("applicant", "department_check", late)
        reached = uow.session.scalars(
            select(DeclarationOrganisation.organisation).where(DeclarationOrganisation.declaration_id == declaration)
        )
        assert sorted(reached) == sorted([unit, department])


def test_a_stage_change_after_the_review_ended_leaves_it_ended(dbs):
    from services.notify.models import DeclarationReplica
    from services.notify.service import ENDED

    declaration = str(uuid.uuid4())
    assert deliver(dbs, envelope("review.completed.v1", completed(declaration, "passed"))) == "done"
    late_but_older = stage_changed(declaration, stage="filing", at="2020-01-01T09:00:00+08:00")
    assert deliver(dbs, envelope("review.stage.changed.v1", late_but_older)) == "done"
    with dbs["notify"].uow(readonly=True) as uow:
        assert uow.session.get(DeclarationReplica, declaration).stage == ENDED


def test_a_return_tells_the_applicant_the_reason(dbs):
    declaration = str(uuid.uuid4())
    deliver(
        dbs,
        envelope("review.decision.recorded.v1", decision_recorded(declaration, "return", reason="缺少继续教育证明")),
    )
    [message] = messages(dbs)
    assert message.kind == "return_notice"
    assert message.title == "申报被退回修改"
    assert "缺少继续教育证明" in message.body
    assert "主管部门审核" in message.body
    assert message.declaration_id == declaration


def test_a_return_without_a_reason_does_not_print_none(dbs):
    deliver(dbs, envelope("review.decision.recorded.v1", decision_recorded(str(uuid.uuid4()), "return")))
    [message] = messages(dbs)
    assert message.kind == "return_notice"
    assert "None" not in message.body
    assert "原因：未说明" in message.body


@pytest.mark.parametrize("decision", ["approve", "voted"])
def test_other_decisions_store_nothing(dbs, decision):
    env = envelope("review.decision.recorded.v1", decision_recorded(str(uuid.uuid4()), decision))
    assert deliver(dbs, env) == "done"
    assert messages(dbs) == []
    assert deliver(dbs, env) == "duplicate"  # it was still remembered as handled


@pytest.mark.parametrize(
    "outcome, text",
    [
        ("certified", "评审通过，已发证"),
        ("not_passed", "评审未通过"),
        ("not_accepted", "未在修改截止时间前重新提交，不予受理"),
    ],
)
def test_the_result_tells_the_outcome_in_words(dbs, outcome, text):
    deliver(dbs, envelope("review.completed.v1", completed(str(uuid.uuid4()), outcome)))
    [message] = messages(dbs)
    assert message.kind == "result"
    assert message.title == "评审结果"
    assert text in message.body
    assert outcome not in message.body


def test_an_issued_certificate_gives_the_holder_its_number(dbs):
    declaration = str(uuid.uuid4())
    deliver(dbs, envelope("certificate.issued.v1", issued(declaration, number="TJZC2024000042")))
    [message] = messages(dbs)
    assert message.kind == "certificate_issued"
    assert message.title == "电子职称证书已签发"
    assert "TJZC2024000042" in message.body
    assert "工程师" in message.body and "工程系列中级" in message.body
    assert message.declaration_id == declaration


def test_a_message_goes_to_the_person_the_event_names(dbs):
    deliver(dbs, envelope("certificate.issued.v1", issued(str(uuid.uuid4()), holder="someone-else")))
    assert messages(dbs) == []
    assert len(messages(dbs, "someone-else")) == 1


@pytest.mark.parametrize(
    "message_type, data",
    [
        ("review.stage.changed.v1", stage_changed("d-1")),
        ("review.decision.recorded.v1", decision_recorded("d-1", "return", reason="材料不全")),
        ("review.completed.v1", completed("d-1", "certified")),
        ("certificate.issued.v1", issued("d-1")),
    ],
)
def test_a_redelivered_event_is_stored_once(dbs, message_type, data):
    env = envelope(message_type, data)
    assert deliver(dbs, env) == "done"
    assert deliver(dbs, Envelope.from_json(env.to_json())) == "duplicate"
    assert len(messages(dbs)) == 1


def test_every_subscription_has_a_handler():
    from titles import bootstrap

    handlers = bootstrap.service("notify").handlers()
    subscribed = {t for s in subscriptions_of("notify") for t in s.types}
    assert (
        subscribed
        == set(handlers)
        == {
            "review.stage.changed.v1",
            "review.decision.recorded.v1",
            "review.completed.v1",
            "certificate.issued.v1",
            "certificate.revoked.v1",
            "review.objection.resolved.v1",
            "review.defence.scheduled.v1",
            "review.task.overdue.v1",
            "review.re_examination.opened.v1",
            "review.re_examination.decided.v1",
        }
    )


# --------------------------------------------------------------------------- my messages over HTTP


def _fill(dbs, count: int) -> list[str]:
    """``count`` stage changes for the applicant, oldest first; returns their stage names."""
    names = [f"第{i}环节" for i in range(count)]
    for name in names:
        deliver(dbs, envelope("review.stage.changed.v1", stage_changed(str(uuid.uuid4()), stage_name=name)))
    return names


def test_my_messages_are_paged_newest_first_with_total_and_unread(dbs, clients, auth):
    names = _fill(dbs, 5)
    deliver(dbs, envelope("review.stage.changed.v1", stage_changed(str(uuid.uuid4()), applicant="unit")))
    client, headers = clients["notify"], auth("applicant")

    first = client.get("/api/v1/messages", query_string={"page": 1, "per_page": 2}, headers=headers)
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert (body["total"], body["unread"], body["page"], body["per_page"]) == (5, 5, 1, 2)
    newest_first = list(reversed(names))
    assert [names_in(m) for m in body["items"]] == newest_first[:2]
    item = body["items"][0]
    assert set(item) >= {"id", "kind", "title", "body", "declaration_id", "created_at", "read_at"}
    assert item["read_at"] is None

    pages = [
        client.get("/api/v1/messages", query_string={"page": p, "per_page": 2}, headers=headers).get_json()
        for p in (2, 3, 4)
    ]
    assert [names_in(m) for m in pages[0]["items"]] == newest_first[2:4]
    assert [names_in(m) for m in pages[1]["items"]] == newest_first[4:]
    assert pages[2]["items"] == [] and pages[2]["total"] == 5

    default = client.get("/api/v1/messages", headers=headers).get_json()
    assert (default["page"], default["per_page"], len(default["items"])) == (1, 20, 5)


def names_in(message: dict) -> str:
    return message["body"].split("“", 1)[1].split("”", 1)[0]


def test_marking_a_message_read_lowers_the_unread_count(dbs, clients, auth):
    _fill(dbs, 3)
    client, headers = clients["notify"], auth("applicant")
    items = client.get("/api/v1/messages", headers=headers).get_json()["items"]

    response = client.post(f"/api/v1/messages/{items[1]['id']}/read", headers=headers)
    assert response.status_code == 200, response.get_json()
    read_at = response.get_json()["read_at"]
    assert read_at is not None and response.get_json()["id"] == items[1]["id"]

    after = client.get("/api/v1/messages", headers=headers).get_json()
    assert (after["total"], after["unread"]) == (3, 2)
    assert [m["read_at"] is not None for m in after["items"]] == [False, True, False]

    # Reading it again is harmless and keeps the first time.
    again = client.post(f"/api/v1/messages/{items[1]['id']}/read", headers=headers)
    assert again.status_code == 200 and again.get_json()["read_at"] == read_at
    assert client.get("/api/v1/messages", headers=headers).get_json()["unread"] == 2


def test_nobody_reads_another_persons_message(dbs, clients, auth):
    deliver(dbs, envelope("review.stage.changed.v1", stage_changed(str(uuid.uuid4()), applicant="unit")))
    [theirs] = messages(dbs, "unit")
    response = clients["notify"].post(f"/api/v1/messages/{theirs.id}/read", headers=auth("applicant"))
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert [e["field"] for e in response.get_json()["errors"]] == ["message_id"]
    assert messages(dbs, "unit")[0].read_at is None
    # The owner still can.
    assert clients["notify"].post(f"/api/v1/messages/{theirs.id}/read", headers=auth("unit")).status_code == 200


@pytest.mark.parametrize("message_id", [str(uuid.uuid4()), "not-an-id", "x" * 80])
def test_an_unknown_message_is_not_found(dbs, clients, auth, message_id):
    response = clients["notify"].post(f"/api/v1/messages/{message_id}/read", headers=auth("applicant"))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_messages_need_a_token(dbs, clients):
    assert clients["notify"].get("/api/v1/messages").status_code == 401
    assert clients["notify"].post(f"/api/v1/messages/{uuid.uuid4()}/read").status_code == 401


@pytest.mark.parametrize(
    "query, field", [({"page": 0}, "page"), ({"per_page": 101}, "per_page"), ({"page": "first"}, "page")]
)
def test_bad_paging_names_the_field(dbs, clients, auth, query, field):
    response = clients["notify"].get("/api/v1/messages", query_string=query, headers=auth("applicant"))
    assert response.status_code == 422
    assert [(e["field"], e["in"]) for e in response.get_json()["errors"]] == [(field, "query")]


# --------------------------------------------------------------------------- end to end


def test_an_issued_certificate_reaches_the_applicants_inbox_through_the_broker(dbs, clients, auth, workers):
    declaration = str(uuid.uuid4())
    with dbs["certificate"].uow() as uow:
        uow.publish(Issued(**issued(declaration, number="TJZC2024009999")), correlation_id=declaration)
        uow.commit()

    def arrived():
        body = clients["notify"].get("/api/v1/messages", headers=auth("applicant")).get_json()
        return body if body["total"] else None

    body = wait_for("the certificate notice in the applicant's inbox", arrived)
    [message] = body["items"]
    assert message["kind"] == "certificate_issued"
    assert "TJZC2024009999" in message["body"]
    assert message["declaration_id"] == declaration
    assert body["unread"] == 1
