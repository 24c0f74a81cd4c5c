"""Outside channels: contact details, e-mail through SMTP (a local server the test starts and
stops), SMS through the logging gateway, retries with backoff, and no double sending."""

from __future__ import annotations

import datetime as dt
import email
import logging
import uuid
from email.policy import default as default_policy

import pytest
from sqlalchemy import select

from shared.messaging.envelope import Envelope
from tests.integration.test_notify import deliver, envelope, issued, messages, stage_changed
from titles.supervisor import free_port


class Mailbox:
    """An aiosmtpd handler keeping what it received."""

    def __init__(self) -> None:
        self.received: list[email.message.EmailMessage] = []
        self.recipients: list[list[str]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802 - aiosmtpd's hook
        self.received.append(email.message_from_bytes(envelope.original_content, policy=default_policy))
        self.recipients.append(list(envelope.rcpt_tos))
        return "250 OK"


@pytest.fixture
def smtp_port(monkeypatch) -> int:
    port = free_port()
    monkeypatch.setenv("NOTIFY_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("NOTIFY_SMTP_PORT", str(port))
    monkeypatch.setenv("NOTIFY_SMTP_FROM", "zhicheng@example.test")
    monkeypatch.setenv("NOTIFY_SMTP_TIMEOUT", "3")
    monkeypatch.setenv("NOTIFY_RETRY_BACKOFF_S", "60,300")
    return port


def start_smtp(port: int, mailbox: Mailbox):  # noqa: ANN201 - an aiosmtpd Controller
    from aiosmtpd.controller import Controller

    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def set_contact(
    clients,
    auth,
    email_address: str | None = "zhangwei@example.test",
    phone: str | None = None,
    user: str = "applicant",
):
    return clients["notify"].put("/api/v1/contact", json={"email": email_address, "phone": phone}, headers=auth(user))


def deliveries(dbs) -> list:
    from services.notify.models import Delivery

    with dbs["notify"].uow(readonly=True) as uow:
        return list(uow.session.scalars(select(Delivery).order_by(Delivery.channel, Delivery.created_at)))


def dispatch(dbs, now: dt.datetime | None = None):
    from services.notify.dispatcher import dispatch_due

    return dispatch_due(dbs["notify"], now=now)


def test_a_person_keeps_their_own_contact_details(dbs, clients, auth):
    client = clients["notify"]
    assert client.get("/api/v1/contact", headers=auth("applicant")).get_json() == {"email": None, "phone": None}
    response = set_contact(clients, auth, phone="13812345678")
    assert response.status_code == 200, response.get_json()
    assert client.get("/api/v1/contact", headers=auth("applicant")).get_json() == {
        "email": "zhangwei@example.test",
        "phone": "13812345678",
    }
    assert client.get("/api/v1/contact", headers=auth("unit")).get_json() == {"email": None, "phone": None}

    bad = client.put("/api/v1/contact", json={"email": "not-an-address", "phone": "12345"}, headers=auth("applicant"))
    assert bad.status_code == 422
    assert sorted(e["field"] for e in bad.get_json()["errors"]) == ["email", "phone"]
    assert client.put("/api/v1/contact", json={}).status_code == 401


def test_without_contact_details_only_the_inbox_gets_the_message(dbs):
    deliver(dbs, envelope("review.stage.changed.v1", stage_changed(str(uuid.uuid4()))))
    assert len(messages(dbs)) == 1
    assert deliveries(dbs) == []


def test_an_email_survives_an_smtp_server_that_is_down_and_goes_out_when_it_is_back(dbs, clients, auth, smtp_port):
    set_contact(clients, auth)
    declaration = str(uuid.uuid4())
    deliver(dbs, envelope("certificate.issued.v1", issued(declaration, number="TJZC2024000777")))
    [message] = messages(dbs)  # the inbox has it whatever happens to e-mail

    # The server is down: the attempt is recorded and put off by the first backoff step.
    before = dt.datetime.now(dt.UTC)
    outcome = dispatch(dbs)
    assert (outcome.sent, outcome.retried, outcome.failed) == (0, 1, 0)
    [delivery] = deliveries(dbs)
    assert (delivery.channel, delivery.status, delivery.attempts) == ("email", "pending", 1)
    assert "connect" in (delivery.last_error or "").lower()
    assert delivery.next_attempt_at >= before + dt.timedelta(seconds=59)
    # Not due yet: nothing is tried again.
    assert dispatch(dbs).retried == 0 and deliveries(dbs)[0].attempts == 1

    # The person can see how their message went out.
    seen = clients["notify"].get(f"/api/v1/messages/{message.id}/deliveries", headers=auth("applicant")).get_json()
    assert [(d["channel"], d["status"], d["attempts"]) for d in seen] == [("email", "pending", 1)]

    mailbox = Mailbox()
    controller = start_smtp(smtp_port, mailbox)
    try:
        outcome = dispatch(dbs, now=delivery.next_attempt_at + dt.timedelta(seconds=1))
    finally:
        controller.stop()
    assert (outcome.sent, outcome.retried) == (1, 0)
    [mail] = mailbox.received
    assert mailbox.recipients == [["zhangwei@example.test"]]
    assert mail["Subject"] == "电子职称证书已签发"
    assert "TJZC2024000777" in mail.get_content()
    [delivery] = deliveries(dbs)
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 2, None)
    assert delivery.sent_at is not None

    # Sent is sent: later rounds do nothing, and the inbox message is still there, unread.
    assert dispatch(dbs, now=delivery.sent_at + dt.timedelta(days=1)).sent == 0
    assert len(mailbox.received) == 1
    assert [m.read_at for m in messages(dbs)] == [None]


def test_a_delivery_is_given_up_after_the_last_backoff_step_and_recorded(dbs, clients, auth, smtp_port):
    set_contact(clients, auth)
    deliver(dbs, envelope("review.stage.changed.v1", stage_changed(str(uuid.uuid4()))))
    now = dt.datetime.now(dt.UTC)
    outcomes = [dispatch(dbs, now=now + dt.timedelta(hours=hours)) for hours in (0, 1, 2)]
    assert [(o.retried, o.failed) for o in outcomes] == [(1, 0), (1, 0), (0, 1)]
    [delivery] = deliveries(dbs)
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.last_error
    assert len(messages(dbs)) == 1


def test_a_redelivered_event_never_sends_twice(dbs, clients, auth, smtp_port):
    set_contact(clients, auth, phone="13812345678")
    env = envelope("review.stage.changed.v1", stage_changed(str(uuid.uuid4())))
    assert deliver(dbs, env) == "done"
    assert deliver(dbs, Envelope.from_json(env.to_json())) == "duplicate"
    mailbox = Mailbox()
    controller = start_smtp(smtp_port, mailbox)
    try:
        first = dispatch(dbs)
        second = dispatch(dbs)
    finally:
        controller.stop()
    assert (first.sent, second.sent) == (2, 0)  # one e-mail, one SMS
    assert len(mailbox.received) == 1
    assert [d.channel for d in deliveries(dbs)] == ["email", "sms"]


def test_sms_goes_through_the_logging_gateway_by_default(dbs, clients, auth, caplog):
    set_contact(clients, auth, email_address=None, phone="13812345678")
    deliver(
        dbs,
        envelope(
            "review.decision.recorded.v1",
            {
                "declaration_id": str(uuid.uuid4()),
                "applicant": "applicant",
                "stage": "unit_check",
                "stage_name": "单位审核",
                "decision": "return",
                "reason": "缺少证明",
                "actor": "unit",
                "organisation": "91120101MA05K1XT13",
                "at": dt.datetime.now(dt.UTC).isoformat(),
            },
        ),
    )
    with caplog.at_level(logging.INFO, logger="titles.notify.sms"):
        assert dispatch(dbs).sent == 1
    [record] = [r for r in caplog.records if r.name == "titles.notify.sms"]
    assert "138****5678" in record.getMessage() and "13812345678" not in record.getMessage()
    assert "缺少证明" in record.getMessage()
    [delivery] = deliveries(dbs)
    assert (delivery.channel, delivery.status) == ("sms", "sent")


def test_two_dispatchers_at_once_send_each_delivery_once(dbs, clients, auth, smtp_port):
    import threading

    set_contact(clients, auth)
    for _ in range(6):
        deliver(dbs, envelope("review.stage.changed.v1", stage_changed(str(uuid.uuid4()))))
    mailbox = Mailbox()
    controller = start_smtp(smtp_port, mailbox)
    barrier = threading.Barrier(3)
    sent: list[int] = []

    def work() -> None:
        barrier.wait()
        sent.append(dispatch(dbs).sent)

    try:
        threads = [threading.Thread(target=work) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        controller.stop()
    assert sum(sent) == 6
    assert len(mailbox.received) == 6
    assert {d.status for d in deliveries(dbs)} == {"sent"}
