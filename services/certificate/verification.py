"""Public verification: where the QR code points, and what the public may see."""
from __future__ import annotations

import os
import secrets
from urllib.parse import urlencode

from sqlalchemy import select

from services.certificate.models import Certificate
from shared import config
from shared.errors import NotFound
from shared.uow import UnitOfWork


def verification_base_url() -> str:
    """``CERTIFICATE_VERIFY_URL`` (the public page); by default the service's own verify endpoint."""
    return os.environ.get("CERTIFICATE_VERIFY_URL") or config.service_url("certificate") + "/api/v1/verify"


def verification_url(number: str, code: str) -> str:
    return f"{verification_base_url()}?{urlencode({'number': number, 'code': code})}"


def verify(uow: UnitOfWork, number: str, code: str) -> Certificate:
    found = uow.session.scalar(select(Certificate).where(Certificate.number == number))
    # A wrong code and an unknown number look the same: nothing leaks.
    # Compare bytes: compare_digest refuses non-ASCII str (a 500 for a typo like "验证码").
    if found is None or not secrets.compare_digest(found.verification_code.encode(), code.strip().upper().encode()):
        raise NotFound("no certificate matches this number and verification code (未找到证书)")
    return found


def mask_id_number(id_number: str) -> str:
    return id_number[:4] + "*" * (len(id_number) - 8) + id_number[-4:] if len(id_number) > 8 else "****"
