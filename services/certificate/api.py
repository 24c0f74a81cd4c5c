"""The certificate service's HTTP API: my certificates, the signed PDF, revocation, public verification."""

from __future__ import annotations

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from services.certificate import service, signing
from shared.identity.flask_auth import require_roles
from shared.web.blueprint import Blueprint
from shared.web.ratelimit import RateLimiter, limiter, rate_limited
from shared.web.views import public, read_only, transaction

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
    revoked_reason = fields.String(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)
    revoked_kind = fields.String(allow_none=True, metadata={"description": "fraud or other"})


class RevokeIn(Schema):
    reason = fields.String(
        required=True,
        validate=validate.Length(min=1, max=1000),
        metadata={"description": "why it is revoked (撤销原因)"},
    )
    reason_kind = fields.String(
        load_default="other",
        validate=validate.OneOf(service.REVOCATION_KINDS),
        metadata={
            "description": "fraud (弄虚作假): the holder is recorded in the integrity "
            "record (诚信档案) and cannot declare for 3 years; other: "
            "no bar"
        },
    )


class VerifyQuery(Schema):
    number = fields.String(required=True, validate=validate.Length(max=64))
    code = fields.String(
        required=True, validate=validate.Length(max=64), metadata={"description": "verification code (验证码)"}
    )


class Verification(Schema):
    number = fields.String()
    holder_name = fields.String()
    id_number = fields.Function(lambda c: service.mask_id_number(c.id_number))
    series = fields.String()
    level = fields.String()
    specialty = fields.String()
    qualification_name = fields.String()
    mode = fields.String()
    committee_name = fields.String()
    approved_on = fields.Date()
    issued_on = fields.Date()
    status = fields.String(metadata={"description": "valid, or revoked (已撤销)"})
    revoked_at = fields.DateTime(allow_none=True)
    revoked_reason = fields.String(allow_none=True)


@blp.route("/certificates")
class MyCertificates(MethodView):
    @blp.response(200, CertificateOut(many=True))
    @require_roles("applicant")
    @read_only
    def get(self, *, uow, principal):
        """My certificates (我的证书)."""
        return service.of_holder(uow, principal.subject)


@blp.route("/certificates/<number>")
class OneCertificate(MethodView):
    @blp.response(200, CertificateOut)
    @require_roles("applicant", "title_office")
    @read_only
    def get(self, number: str, *, uow, principal):
        """One certificate by number: the holder's own, or any for the title office."""
        return service.readable(uow, principal, number)


@blp.route("/certificates/<number>/pdf")
class CertificatePdf(MethodView):
    @blp.response(200, content_type="application/pdf", description="the signed PDF (PAdES)")
    @require_roles("applicant", "title_office")
    @read_only
    def get(self, number: str, *, uow, principal):
        """Download the signed PDF of my certificate (下载电子证书)."""
        certificate, document = service.document(uow, principal, number)
        return Response(
            document,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{certificate.number}.pdf"'},
        )


@blp.route("/certificates/<number>/revoke")
class Revoke(MethodView):
    @blp.arguments(RevokeIn)
    @blp.response(200, CertificateOut)
    @require_roles("title_office")
    @transaction
    def post(self, body, number: str, *, uow, principal):
        """Revoke a certificate with a reason (撤销证书); the title office only. A revocation for fraud
        (``reason_kind: fraud``) puts the holder on the integrity record (诚信档案) of the declaration service,
        which refuses their declarations for 3 years."""
        return service.revoke(uow, principal, number, body["reason"], body["reason_kind"])


# One counter per client for the JSON verification and the verification page.
VERIFY_RATE = ("certificate.verify_rate", "CERTIFICATE_VERIFY_RATE_LIMIT", "30/60")


def verify_limiter() -> RateLimiter:
    return limiter(*VERIFY_RATE)


@blp.route("/verify")
class Verify(MethodView):
    @public
    @blp.arguments(VerifyQuery, location="query")
    @blp.response(200, Verification)
    @blp.alt_response(429, description="too many verifications from this address; retry later")
    @rate_limited(*VERIFY_RATE, message="too many verification requests; try again later (查验过于频繁，请稍后再试)")
    @read_only
    def get(self, query, *, uow):
        """Public verification by number and verification code, without logging in (rate-limited)."""
        return service.verify(uow, query["number"], query["code"])


@blp.route("/signing-certificate")
class SigningCertificate(MethodView):
    @public
    @blp.response(200, content_type="application/x-pem-file", description="PEM certificate")
    def get(self):
        """The certificate that anchors the PDFs' signatures (trust root for offline validation)."""
        return Response(signing.trust_root_pem(), mimetype="application/x-pem-file")
