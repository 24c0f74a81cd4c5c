"""The notify service's HTTP API: my messages and contact details, organisations writing to
applicants, and reports (举报) from the public."""

from __future__ import annotations

from flask import request
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from services.notify import reports, service
from shared.identity.flask_auth import current_principal, require_roles
from shared.web.blueprint import Blueprint
from shared.web.ratelimit import rate_limited
from shared.web.schemas import Page, PageQuery, page_of
from shared.web.views import public, read_only, transaction

blp = Blueprint("messages", __name__, url_prefix="/api/v1", description="Each person's messages (我的消息)")


class MessageOut(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    declaration_id = fields.String(allow_none=True)
    sender = fields.String(allow_none=True)
    recipient_organisation = fields.String(
        allow_none=True, metadata={"description": "set when the message is to my organisation's staff"}
    )
    created_at = fields.DateTime()
    read_at = fields.DateTime(
        allow_none=True, metadata={"description": "when I read it (an organisation's notice is read by each colleague)"}
    )


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
    phone = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(r"^1\d{10}$", error="must be an 11-digit mobile number (手机号)"),
    )


class OrganisationMessageIn(Schema):
    declaration_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    subject = fields.String(required=True, validate=validate.Length(min=1, max=100))
    content = fields.String(required=True, validate=validate.Length(min=1, max=2000))


class ReportIn(Schema):
    declaration_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    content = fields.String(
        required=True, validate=validate.Length(min=1, max=2000), metadata={"description": "what is wrong (举报内容)"}
    )


class ReportOut(Schema):
    reference = fields.String(metadata={"description": "look the answer up with it (受理编号)"})
    declaration_id = fields.String()
    filed_at = fields.DateTime()
    status = fields.String(metadata={"description": "pending, answered"})
    upheld = fields.Boolean(allow_none=True)
    resolution = fields.String(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)


@blp.route("/messages")
class MyMessages(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, MessagePage)
    @read_only
    def get(self, query, *, uow, principal):
        """My messages, newest first, with the unread count."""
        items, total, unread = service.inbox(uow, principal, query["page"], query["per_page"])
        return {**page_of(query, items, total), "unread": unread}


@blp.route("/messages/unread-count")
class Unread(MethodView):
    @blp.response(200, UnreadOut)
    @read_only
    def get(self, *, uow, principal):
        """How many of my messages are unread by me (未读消息数), my organisation's notices included."""
        return {"unread": service.unread_count(uow, principal)}


@blp.route("/messages/<message_id>/read")
class MarkRead(MethodView):
    @blp.response(200, MessageOut)
    @transaction
    def post(self, message_id: str, *, uow, principal):
        """Mark one of my messages read (an organisation's notice: read by me, not by my colleagues)."""
        return service.mark_read(uow, principal, message_id)


@blp.route("/messages/<message_id>/unread")
class MarkUnread(MethodView):
    @blp.response(200, MessageOut)
    @transaction
    def post(self, message_id: str, *, uow, principal):
        """Mark one of my messages unread again (for me only)."""
        return service.mark_read(uow, principal, message_id, read=False)


@blp.route("/messages/<message_id>/deliveries")
class Deliveries(MethodView):
    @blp.response(200, DeliveryOut(many=True))
    @read_only
    def get(self, message_id: str, *, uow, principal):
        """How one of my messages went out by e-mail and SMS (attempts, errors)."""
        return service.deliveries_of(uow, principal, message_id)


@blp.route("/contact")
class MyContact(MethodView):
    @blp.response(200, ContactSchema)
    @read_only
    def get(self, *, uow, principal):
        """Where I receive messages besides the inbox."""
        return service.contact_of(uow, principal.subject)

    @blp.arguments(ContactSchema)
    @blp.response(200, ContactSchema)
    @transaction
    def put(self, body, *, uow, principal):
        """Set my e-mail address and mobile number for notices (empty: inbox only)."""
        return service.set_contact(uow, principal.subject, body["email"], body["phone"])


@blp.route("/organisation-messages")
class OrganisationMessages(MethodView):
    @blp.arguments(OrganisationMessageIn)
    @blp.response(201, MessageOut)
    @require_roles(*service.ORGANISATION_ROLES)
    @transaction
    def post(self, body, *, uow, principal):
        """Write to the applicant of a declaration that passed through my organisation."""
        return service.send_from_organisation(uow, principal, body["declaration_id"], body["subject"], body["content"])


@blp.route("/reports")
class Reports(MethodView):
    @public
    @blp.arguments(ReportIn)
    @blp.response(201, ReportOut)
    @blp.alt_response(429, description="too many reports from this address; retry later")
    @rate_limited("notify.rate.report", "NOTIFY_REPORT_RATE_LIMIT", "5/3600")
    @transaction
    def post(self, body, *, uow):
        """File a report (举报) about a declaration under publicity; no login needed (rate-limited).

        With a bearer token the reporter also gets the answer in their inbox."""
        reporter = current_principal().subject if request.headers.get("Authorization") else None
        return reports.file(uow, body["declaration_id"], body["content"], reporter)


@blp.route("/reports/<reference>")
class ReportAnswer(MethodView):
    @public
    @blp.response(200, ReportOut)
    @blp.alt_response(429, description="too many look-ups from this address; retry later")
    @rate_limited("notify.rate.report_lookup", "NOTIFY_REPORT_LOOKUP_RATE_LIMIT", "30/60")
    @read_only
    def get(self, reference: str, *, uow):
        """Look up a report's answer by its reference (举报查询)."""
        return reports.lookup(uow, reference)
