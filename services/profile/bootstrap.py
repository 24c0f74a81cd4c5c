"""Wires the profile service: database, HTTP app, handlers, demo data."""
from __future__ import annotations

import json
from importlib import resources

from flask import Flask

from services.profile import api, service
from services.profile.handlers import HANDLERS
from services.profile.models import Base, Inbox, Outbox
from shared import config
from shared.identity.tokens import TokenVerifier
from shared.uow import Database
from shared.web.app import create_service_app

NAME = "profile"


def database(url: str | None = None) -> Database:
    return Database(NAME, url or config.database_url(NAME), Base.metadata, Outbox, Inbox)


def create_app(db: Database | None = None, verifier: TokenVerifier | None = None) -> Flask:
    return create_service_app(
        NAME, db or database(), [api.blp], verifier=verifier,
        title="Profile service (个人信息)",
        description="Applicants' profiles and the directory of organisations.",
    )


def handlers() -> dict:
    return dict(HANDLERS)


def seed(db: Database) -> None:
    """Register the demonstration directory (idempotent: unchanged rows emit nothing)."""
    directory = json.loads(resources.files("shared.demo").joinpath("directory.json").read_text("utf-8"))
    with db.uow() as uow:
        for org in directory["organisations"]:
            service.register_organisation(uow, org["code"], org["name"], org["kind"], org["parent"])
        uow.commit()
