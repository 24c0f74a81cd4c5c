"""The notify service layer: storing messages and reading one's inbox."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from services.notify import templates
from services.notify.models import Message
from shared.db import utcnow
from shared.errors import Forbidden, NotFound
from shared.uow import UnitOfWork


def deliver(uow: UnitOfWork, recipient: str, kind: str, data: dict[str, Any]) -> Message:
    title, body = templates.render(kind, data)
    message = Message(id=str(uuid.uuid4()), recipient=recipient, kind=kind, title=title, body=body,
                      declaration_id=data.get("declaration_id"))
    uow.session.add(message)
    return message


def inbox(uow: UnitOfWork, recipient: str, page: int, per_page: int) -> tuple[list[Message], int, int]:
    where = Message.recipient == recipient
    total = uow.session.scalar(select(func.count()).select_from(Message).where(where)) or 0
    unread = uow.session.scalar(select(func.count()).select_from(Message)
                                .where(where, Message.read_at.is_(None))) or 0
    items = uow.session.scalars(select(Message).where(where).order_by(Message.created_at.desc(), Message.id)
                                .offset((page - 1) * per_page).limit(per_page))
    return list(items), total, unread


def mark_read(uow: UnitOfWork, recipient: str, message_id: str) -> Message:
    message = uow.session.get(Message, message_id)
    if message is None:
        raise NotFound.on("message_id", "exists", f"message {message_id} does not exist")
    if message.recipient != recipient:
        raise Forbidden.on("message_id", "own_message", "a person reads only their own messages")
    if message.read_at is None:
        message.read_at = utcnow()
    return message
