"""The notify service's HTTP API: my messages and contact details, organisations writing to
applicants, and reports (举报) from the public."""
from __future__ import annotations

import os

from flask import current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort
from marshmallow import Schema, fields, validate

from services.notify import reports, service
from shared.web.ratelimit import RateLimiter
from shared.identity.flask_auth import current_principal, require_roles
from shared.web.app import database
from shared.web.schemas import Page, PageQuery

blp = Blueprint("messages", __name__, url_prefix="/api/v1", description="Each person's messages (我的消息)")


class MessageOut(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    declaration_id = fields.String(allow_none=True)
    sender = fields.String(allow_none=True)
    recipient_organisation = fields.String(
        allow_none=True, metadata={"description": "set when the message is to my organisation's staff"})
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True, metadata={"description": "when I read it (an organisation's "
                                                                        "notice is read by each colleague)"})


class MessagePage(Page):
    items = fields.List(fields.Nested(MessageOut))
    unread = fields.Integer()


class UnreadOut(Schema):
    unread = fields.Integer()


class DeliveryOut(Schema):
    channel = fields.String()
    status = fields.String(metadata={"description": "pending, sent, failed"})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime()
    last_error = fields.String(allow_none=True)
    sent_at = fields.DateTime(allow_none=True)


class ContactSchema(Schema):
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))
    phone = fields.String(load_default=None, allow_none=True,
                          validate=validate.Regexp(r"^1\d{10}$", error="must be an 11-digit mobile number (手机号)"))


class OrganisationMessageIn(Schema):
    declaration_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=100))
    content = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ReportIn(Schema):
    declaration_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    content = fields.String(required=True, validate=validate.Length(min=1, max=2000),
                            metadata={"description": "what is wrong (举报内容)"})


class ReportOut(Schema):
    reference = fields.String(metadata={"description": "look the answer up with it (受理编号)"})
    declaration_id = fields.String()
    filed_at = fields.DateTime()
    status = fields.String(metadata={"description": "pending, answered"})
    upheld = fields.Boolean(allow_none=True)
    resolution = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)


def _limit(name: str, default: str) -> None:
    key = f"notify.rate.{name}"
    limiter = current_app.extensions.get(key)
    if limiter is None:
        limiter = current_app.extensions[key] = RateLimiter(
            os.environ.get(f"NOTIFY_{name.upper()}_RATE_LIMIT", default))
    allowed, wait = limiter.allow(request.remote_addr or "unknown")
    if not allowed:
        abort(429, message="too many requests; try again later (操作过于频繁，请稍后再试)", headers={"Retry-After": str(wait)})


@blp.route("/messages")
class MyMessages(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, MessagePage)
    def get(self, query):
        """My messages, newest first, with the unread count."""
        with database().uow(readonly=True) as uow:
            items, total, unread = service.inbox(uow, current_principal(), query["page"], query["per_page"])
            return {"items": items, "total": total, "unread": unread, "page": query["page"],
                    "per_page": query["per_page"]}


@blp.route("/messages/unread-count")
class Unread(MethodView):
    @blp.response(200, UnreadOut)
    def get(self):
        """How many of my messages are unread by me (未读消息数), my organisation's notices included."""
        with database().uow(readonly=True) as uow:
            return {"unread": service.unread_count(uow, current_principal())}


@blp.route("/messages/<message_id>/read")
class MarkRead(MethodView):
    @blp.response(200, MessageOut)
    def post(self, message_id: str):
        """Mark one of my messages read (an organisation's notice: read by me, not by my colleagues)."""
        with database().uow() as uow:
            message = service.mark_read(uow, current_principal(), message_id)
            uow.commit()
            return message


@blp.route("/messages/<message_id>/unread")
class MarkUnread(MethodView):
    @blp.response(200, MessageOut)
    def post(self, message_id: str):
        """Mark one of my messages unread again (for me only)."""
        with database().uow() as uow:
            message = service.mark_read(uow, current_principal(), message_id, read=False)
            uow.commit()
            return message


@blp.route("/messages/<message_id>/deliveries")
class Deliveries(MethodView):
    @blp.response(200, DeliveryOut(many=True))
    def get(self, message_id: str):
        """How one of my messages went out by e-mail and SMS (attempts, errors)."""
        with database().uow(readonly=True) as uow:
            return service.deliveries_of(uow, current_principal(), message_id)


@blp.route("/contact")
class MyContact(MethodView):
    @blp.response(200, ContactSchema)
    def get(self):
        """Where I receive messages besides the inbox."""
        with database().uow(readonly=True) as uow:
            return service.contact_of(uow, current_principal().subject)

    @blp.arguments(ContactSchema)
    @blp.response(200, ContactSchema)
    def put(self, body):
        """Set my e-mail address and mobile number for notices (empty: inbox only)."""
        with database().uow() as uow:
            contact = service.set_contact(uow, current_principal().subject, body["email"], body["phone"])
            uow.commit()
            return contact


@blp.route("/organisation-messages")
class OrganisationMessages(MethodView):
    @blp.arguments(OrganisationMessageIn)
    @blp.response(201, MessageOut)
    @require_roles(*service.ORGANISATION_ROLES)
    def post(self, body):
        """Write to the applicant of a declaration that passed through my organisation."""
        with database().uow() as uow:
            message = service.send_from_organisation(uow, current_principal(), body["declaration_id"],
                                                     body["subject"], body["content"])
            uow.commit()
            return message


@blp.route("/reports")
class Reports(MethodView):
    @blp.arguments(ReportIn)
    @blp.response(201, ReportOut)
    @blp.alt_response(429, description="too many reports from this address; retry later")
    @blp.doc(security=[])
    def post(self, body):
        """File a report (举报) about a declaration under publicity; no login needed (rate-limited).

        With a bearer token the reporter also gets the answer in their inbox."""
        _limit("report", "5/3600")
        reporter = current_principal().subject if request.headers.get("Authorization") else None
        with database().uow() as uow:
            report = reports.file(uow, body["declaration_id"], body["content"], reporter)
            uow.commit()
            return report


@blp.route("/reports/<reference>")
class ReportAnswer(MethodView):
    @blp.response(200, ReportOut)
    @blp.alt_response(429, description="too many look-ups from this address; retry later")
    @blp.doc(security=[])
    def get(self, reference: str):
        """Look up a report's answer by its reference (举报查询)."""
        _limit("report_lookup", "30/60")
        with database().uow(readonly=True) as uow:
            return reports.lookup(uow, reference)
