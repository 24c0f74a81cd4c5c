"""The certificate service: issuing on command (idempotently, numbered), my certificates, verification."""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import uuid

import pytest
from sqlalchemy import select

from shared.messaging.consumer import process
from shared.messaging.envelope import Envelope
from shared.messaging.topology import subscriptions_of

ISSUE = "certificate.issue.v1"


def issue_command(declaration_id: str | None = None, holder: str = "applicant", **overrides) -> dict:
    data = {
        "declaration_id": declaration_id or str(uuid.uuid4()),
        "holder": holder,
        "holder_name": "张伟",
        "id_number": "120101198806120032",
        "series": "工程",
        "level": "中级",
        "specialty": "土木工程",
        "qualification_name": "工程师",
        "mode": "social_review",
        "committee_name": "天津市工程系列中级职称评审委员会",
        "approved_on": "2024-06-30",
    }
    data.update(overrides)
    return data


def envelope_of(data: dict) -> Envelope:
    return Envelope(type=ISSUE, source="review", data=data, correlation_id=data["declaration_id"])


def subscription():
    [sub] = [s for s in subscriptions_of("certificate") if ISSUE in s.types]
    return sub


def run(dbs, envelope: Envelope) -> str:
    """What the consumer does with one delivery of ``envelope``."""
    from titles import bootstrap

    return process(dbs["certificate"], subscription(), envelope, bootstrap.service("certificate").handlers()[ISSUE])


def run_with_retry(dbs, envelope: Envelope, attempts: int = 5) -> str:
    """Like the consumer: a failure is retried (here at once, a few times)."""
    for attempt in range(attempts):
        try:
            return run(dbs, envelope)
        except Exception:  # noqa: BLE001 - the consumer retries any failure
            if attempt == attempts - 1:
                raise
    raise AssertionError("unreachable")


def certificates(dbs) -> list:
    from services.certificate.models import Certificate

    with dbs["certificate"].uow(readonly=True) as uow:
        return list(uow.session.scalars(select(Certificate).order_by(Certificate.number)))


def issued_events(dbs) -> list[Envelope]:
    model = dbs["certificate"].outbox_model
    with dbs["certificate"].uow(readonly=True) as uow:
        rows = uow.session.scalars(select(model).where(model.type == "certificate.issued.v1").order_by(model.seq))
        return [Envelope.from_json(row.body) for row in rows]


def beijing_year() -> int:
    return dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).year


# --------------------------------------------------------------------------- issuing


def test_an_issue_command_issues_one_numbered_certificate_and_announces_it(dbs):
    command = issue_command()
    assert run(dbs, envelope_of(command)) == "done"

    [certificate] = certificates(dbs)
    assert re.fullmatch(rf"TJZC{beijing_year()}\d{{6}}", certificate.number), certificate.number
    assert certificate.number == f"TJZC{beijing_year()}000001"
    assert certificate.declaration_id == command["declaration_id"]
    assert certificate.holder == "applicant" and certificate.holder_name == "张伟"
    assert certificate.status == "valid"
    assert re.fullmatch(r"[23456789ABCDEFGHJKLMNPQRSTUVWXYZ]{8}", certificate.verification_code)
    assert certificate.approved_on == dt.date(2024, 6, 30)

    [event] = issued_events(dbs)
    assert event.source == "certificate"
    assert event.correlation_id == command["declaration_id"]
    assert event.data["number"] == certificate.number
    assert event.data["certificate_id"] == certificate.id
    assert event.data["holder"] == "applicant"
    assert event.data["declaration_id"] == command["declaration_id"]
    assert event.data["issued_on"] == certificate.issued_on.isoformat()


def test_the_number_pattern_and_authority_are_configurable(dbs, monkeypatch):
    monkeypatch.setenv("CERTIFICATE_AUTHORITY", "BJZC")
    monkeypatch.setenv("CERTIFICATE_NUMBER_PATTERN", "{authority}-{year}-{serial:04d}")
    run(dbs, envelope_of(issue_command()))
    run(dbs, envelope_of(issue_command()))
    numbers = [c.number for c in certificates(dbs)]
    assert numbers == [f"BJZC-{beijing_year()}-0001", f"BJZC-{beijing_year()}-0002"]

    # Another authority counts on its own.
    monkeypatch.setenv("CERTIFICATE_AUTHORITY", "TJZC")
    run(dbs, envelope_of(issue_command()))
    assert f"TJZC-{beijing_year()}-0001" in [c.number for c in certificates(dbs)]


def test_the_same_envelope_twice_issues_once(dbs):
    envelope = envelope_of(issue_command())
    assert run(dbs, envelope) == "done"
    assert run(dbs, envelope) == "duplicate"
    assert len(certificates(dbs)) == 1
    assert len(issued_events(dbs)) == 1


def test_a_second_command_for_the_same_declaration_changes_nothing(dbs):
    command = issue_command()
    run(dbs, envelope_of(command))
    [first] = certificates(dbs)

    again = envelope_of(dict(command, holder_name="别人"))  # a new message id, same declaration
    assert run(dbs, again) == "done"
    [still] = certificates(dbs)
    assert (still.id, still.number, still.holder_name) == (first.id, first.number, "张伟")
    assert len(issued_events(dbs)) == 1


def _race(targets) -> list:
    """Start the callables together; returns each one's result or exception."""
    barrier = threading.Barrier(len(targets))
    results: list = [None] * len(targets)

    def worker(index: int, target) -> None:
        barrier.wait()
        try:
            results[index] = target()
        except Exception as exc:  # noqa: BLE001 - collected for the assertions
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i, t)) for i, t in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return results


@pytest.mark.parametrize("sequence_exists", [False, True], ids=["first-of-year", "sequence-exists"])
def test_two_concurrent_commands_for_one_declaration_issue_one_certificate(dbs, sequence_exists):
    if sequence_exists:
        run(dbs, envelope_of(issue_command()))  # some other declaration created the year's sequence
    before = len(certificates(dbs))
    command = issue_command()
    envelopes = [envelope_of(command), envelope_of(command)]

    results = _race([lambda e=e: run(dbs, e) for e in envelopes])
    for envelope, result in zip(envelopes, results):
        if isinstance(result, Exception):
            # The loser failed; the consumer retries it, and then it changes nothing.
            assert run(dbs, envelope) == "done"
        else:
            assert result == "done"

    mine = [c for c in certificates(dbs) if c.declaration_id == command["declaration_id"]]
    assert len(mine) == 1
    assert len(certificates(dbs)) == before + 1
    assert [e.data["declaration_id"] for e in issued_events(dbs)].count(command["declaration_id"]) == 1
    # No serial was burnt by the loser.
    serials = sorted(int(c.number[-6:]) for c in certificates(dbs))
    assert serials == list(range(1, len(serials) + 1))


def test_concurrent_issuing_hands_out_distinct_consecutive_serials(dbs):
    envelopes = [envelope_of(issue_command()) for _ in range(10)]
    queue = list(envelopes)
    lock = threading.Lock()

    def drain() -> list[str]:
        outcomes = []
        while True:
            with lock:
                if not queue:
                    return outcomes
                envelope = queue.pop()
            outcomes.append(run_with_retry(dbs, envelope))

    results = _race([drain] * 4)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sorted(o for r in results for o in r) == ["done"] * 10

    issued = certificates(dbs)
    assert len(issued) == 10
    assert len({c.declaration_id for c in issued}) == 10
    prefix = f"TJZC{beijing_year()}"
    assert all(c.number.startswith(prefix) for c in issued)
    assert sorted(int(c.number[len(prefix) :]) for c in issued) == list(range(1, 11))
    assert len(issued_events(dbs)) == 10


def test_an_issue_command_that_breaks_its_contract_is_poison(dbs):
    from shared.messaging.consumer import Poison

    with pytest.raises(Poison):
        run(dbs, envelope_of(issue_command(mode="bribery")))
    assert certificates(dbs) == []


# --------------------------------------------------------------------------- my certificates


def test_my_certificates_lists_only_mine(dbs, clients, auth):
    mine = issue_command()
    run(dbs, envelope_of(mine))
    run(dbs, envelope_of(issue_command(holder="someone-else", holder_name="李四")))

    response = clients["certificate"].get("/api/v1/certificates", headers=auth("applicant"))
    assert response.status_code == 200, response.get_json()
    [certificate] = response.get_json()
    assert certificate["declaration_id"] == mine["declaration_id"]
    assert certificate["holder_name"] == "张伟"
    assert certificate["status"] == "valid"
    assert certificate["approved_on"] == "2024-06-30"
    assert re.fullmatch(r"[23456789A-Z]{8}", certificate["verification_code"])
    assert "id_number" not in certificate and "holder" not in certificate


def test_an_applicant_without_certificates_sees_none(dbs, clients, auth):
    run(dbs, envelope_of(issue_command(holder="someone-else", holder_name="李四")))
    response = clients["certificate"].get("/api/v1/certificates", headers=auth("applicant"))
    assert response.status_code == 200
    assert response.get_json() == []


@pytest.mark.parametrize("staff", ["unit", "committee", "title_office"])
def test_staff_have_no_certificate_list(dbs, clients, auth, staff):
    response = clients["certificate"].get("/api/v1/certificates", headers=auth(staff))
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"


def test_my_certificates_needs_a_token(dbs, clients):
    assert clients["certificate"].get("/api/v1/certificates").status_code == 401


# --------------------------------------------------------------------------- verification


def _issued(dbs):
    run(dbs, envelope_of(issue_command()))
    [certificate] = certificates(dbs)
    return certificate


def test_public_verification_shows_the_holder_with_a_masked_id_number(dbs, clients):
    certificate = _issued(dbs)
    response = clients["certificate"].get(
        "/api/v1/verify", query_string={"number": certificate.number, "code": certificate.verification_code}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["number"] == certificate.number
    assert body["holder_name"] == "张伟"
    assert body["id_number"] == "1201" + "*" * 10 + "0032"
    assert body["status"] == "valid"
    assert body["revoked_reason"] is None
    assert body["qualification_name"] == "工程师"
    assert "verification_code" not in body


def test_the_verification_code_is_case_insensitive(dbs, clients):
    certificate = _issued(dbs)
    response = clients["certificate"].get(
        "/api/v1/verify", query_string={"number": certificate.number, "code": certificate.verification_code.lower()}
    )
    assert response.status_code == 200
    assert response.get_json()["number"] == certificate.number


def test_a_wrong_code_and_an_unknown_number_look_the_same(dbs, clients):
    certificate = _issued(dbs)
    wrong_code = clients["certificate"].get(
        "/api/v1/verify", query_string={"number": certificate.number, "code": "ZZZZZZZZ"}
    )
    unknown = clients["certificate"].get(
        "/api/v1/verify", query_string={"number": "TJZC1999000001", "code": certificate.verification_code}
    )
    assert wrong_code.status_code == unknown.status_code == 404
    assert wrong_code.mimetype == unknown.mimetype == "application/problem+json"
    first, second = wrong_code.get_json(), unknown.get_json()
    first.pop("instance", None)
    second.pop("instance", None)
    assert first == second
    assert certificate.number not in json.dumps(first, ensure_ascii=False)


@pytest.mark.parametrize("code", ["验证码验证码", "ÄÖÜ", " "])
def test_a_code_that_is_not_plain_ascii_is_simply_not_found(dbs, clients, code):
    certificate = _issued(dbs)
    response = clients["certificate"].get("/api/v1/verify", query_string={"number": certificate.number, "code": code})
    assert response.status_code == 404, response.get_json()


@pytest.mark.parametrize("missing", ["number", "code"])
def test_verification_names_a_missing_query_parameter(dbs, clients, missing):
    query = {"number": "TJZC2024000001", "code": "ABCDEFGH"}
    del query[missing]
    response = clients["certificate"].get("/api/v1/verify", query_string=query)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    errors = response.get_json()["errors"]
    assert [(e["field"], e.get("in")) for e in errors] == [(missing, "query")]
    assert errors[0]["rule"] == "required"


def test_verification_needs_no_token_and_is_public_in_the_openapi_document(clients):
    spec = clients["certificate"].get("/openapi.json").get_json()
    assert spec["paths"]["/api/v1/verify"]["get"]["security"] == []
