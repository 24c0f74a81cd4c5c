"""Wires the declaration service: database, HTTP app, handlers, demo data."""

from __future__ import annotations

import datetime as dt
import json
from importlib import resources

from flask import Flask

from services.declaration import api, catalogue, replicas, service
from services.declaration.handlers import HANDLERS
from services.declaration.models import Base, Inbox, Outbox
from shared import config
from shared.identity.tokens import TokenVerifier
from shared.uow import Database
from shared.web.app import create_service_app

NAME = "declaration"


def database(url: str | None = None) -> Database:
    return Database(NAME, url or config.database_url(NAME), Base.metadata, Outbox, Inbox)


def create_app(db: Database | None = None, verifier: TokenVerifier | None = None) -> Flask:
    return create_service_app(
        NAME,
        db or database(),
        [api.blp],
        verifier=verifier,
        title="Declaration service (申报)",
        description="Review activities and applicants' declarations with their review trail.",
    )


def handlers() -> dict:
    return dict(HANDLERS)


def seed(db: Database) -> None:
    """The catalogue, the demonstration directory's committees (as the profile service announces them,
    so that seeding needs no running consumer) and the demonstration review activity (idempotent)."""
    data = json.loads(resources.files("shared.demo").joinpath("activities.json").read_text("utf-8"))
    directory = json.loads(resources.files("shared.demo").joinpath("directory.json").read_text("utf-8"))
    with db.uow() as uow:
        replicas.seed_committees(uow, directory["organisations"])
        catalogue.seed(uow, json.loads(resources.files("shared.demo").joinpath("catalogue.json").read_text("utf-8")))
        for activity in data["activities"]:
            fields = dict(activity)
            for key in ("opens_on", "initial_deadline", "modification_deadline"):
                fields[key] = dt.date.fromisoformat(fields[key])
            service.save_activity(uow, fields)
        uow.commit()
