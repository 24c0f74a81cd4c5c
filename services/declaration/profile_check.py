"""The profile's own verdict on completeness, as the snapshot carries it, held against the declaration's copy.

The profile service decides what a profile needs before its owner may declare
and sends that verdict in the snapshot (``completeness: {ready, missing}``).
The declaration does not judge the profile again, so the two services cannot
disagree about what is required: an item the profile reported is binding
until the declaration's own copy of the snapshot supplies it (the copy may be
edited for this declaration only); nothing the profile accepted is refused.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.errors import FieldError

Check = Callable[[dict[str, Any]], bool]


def _given(value: Any) -> bool:
    return value not in (None, "", [], {})


def _basic(field: str) -> Check:
    return lambda snapshot: _given((snapshot.get("basic") or {}).get(field))


def _qualification(field: str) -> Check:
    return lambda snapshot: _given((snapshot.get("qualification") or {}).get(field))


def _appointment(snapshot: dict[str, Any]) -> dict[str, Any]:
    return (snapshot.get("qualification") or {}).get("appointment") or {}


def _proofs(snapshot: dict[str, Any]) -> bool:
    """The appointment's proofs: ``proof_ids``, or the single ``proof_id`` of snapshots taken before."""
    appointment = _appointment(snapshot)
    return _given(appointment.get("proof_ids")) or _given(appointment.get("proof_id"))


# (section, field) of a missing item -> whether the declaration's copy now supplies it. An item without
# a check here (a wrong ID number, which only the title office corrects) stays until a new snapshot.
SUPPLIED: dict[tuple[str, str], Check] = {
    **{("basic", f): _basic(f) for f in ("gender", "date_of_birth", "mobile", "photo_id")},
    ("educations", "before_work"): lambda s: any(e.get("before_work") for e in s.get("educations") or []),
    ("qualification", "specialty"): _qualification("specialty"),
    ("qualification", "first_professional_work_date"): _qualification("first_professional_work_date"),
    ("qualification", "appointment"): _proofs,
    ("qualification", "appointment.proof_kind"): lambda s: (
        _appointment(s).get("proof_kind") == "appointment_letter" and _proofs(s)
    ),
}

HINT = (
    "Complete it in this declaration's copy of your profile (申报档案), or complete your profile (个人信息) "
    "and open a new declaration."
)


def missing(snapshot: dict[str, Any] | None) -> list[FieldError]:
    """The profile's missing items that this declaration's snapshot still lacks, one error each."""
    verdict = (snapshot or {}).get("completeness") or {}
    if verdict.get("ready", True) and not verdict.get("missing"):
        return []  # complete, or a snapshot from a producer that sent no verdict
    errors = []
    for item in verdict.get("missing") or []:
        section, field = item.get("section") or "profile", item.get("field") or "profile"
        check = SUPPLIED.get((section, field))
        if check is not None and check(snapshot or {}):
            continue
        message = (item.get("message") or f"{section} {field} is missing").rstrip()
        errors.append(FieldError(f"snapshot.{section}.{field}", item.get("rule") or "required", f"{message} {HINT}"))
    return errors
