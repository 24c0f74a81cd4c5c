"""The notify service's HTTP API: my messages."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services.notify import service
from shared.identity.flask_auth import current_principal
from shared.web.app import database
from shared.web.schemas import PageQuery

blp = Blueprint("messages", __name__, url_prefix="/api/v1", description="Each person's messages (我的消息)")


class MessageOut(Schema):
    id = fields.String()
    kind = fields.String()
    title = fields.String()
    body = fields.String()
    declaration_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    read_at = fields.DateTime(allow_none=True)


class MessagePage(Schema):
    items = fields.List(fields.Nested(MessageOut))
    total = fields.Integer()
    unread = fields.Integer()
    page = fields.Integer()
    per_page = fields.Integer()


@blp.route("/messages")
class MyMessages(MethodView):
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, MessagePage)
    def get(self, query):
        """My messages, newest first, with the unread count."""
        with database().uow(readonly=True) as uow:
            items, total, unread = service.inbox(uow, current_principal().subject, query["page"], query["per_page"])
            return {"items": items, "total": total, "unread": unread, "page": query["page"],
                    "per_page": query["per_page"]}


@blp.route("/messages/<message_id>/read")
class MarkRead(MethodView):
    @blp.response(200, MessageOut)
    def post(self, message_id: str):
        """Mark one of my messages read."""
        with database().uow() as uow:
            message = service.mark_read(uow, current_principal().subject, message_id)
            uow.commit()
            return message
