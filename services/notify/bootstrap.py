"""Wires the notify service: database, HTTP app, handlers."""

from __future__ import annotations

from flask import Flask

from services.notify import api
from services.notify.handlers import HANDLERS
from services.notify.models import Base, Inbox, Outbox
from shared import config
from shared.identity.tokens import TokenVerifier
from shared.uow import Database
from shared.web.app import create_service_app

NAME = "notify"


def database(url: str | None = None) -> Database:
    return Database(NAME, url or config.database_url(NAME), Base.metadata, Outbox, Inbox)


def create_app(db: Database | None = None, verifier: TokenVerifier | None = None) -> Flask:
    return create_service_app(
        NAME,
        db or database(),
        [api.blp],
        verifier=verifier,
        title="Notify service (消息)",
        description="Messages to people: every event that concerns an applicant lands in their inbox.",
    )


def handlers() -> dict:
    return dict(HANDLERS)


def seed(db: Database) -> None:
    """The notify service has no demonstration data of its own."""
