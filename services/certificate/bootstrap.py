"""Wires the certificate service: database, HTTP app, handlers."""

from __future__ import annotations

from flask import Flask

from services.certificate import api, page, signing
from services.certificate.handlers import HANDLERS
from services.certificate.models import Base, Inbox, Outbox
from shared import config
from shared.identity.tokens import TokenVerifier
from shared.uow import Database
from shared.web.app import create_service_app

NAME = "certificate"


def database(url: str | None = None) -> Database:
    return Database(NAME, url or config.database_url(NAME), Base.metadata, Outbox, Inbox)


def create_app(db: Database | None = None, verifier: TokenVerifier | None = None) -> Flask:
    signing.ensure_ready()  # key, fonts, colour profile: fail at start; the development PKI is made on first start
    return create_service_app(
        NAME,
        db or database(),
        [api.blp, page.blp],
        verifier=verifier,
        title="Certificate service (电子职称证书)",
        description="Issues electronic title certificates on the review service's command; public verification.",
    )


def handlers() -> dict:
    return dict(HANDLERS)


def seed(db: Database) -> None:
    """The certificate service has no demonstration data of its own."""
