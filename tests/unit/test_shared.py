"""The common library's pure parts: envelope, contracts, config, topology, logs."""

from __future__ import annotations

import json
import logging

import pytest

from shared import config
from shared.contracts import CONTRACTS, ContractViolation, load_incoming, review, validate_outgoing
from shared.contracts.certificate import Issued
from shared.messaging import topology
from shared.messaging.envelope import Envelope
from shared.messaging.subscriptions import Subscription
from shared.observability import context
from shared.observability.logging import JsonFormatter

ISSUED = {
    "certificate_id": "c1",
    "number": "TJZC2026000001",
    "declaration_id": "d1",
    "holder": "applicant",
    "holder_name": "张伟",
    "series": "工程",
    "level": "副高级",
    "specialty": "软件工程",
    "qualification_name": "高级工程师",
    "issued_on": "2026-11-27",
}


def test_envelope_round_trips_and_names_itself_to_amqp():
    envelope = Envelope(
        type="certificate.issued.v1", source="certificate", data=ISSUED, correlation_id="d1", causation_id="m0"
    )
    again = Envelope.from_json(envelope.to_json())
    assert again == envelope
    assert "张伟" in envelope.to_json()  # readable, not \u-escaped
    assert envelope.amqp_properties() == {
        "message_id": envelope.id,
        "type": "certificate.issued.v1",
        "correlation_id": "d1",
    }


def test_producers_validate_strictly_and_consumers_ignore_unknown_fields():
    assert validate_outgoing("certificate.issued.v1", ISSUED) is ISSUED
    with pytest.raises(ContractViolation, match="surprise"):
        validate_outgoing("certificate.issued.v1", {**ISSUED, "surprise": 1})
    with pytest.raises(ContractViolation, match="number"):
        validate_outgoing("certificate.issued.v1", {k: v for k, v in ISSUED.items() if k != "number"})
    with pytest.raises(ContractViolation, match="issued_on"):
        validate_outgoing("certificate.issued.v1", {**ISSUED, "issued_on": "27/11/2026"})
    assert load_incoming("certificate.issued.v1", {**ISSUED, "added_in_a_later_release": True}) == Issued(**ISSUED)
    with pytest.raises(ContractViolation, match="unknown message type"):
        validate_outgoing("certificate.issued.v9", ISSUED)


def test_every_message_type_is_versioned_and_owned_by_a_service():
    for message_type, contract in CONTRACTS.items():
        assert message_type.rsplit(".", 1)[-1].startswith("v"), message_type
        assert contract.owner in config.SERVICES, message_type
        assert contract.exchange in (f"{contract.owner}.events", f"{contract.owner}.commands")


def test_every_subscribed_type_has_a_contract_and_every_command_a_consumer():
    subscribed = {t for s in topology.SUBSCRIPTIONS for t in s.types}
    assert subscribed <= set(CONTRACTS)
    commands = {t for t, c in CONTRACTS.items() if c.kind == "command"}
    assert commands <= subscribed, "a command nobody executes would be lost"
    for sub in topology.SUBSCRIPTIONS:
        for message_type in sub.types:
            if CONTRACTS[message_type].kind == "command":
                assert CONTRACTS[message_type].owner == sub.service, "commands go to their owner only"


def test_queue_names_carry_the_namespace_and_rabbitmq_arguments(monkeypatch):
    monkeypatch.setenv("TITLES_NAMESPACE", "ns.")
    monkeypatch.setenv("TITLES_RETRY_DELAYS_MS", "100,200")
    sub = next(s for s in topology.subscriptions_of("review") if s.name == "on_declaration_submitted")
    queue = topology.main_queue(sub, on_rabbitmq=True)
    assert queue.name == "ns.review.on_declaration_submitted"
    assert queue.durable
    assert queue.queue_arguments == {
        "x-queue-type": "quorum",
        "x-dead-letter-exchange": "ns.titles.dead",
        "x-dead-letter-routing-key": "ns.review.on_declaration_submitted",
    }
    assert [(b.exchange.name, b.routing_key) for b in queue.bindings] == [
        ("ns.declaration.events", "declaration.submitted.v1")
    ]
    retry = topology.retry_queue(sub, 2)
    assert retry.name == "ns.review.on_declaration_submitted.retry.2"
    assert retry.queue_arguments["x-message-ttl"] == 200
    assert retry.queue_arguments["x-dead-letter-routing-key"] == queue.name
    assert topology.main_queue(sub, on_rabbitmq=False).queue_arguments is None
    names = [q.name for q in topology.all_queues(on_rabbitmq=True)]
    assert len(names) == len(set(names)) == len(topology.SUBSCRIPTIONS) * 4 + 1  # + titles.unrouted


def test_database_urls_from_pattern_override_or_embedded_default(monkeypatch, tmp_path):
    monkeypatch.delenv("REVIEW_DATABASE_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("TITLES_DATA_DIR", str(tmp_path))
    assert config.database_url("review") == f"sqlite:///{tmp_path / 'review.db'}"
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://db/titles_{service}")
    assert config.database_url("review") == "postgresql+psycopg://db/titles_review"
    monkeypatch.setenv("REVIEW_DATABASE_URL", "postgresql+psycopg://other/review")
    assert config.database_url("review") == "postgresql+psycopg://other/review"


def test_ports_and_issuer_follow_the_environment(monkeypatch):
    for name in ("PROFILE_PORT", "ISSUER_PORT", "OIDC_ISSUER", "OIDC_JWKS_URL", "ISSUER_URL"):
        monkeypatch.delenv(name, raising=False)
    assert [config.port(s) for s in ("issuer", *config.SERVICES)] == [8000, 8001, 8002, 8003, 8004, 8005]
    monkeypatch.setenv("PROFILE_PORT", "9001")
    monkeypatch.setenv("ISSUER_PORT", "9000")
    assert config.service_url("profile") == "http://127.0.0.1:9001"
    assert config.oidc().jwks_url == "http://127.0.0.1:9000/jwks.json"


def test_json_logs_carry_the_correlation_id_and_extra_fields():
    formatter = JsonFormatter("review")
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "started %s", ("instance",), None)
    record.queue = "review.on_declaration_submitted"
    with context.bound("declaration-1", "message-9"):
        line = json.loads(formatter.format(record))
    assert line["message"] == "started instance"
    assert (line["service"], line["correlation_id"], line["causation_id"]) == ("review", "declaration-1", "message-9")
    assert line["queue"] == "review.on_declaration_submitted" and line["level"] == "info"
    assert context.correlation_id.get() is None


def _decision(decision: str) -> review.DecisionRecorded:
    return review.DecisionRecorded(
        declaration_id="d1",
        applicant="applicant",
        stage="unit_check",
        stage_name="单位审核",
        decision=decision,
        reason=None,
        actor="unit",
        organisation=None,
        at="2026-11-27T08:00:00+00:00",
    )


def test_a_routed_message_carries_its_value_in_the_routing_key_and_others_only_their_type():
    assert _decision("return").routing_key() == "review.decision.recorded.v1.return"
    assert _decision("approve").routing_key() == "review.decision.recorded.v1.approve"
    # Not one topic word (a dot would make two, a # or * a wildcard): only a queue taking every value gets it.
    assert _decision("a.b").routing_key() == "review.decision.recorded.v1._"
    assert _decision("#").routing_key() == "review.decision.recorded.v1._"
    assert _decision("x" * 41).routing_key() == "review.decision.recorded.v1._"  # the outbox column holds 100
    assert Issued(**ISSUED).routing_key() == "certificate.issued.v1"


def test_a_subscription_binds_its_routed_values_and_the_bare_type_of_older_producers():
    def keys(service: str, name: str) -> list[str]:
        [sub] = [s for s in topology.subscriptions_of(service) if s.name == name]
        return sorted(b.routing_key for b in topology.main_queue(sub, on_rabbitmq=False).bindings)

    recorded = "review.decision.recorded.v1"
    assert keys("notify", "on_decision_recorded") == [recorded, f"{recorded}.return"]
    assert keys("declaration", "on_decision_recorded") == [recorded, f"{recorded}.*"]
    assert keys("notify", "on_stage_changed") == ["review.stage.changed.v1"]


@pytest.mark.parametrize(
    "types, only, error",
    [
        (("review.stage.changed.v1",), ("return",), "not routed by a field"),
        (("review.decision.recorded.v1",), ("re.turn",), "one topic word"),
        (("review.decision.recorded.v1",), ("*",), "one topic word"),
    ],
)
def test_a_subscription_that_cannot_be_bound_as_written_is_refused(types, only, error):
    sub = Subscription("notify", "x", types, only=only)
    with pytest.raises(ValueError, match=error):
        topology.main_queue(sub, on_rabbitmq=False)


def test_every_subscription_can_be_bound():
    for sub in topology.SUBSCRIPTIONS:
        assert topology.main_queue(sub, on_rabbitmq=True).bindings
