"""Public verification: where the QR code points, what the public may see, and checking a PDF someone holds."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import select

from services.certificate import signing
from services.certificate.models import Certificate, CertificateDocument
from shared import config
from shared.errors import NotFound
from shared.uow import UnitOfWork


def verification_base_url() -> str:
    """``CERTIFICATE_VERIFY_URL`` (the public page as the world reaches it); by default the service's own page."""
    return config.settings().certificate_verify_url or config.service_url("certificate") + "/verify"


def verification_url(number: str, code: str) -> str:
    return f"{verification_base_url()}?{urlencode({'number': number, 'code': code})}"


def verify(uow: UnitOfWork, number: str, code: str) -> Certificate:
    found = uow.session.scalar(select(Certificate).where(Certificate.number == number.strip()))
    # A wrong code and an unknown number look the same: nothing leaks.
    # Compare bytes: compare_digest refuses non-ASCII str (a 500 for a typo like "验证码").
    if found is None or not secrets.compare_digest(found.verification_code.encode(), code.strip().upper().encode()):
        raise NotFound("no certificate matches this number and verification code (未找到证书)")
    return found


@dataclass(frozen=True)
class UploadCheck:
    """What a PDF someone was given says about the certificate it claims to be."""

    unaltered: bool  # byte for byte the signed PDF the service issued for this certificate
    signature: signing.SignatureCheck


def check_upload(uow: UnitOfWork, certificate: Certificate, uploaded: bytes) -> UploadCheck:
    """Compare an uploaded PDF with the stored signed PDF of ``certificate`` (found by number and code),
    and validate its signature with the validation data it carries."""
    stored = uow.session.get(CertificateDocument, certificate.id)
    same = stored is not None and secrets.compare_digest(stored.sha256, hashlib.sha256(uploaded).hexdigest())
    return UploadCheck(unaltered=same, signature=signing.check(uploaded))
