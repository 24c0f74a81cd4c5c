"""The certificate service's HTTP API: my certificates and public verification."""
from __future__ import annotations

from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services.certificate import service
from shared.identity.flask_auth import current_principal, require_roles
from shared.web.app import database

blp = Blueprint("certificates", __name__, url_prefix="/api/v1", description="Electronic title certificates")


class CertificateOut(Schema):
    id = fields.String()
    number = fields.String()
    declaration_id = fields.String()
    holder_name = fields.String()
    series = fields.String()
    level = fields.String()
    specialty = fields.String()
    qualification_name = fields.String()
    mode = fields.String()
    committee_name = fields.String()
    approved_on = fields.Date()
    issued_on = fields.Date()
    verification_code = fields.String()
    status = fields.String()


class VerifyQuery(Schema):
    number = fields.String(required=True)
    code = fields.String(required=True, metadata={"description": "verification code (验证码)"})


class Verification(Schema):
    number = fields.String()
    holder_name = fields.String()
    id_number = fields.Function(lambda c: service.mask_id_number(c.id_number))
    series = fields.String()
    level = fields.String()
    specialty = fields.String()
    qualification_name = fields.String()
    committee_name = fields.String()
    issued_on = fields.Date()
    status = fields.String()
    revoked_reason = fields.String(allow_none=True)


@blp.route("/certificates")
class MyCertificates(MethodView):
    @blp.response(200, CertificateOut(many=True))
    @require_roles("applicant")
    def get(self):
        """My certificates (我的证书)."""
        with database().uow(readonly=True) as uow:
            return service.of_holder(uow, current_principal().subject)


@blp.route("/verify")
class Verify(MethodView):
    @blp.arguments(VerifyQuery, location="query")
    @blp.response(200, Verification)
    @blp.doc(security=[])
    def get(self, query):
        """Public verification by number and verification code, without logging in."""
        with database().uow(readonly=True) as uow:
            return service.verify(uow, query["number"], query["code"])
