"""The profile attachments a declaration refers to, and whether they are the applicant's own.

The files stay in the profile service's store; a declaration refers to them by id, as
``{"id": "<attachment id>", "name": "..."}`` in items, exception-claim proofs, the employer's
proof, series sections and required materials, and by the profile's own keys (``photo_id``,
``certificate_id``, ``proof_ids``, ``attachment_ids``, ...) in its copy of the profile. Who owns
which file is known here from profile.attachment.stored.v1 and from the snapshots' ``attachments``
(services/declaration/replicas.py). Saving refuses a file known to be someone else's; submitting
needs every file known and the applicant's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from services.declaration import replicas
from shared.errors import DomainError, FieldError
from shared.uow import UnitOfWork

# The profile's keys that hold one attachment id, and those that hold a list of them.
SNAPSHOT_KEYS = (
    "photo_id",
    "certificate_id",
    "verification_letter_id",
    "proof_id",
    "attachment_id",
    "dispatch_proof_id",
)
SNAPSHOT_LIST_KEYS = ("attachment_ids", "proof_ids")
# Not references: the snapshot's list of the applicant's files, and the profile's completeness verdict.
SNAPSHOT_SKIP = ("attachments", "completeness")

Ref = tuple[str, str]  # (field, attachment id)


def _entry_id(entry: Any, field: str) -> str:
    """An attachment given in declaration content: ``{"id": ..., "name": ...}``."""
    if isinstance(entry, dict) and isinstance(entry.get("id"), str) and entry["id"]:
        return entry["id"]
    raise DomainError.on(
        field,
        "attachment_reference",
        'an attachment is given as {"id": ..., "name": ...} with the id of a file uploaded to your profile (附件)',
    )


def listed(entries: Any, field: str) -> list[Ref]:
    """The references of a list of attachments (missing or empty: none)."""
    if entries in (None, []):
        return []
    if not isinstance(entries, list):
        raise DomainError.on(field, "attachment_reference", "attachments are a list (附件)")
    return [(field, _entry_id(entry, field)) for entry in entries]


def _walk(value: Any, path: str, found: list[Ref]) -> None:
    if isinstance(value, list):
        for element in value:
            _walk(element, path, found)
        return
    if not isinstance(value, dict):
        return
    for key, inner in value.items():
        if key == "proof_id" and isinstance(value.get("proof_ids"), list):
            continue  # the profile repeats the first of proof_ids as proof_id for older readers
        if key in SNAPSHOT_KEYS and isinstance(inner, str) and inner:
            found.append((f"{path}.{key}", inner))
        elif key in SNAPSHOT_LIST_KEYS and isinstance(inner, list):
            found.extend((f"{path}.{key}", i) for i in inner if isinstance(i, str) and i)
        else:
            _walk(inner, f"{path}.{key}", found)


def in_snapshot(snapshot: dict[str, Any] | None) -> list[Ref]:
    """The files the declaration's copy of the profile refers to (photo, diplomas, letters, certificates...)."""
    found: list[Ref] = []
    for section, value in (snapshot or {}).items():
        if section not in SNAPSHOT_SKIP:
            _walk(value, f"snapshot.{section}", found)
    return found


def in_claims(claims: list[dict[str, Any]] | None) -> list[Ref]:
    return [ref for claim in claims or [] for ref in listed(claim.get("proof"), "exception_claims")]


def in_employer_proof(proof: dict[str, Any] | None) -> list[Ref]:
    return listed((proof or {}).get("attachments"), "employer_proof")


def in_sections(sections: dict[str, Any] | None) -> list[Ref]:
    return [
        ref
        for name, section in (sections or {}).items()
        if isinstance(section, dict)
        for ref in listed(section.get("attachments"), f"sections.{name}")
    ]


def in_materials(materials: dict[str, Any] | None) -> list[Ref]:
    return [
        ref
        for code, given in (materials or {}).items()
        if isinstance(given, dict)
        for ref in listed(given.get("attachments"), f"materials.{code}")
    ]


def refuse_others(uow: UnitOfWork, applicant: str, refs: Iterable[Ref]) -> None:
    """At save: a file known to belong to someone else is refused (an unknown one may still be on its way)."""
    refs = list(refs)
    owners = replicas.owners(uow, (i for _, i in refs))
    for field, attachment_id in refs:
        if owners.get(attachment_id, applicant) != applicant:
            raise DomainError.on(field, "own_attachment", f"attachment {attachment_id} is not one of your files (附件)")


def problems(uow: UnitOfWork, applicant: str, refs: Iterable[Ref]) -> list[FieldError]:
    """At submission: every referenced file must be known here and the applicant's, one error per file and field."""
    refs = list(dict.fromkeys(refs))
    owners = replicas.owners(uow, (i for _, i in refs))
    errors = []
    for field, attachment_id in refs:
        owner = owners.get(attachment_id)
        if owner is None:
            errors.append(
                FieldError(
                    field,
                    "known_attachment",
                    (
                        f"attachment {attachment_id} is not known as one of your files (附件): upload it to your profile "
                        "(个人信息) and refer to it by its id; a file uploaded moments ago may not have reached the "
                        "declaration service yet, so try again shortly"
                    ),
                )
            )
        elif owner != applicant:
            errors.append(
                FieldError(field, "own_attachment", f"attachment {attachment_id} is not one of your files (附件)")
            )
    return errors


def ids(refs: Iterable[Ref]) -> list[str]:
    """The attachment ids, each once, in the order they are referred to."""
    return list(dict.fromkeys(i for _, i in refs))
