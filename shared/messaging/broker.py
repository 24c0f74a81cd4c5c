"""Connections to the broker named by BROKER_URL."""

from __future__ import annotations

from kombu import Connection

from shared import config

EMBEDDED = "embedded://"


def connect(url: str | None = None) -> Connection:
    """``amqp://...`` is RabbitMQ with publisher confirms; ``embedded://[path]``
    is the broker-free transport in a folder (default ``<data>/broker``)."""
    url = url or config.broker_url()
    if url.startswith(EMBEDDED):
        from shared.messaging import embedded

        root = url[len(EMBEDDED) :] or str(config.data_dir() / "broker")
        return embedded.connection(root)
    # confirm_publish: basic_publish returns only once the broker has the message.
    return Connection(url, transport_options={"confirm_publish": True}, heartbeat=30, connect_timeout=10)


def ping(url: str | None = None) -> None:
    with connect(url) as conn:
        conn.ensure_connection(max_retries=1, timeout=3)
