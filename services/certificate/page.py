"""The verification page for people: where the QR code leads (HTML, Chinese first, for phones).

No login; rate-limited together with the JSON endpoint ``/api/v1/verify`` (the
same counter per client address). A wrong number or code shows only that
nothing matched. A person may upload the PDF they were given: it is compared
with the signed PDF as issued and its signature is validated; the file is not
kept.
"""

from __future__ import annotations

import datetime as dt
from functools import cache

from flask import Response, request
from flask.views import MethodView
from jinja2 import Environment, PackageLoader, select_autoescape

from services.certificate import api, pdf, service, verification
from shared.clock import BEIJING
from shared.errors import NotFound
from shared.identifiers import mask_id_number
from shared.uow import UnitOfWork
from shared.web.blueprint import Blueprint
from shared.web.views import public, read_only

blp = Blueprint("verification page", __name__, url_prefix="", description="The public verification page (HTML)")
MAX_PDF_BYTES = 5 * 1024 * 1024
HEADERS = {
    # The address holds the verification code: never pass it on to another site.
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
}


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("services.certificate", "templates"), autoescape=select_autoescape(["html"])
    )


def _page(status: int = 200, **context: object) -> Response:
    context.setdefault("action", request.path)
    context.setdefault("issuer", pdf.issuer_name())
    html = _templates().get_template("verify.html").render(**context)
    response = Response(html, status=status, mimetype="text/html")
    response.headers.update(HEADERS)
    return response


def _fields(certificate) -> list[tuple[str, str]]:  # noqa: ANN001 - a Certificate
    face = service.face_of(certificate)
    shown = [("证书编号", certificate.number)]
    for label, value in pdf.rows(face):
        label = label.replace("　", "")
        shown.append((label, mask_id_number(value) if label == "身份证号" else value))
    return shown


def _beijing(moment: dt.datetime | None) -> str:
    return moment.astimezone(BEIJING).strftime("%Y年%-m月%-d日 %H:%M") if moment else ""


def _answer(uow: UnitOfWork, number: str, code: str, uploaded: bytes | None = None) -> Response:
    # Limited here, not by rate_limited: a person is answered with the page, not problem details.
    allowed, wait = api.verify_limiter().allow(request.remote_addr or "unknown")
    if not allowed:
        response = _page(429, limited=True, retry_after=wait)
        response.headers["Retry-After"] = str(wait)
        return response
    if not number or not code:
        return _page()
    try:
        certificate = service.verify(uow, number[:64], code[:64])
    except NotFound:
        return _page(404, not_found=True)
    upload = verification.check_upload(uow, certificate, uploaded) if uploaded is not None else None
    signer_note = "由发证机关签名" if upload and upload.signature.valid else ""
    return _page(
        certificate=certificate,
        code=code.strip().upper(),
        fields=_fields(certificate),
        revoked_on=_beijing(certificate.revoked_at),
        upload=upload,
        signer_note=signer_note,
        signed_at=_beijing(upload.signature.signed_at) if upload else "",
    )


def _html(description: str) -> dict[str, object]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


# A person reads these answers, so every one of them is the page (an error of the request's size or
# form, before the page is reached, is still problem details: the default response).
PAGE_RESPONSES = {
    "200": _html("the verification page"),
    "404": _html("nothing matches: the page says only that"),
    "429": _html("too many verifications from this address (Retry-After says when to try again)"),
}


@blp.route("/verify")
class VerificationPage(MethodView):
    @public
    @blp.doc(responses=PAGE_RESPONSES)
    @read_only
    def get(self, *, uow):
        """The verification page the QR code opens: the certificate's status and face (证书查验)."""
        return _answer(uow, request.args.get("number", "").strip(), request.args.get("code", "").strip())

    @public
    @blp.doc(responses={**PAGE_RESPONSES, "200": _html("the page with the result of the comparison")})
    @read_only
    def post(self, *, uow):
        """Upload the PDF one was given (form field ``document``) to check it is this certificate, unaltered."""
        upload = request.files.get("document")
        data = upload.read(MAX_PDF_BYTES + 1) if upload and upload.filename else None
        if data is not None and len(data) > MAX_PDF_BYTES:
            data = b""  # no certificate is this large: it cannot be the issued one
        return _answer(uow, request.form.get("number", "").strip(), request.form.get("code", "").strip(), data)
