"""Who besides the applicant may see an applicant's attachments: organisations a declaration reached.

The profile service does not know the review; it learns from events which organisations a
declaration has been put before (the unit on submission, each stage's organisation as the review
reaches it) and keeps a grant per declaration and organisation.

A grant opens only the attachments its declaration refers to: the submission events carry
``attachment_ids`` (every profile attachment the declaration uses), kept per declaration as the union
over its submission and resubmissions. A declaration whose events carried no such list (a producer older
than the field) keeps the earlier behaviour: its grants open every attachment of the applicant.
"""

from __future__ import annotations

import functools

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.profile.models import AccessGrant, DeclarationReferences
from shared.db import upsert_insert, utcnow
from shared.prepared import Prepared
from shared.uow import UnitOfWork

STAFF_ROLES = ("unit", "department", "committee", "expert")


def grant(uow: UnitOfWork, declaration_id: str, applicant: str, organisation: str | None, granted_by: str) -> None:
    """Record that an organisation may see the applicant's attachments; granting twice changes nothing.

    One statement, INSERT ... ON CONFLICT DO NOTHING on (declaration, organisation): most stage changes
    reach an organisation granted already (the unit's four stages, say), and a look first, then a
    savepoint around the insert for a concurrent grant, cost four round trips where one does."""
    if not organisation:
        return  # a stage without an organisation (e.g. the public) grants nobody
    connection = uow.session.connection()
    _insert_if_new(connection.dialect.name).execute(
        connection,
        {
            "declaration_id": declaration_id,
            "applicant": applicant,
            "organisation": organisation,
            "granted_by": granted_by,
            "granted_at": utcnow(),
        },
    )


@functools.lru_cache(maxsize=4)
def _insert_if_new(dialect: str) -> Prepared:
    """Built and compiled once per dialect: both dialects speak ON CONFLICT DO NOTHING."""
    insert = upsert_insert(dialect)
    return Prepared(
        insert(AccessGrant).inline().on_conflict_do_nothing(index_elements=["declaration_id", "organisation"]),
        ("declaration_id", "applicant", "organisation", "granted_by", "granted_at"),
    )


def refer(uow: UnitOfWork, declaration_id: str, applicant: str, attachment_ids: list[str] | None) -> None:
    """Add to what a declaration refers to (a union: a resubmission may add files, never takes any away).
    None (an older producer) records nothing, so the declaration keeps applicant-wide grants."""
    if attachment_ids is None:
        return
    row = uow.session.get(DeclarationReferences, declaration_id, with_for_update=True)
    if row is None:
        try:
            with uow.session.begin_nested():  # a concurrent first event for this declaration wins the insert
                row = DeclarationReferences(declaration_id=declaration_id, applicant=applicant, attachment_ids=[])
                uow.session.add(row)
        except IntegrityError:
            row = uow.session.get_one(
                DeclarationReferences, declaration_id, with_for_update=True, populate_existing=True
            )
    known = list(row.attachment_ids or [])
    added = [i for i in dict.fromkeys(attachment_ids) if i not in known]
    if added:
        row.attachment_ids = known + added  # a new list: the JSON column sees the change


def may_see(uow: UnitOfWork, organisation: str | None, applicant: str, attachment_id: str) -> bool:
    """Whether an organisation holds a grant for one of the applicant's declarations that refers to the
    attachment (or that never said what it refers to)."""
    if not organisation:
        return False
    granted = list(
        uow.session.scalars(
            select(AccessGrant.declaration_id).where(
                AccessGrant.applicant == applicant, AccessGrant.organisation == organisation
            )
        )
    )
    if not granted:
        return False
    references = {
        row.declaration_id: row.attachment_ids
        for row in uow.session.scalars(
            select(DeclarationReferences).where(DeclarationReferences.declaration_id.in_(granted))
        )
    }
    return any(declaration not in references or attachment_id in references[declaration] for declaration in granted)


def grants_for(uow: UnitOfWork, applicant: str) -> list[AccessGrant]:
    return list(
        uow.session.scalars(select(AccessGrant).where(AccessGrant.applicant == applicant).order_by(AccessGrant.id))
    )
