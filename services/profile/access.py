"""Who besides the applicant may see an applicant's attachments: organisations a declaration reached.

The profile service does not know the review; it learns from events which organisations a
declaration has been put before (the unit on submission, each stage's organisation as the review
reaches it) and keeps a grant per declaration and organisation.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.profile.models import AccessGrant
from shared.uow import UnitOfWork

STAFF_ROLES = ("unit", "department", "committee", "expert")


def grant(uow: UnitOfWork, declaration_id: str, applicant: str, organisation: str | None, granted_by: str) -> None:
    """Record that an organisation may see the applicant's attachments; granting twice changes nothing."""
    if not organisation:
        return  # a stage without an organisation (e.g. the public) grants nobody
    exists = uow.session.scalar(select(AccessGrant.id).where(AccessGrant.declaration_id == declaration_id,
                                                             AccessGrant.organisation == organisation))
    if exists is not None:
        return
    try:
        # A savepoint: when another event for the same stage granted it meanwhile, theirs stands.
        with uow.session.begin_nested():
            uow.session.add(AccessGrant(declaration_id=declaration_id, applicant=applicant,
                                        organisation=organisation, granted_by=granted_by))
    except IntegrityError:
        pass


def may_see(uow: UnitOfWork, organisation: str | None, applicant: str) -> bool:
    """Whether an organisation holds a grant for any of the applicant's declarations."""
    if not organisation:
        return False
    return uow.session.scalar(select(AccessGrant.id).where(AccessGrant.applicant == applicant,
                                                           AccessGrant.organisation == organisation)
                              .limit(1)) is not None


def grants_for(uow: UnitOfWork, applicant: str) -> list[AccessGrant]:
    return list(uow.session.scalars(select(AccessGrant).where(AccessGrant.applicant == applicant)
                                    .order_by(AccessGrant.id)))
