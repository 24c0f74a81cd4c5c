"""Outbox and inbox tables, mixed into every service's own models."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from shared.db import UtcDateTime, utcnow


class OutboxMixin:
    """Messages written in the same transaction as the change that caused them."""

    __tablename__ = "outbox"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # the sentinel lets SQLite write a transaction's messages in one INSERT (insertmanyvalues)
    message_id: Mapped[str] = mapped_column(String(36), unique=True, insert_sentinel=True)
    type: Mapped[str] = mapped_column(String(100))
    exchange: Mapped[str] = mapped_column(String(100))  # logical name, namespace added on publish
    routing_key: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        # The relay's query: unpublished rows in order.
        return (Index("ix_outbox_pending", "published_at", "seq"),)


class InboxMixin:
    """Ids of messages a handler has processed, written with the handler's effect."""

    __tablename__ = "inbox"

    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    handler: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    processed_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)  # when handling began
    # Just before the handler's transaction commits (the end of an event's lag, see bench/README.md).
    committed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
