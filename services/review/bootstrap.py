"""Wires the review service: database (with what its engine is given), HTTP app, handlers, demo data."""

from __future__ import annotations

import json
from importlib import resources

from flask import Flask, Response

from services.review import (
    api,
    api_clock,
    api_flows,
    api_office,
    api_process,
    directory,
    operations,
    service,
    snapshots,
)
from services.review.engine import definitions, incidents
from services.review.engine.ports import EngineDatabase, Ports
from services.review.handlers import HANDLERS
from services.review.models import Base, Inbox, Outbox
from shared import config
from shared.identity.tokens import TokenVerifier
from shared.uow import Database
from shared.web import problems
from shared.web.app import create_service_app

NAME = "review"


def ports() -> Ports:
    """What the engine is given instead of importing the service built on it (engine/ports.py)."""
    return Ports(
        operations=operations.OPERATIONS,
        organisation_name=directory.organisation_name,
        complete_task=service.complete,
        start_review=service.start_review,
    )


def database(url: str | None = None) -> Database:
    return EngineDatabase(NAME, url or config.database_url(NAME), Base.metadata, Outbox, Inbox, ports())


def create_app(db: Database | None = None, verifier: TokenVerifier | None = None) -> Flask:
    db = db or database()
    app = create_service_app(
        NAME,
        db,
        [api.blp, api_process.blp, api_office.blp, api_flows.blp, api_clock.blp],
        verifier=verifier,
        title="Review service (评审)",
        description="BPMN review processes run by SpiffWorkflow, and the reviewers' task queues.",
    )
    # A process step that fails during any request (a task completed, an incident retried, a
    # publicity started) becomes an incident the title office sees and can retry; the request's
    # own transaction is rolled back by then, so the incident is written in one of its own.
    app.register_error_handler(incidents.StepFailed, lambda error: _step_failed(db, error))
    return app


def _step_failed(db: Database, error: incidents.StepFailed) -> Response:
    incident_id = incidents.record_apart(db, error)
    return problems.problem(
        500,
        error.title,
        f"{error.message} (incident {incident_id})",
        [{"field": "incident", "rule": "step_failed", "message": f"incident {incident_id}: {error.error}"}],
    )


def handlers() -> dict:
    # The submission is kept outside the guarded savepoint: a review that fails to start
    # (an incident) still has the declaration as submitted when the retry starts it.
    return snapshots.recording(incidents.guarded(dict(HANDLERS)))


def deploy(db: Database) -> list[tuple[str, str, bool]]:
    """Deploy every diagram in bpmn/ (idempotent: a version is its content hash). A mode that calls
    another process (return_and_resubmit.bpmn) is deployed with the version of it in the folder."""
    with db.uow() as uow:
        deployed = definitions.deploy_directory(uow)
        uow.commit()
        return [(d.file_name, d.id, new) for d, new in deployed]


def seed(db: Database) -> None:
    """The demonstration committee's expert pool: the demo users with the expert role."""
    users = json.loads(resources.files("shared.demo").joinpath("users.json").read_text("utf-8"))["users"]
    with db.uow() as uow:
        for user in users:
            if user["role"] == "expert":
                service.add_expert(uow, user["org"], user["username"], user["name"])
        uow.commit()
