"""The review service's replica of the organisation directory, read by name.

Names are read on every step that announces a stage or a decision, and change about never: each
process keeps those it read for ``TTL`` seconds, so a step costs no query for them. A registration
this process applies is seen at once; one applied by another process within ``TTL``.
"""

from __future__ import annotations

import threading
import time

from services.review.models import Organisation
from shared.uow import UnitOfWork

TTL = 30.0
_names: dict[str, tuple[str, float]] = {}
_lock = threading.Lock()


def organisation_name(uow: UnitOfWork, code: str | None) -> str | None:
    """The organisation's name as the directory has it (None when unknown): notices name it."""
    if not code:
        return None
    kept = _names.get(code)
    now = time.monotonic()
    if kept is not None and now - kept[1] < TTL:
        return kept[0]
    org = uow.session.get(Organisation, code)
    if org is None:
        return None  # not kept: the replica may be on its way
    with _lock:
        _names[code] = (org.name, now)
    return org.name


def forget(code: str) -> None:
    """A registration changed the organisation: read its name again next time."""
    with _lock:
        _names.pop(code, None)
