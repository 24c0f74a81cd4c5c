"""BROKER_QUORUM_QUEUES=1 (the Kubernetes manifests set it): on RabbitMQ every queue of the topology, the
dead-letter, retry and unrouted ones too, is a quorum queue, so that a cluster node that stops takes none
with it. Checked on the real broker: a queue's declared type is the one a redeclaration must repeat."""

from __future__ import annotations

import uuid

import pytest
from amqp.exceptions import PreconditionFailed
from kombu import Connection, Queue

from shared.messaging import topology


@pytest.fixture
def namespace(broker_url, monkeypatch):
    if not broker_url.startswith("amqp"):
        pytest.skip("queue types are a RabbitMQ feature")
    monkeypatch.setenv("TITLES_NAMESPACE", f"q{uuid.uuid4().hex[:8]}.")
    yield broker_url
    with Connection(broker_url) as connection:
        topology.delete_namespace(connection)


def declared_type(connection: Connection, queue: Queue) -> str:
    """quorum or classic: redeclaring a queue with another type than its own is refused."""
    for kind in ("quorum", "classic"):
        with connection.channel() as channel:
            try:
                channel.queue_declare(
                    queue.name,
                    durable=True,
                    auto_delete=False,
                    arguments={**(queue.queue_arguments or {}), "x-queue-type": kind},
                )
            except PreconditionFailed:
                continue
            return kind
    raise AssertionError(f"{queue.name}: neither quorum nor classic")


def test_every_queue_is_a_quorum_queue_with_the_setting(namespace, monkeypatch):
    monkeypatch.setenv("BROKER_QUORUM_QUEUES", "1")
    with Connection(namespace) as connection:
        topology.declare(connection)
        queues = topology.all_queues(on_rabbitmq=True)
        names = [q.name for q in queues]
        assert any(n.endswith(".dead") for n in names) and any(".retry." in n for n in names)
        assert {q.name: declared_type(connection, q) for q in queues} == {n: "quorum" for n in names}
        topology.declare(connection)  # declaring it all again (every process does) is accepted


def test_without_the_setting_only_the_handlers_queues_are_quorum_queues(namespace, monkeypatch):
    monkeypatch.delenv("BROKER_QUORUM_QUEUES", raising=False)
    with Connection(namespace) as connection:
        topology.declare(connection)
        sub = topology.SUBSCRIPTIONS[0]
        assert declared_type(connection, topology.main_queue(sub, True)) == "quorum"
        assert declared_type(connection, topology.dead_queue(sub, True)) == "classic"
        assert declared_type(connection, topology.retry_queue(sub, 1)) == "classic"
