"""Wires the profile service: database, HTTP app, handlers, demo data."""

from __future__ import annotations

import json
from importlib import resources

from flask import Flask

from services.profile import api, directory
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
        NAME,
        db or database(),
        [api.blp],
        verifier=verifier,
        title="Profile service (个人信息)",
        description="Applicants' profiles, their attachments, identity corrections and the directory of "
        "organisations with their staff accounts.",
    )


def handlers() -> dict:
    return dict(HANDLERS)


def _demo(name: str) -> dict:
    return json.loads(resources.files("shared.demo").joinpath(name).read_text("utf-8"))


def seed(db: Database) -> None:
    """Register the demonstration directory and staff accounts (idempotent: unchanged rows emit nothing)."""
    with db.uow() as uow:
        for org in _demo("directory.json")["organisations"]:
            directory.register_organisation(uow, org)
        for user in _demo("users.json")["users"]:
            if user.get("org"):
                directory.add_staff(
                    uow, None, user["org"], {"subject": user["username"], "name": user["name"], "role": user["role"]}
                )
        # Staff kept only in the directory: the development issuer signs them in from it.
        staff = json.loads(resources.files("services.profile.demo").joinpath("staff.json").read_text("utf-8"))
        for account in staff["staff"]:
            directory.add_staff(uow, None, account["organisation"], account)
        uow.commit()
