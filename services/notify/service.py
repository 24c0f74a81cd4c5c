"""The notify service layer: storing messages (inbox plus outside channels), reading one's
inbox, contact details, and organisations writing to the applicants of their declarations."""

from __future__ import annotations

import functools
import uuid
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, Select, bindparam, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from services.notify import templates
from services.notify.models import (
    Contact,
    DeclarationOrganisation,
    DeclarationReplica,
    Delivery,
    Message,
    OrganisationMessageRead,
)
from shared.contracts.review import Completed, StageChanged
from shared.db import upsert_insert, utcnow
from shared.errors import Forbidden, NotFound
from shared.identity.principal import Principal
from shared.paging import Listing
from shared.prepared import Prepared
from shared.uow import UnitOfWork

ORGANISATION_ROLES = ("unit", "department", "committee", "title_office")
ENDED = "completed"  # a declaration replica's stage once its review has ended


def deliver(
    uow: UnitOfWork,
    recipient: str,
    kind: str,
    data: dict[str, Any],
    sender: str | None = None,
    template: str | None = None,
) -> Message:
    """The inbox message, and a pending delivery per outside channel the person gave an address for.

    Everything is written in the caller's transaction (the event's inbox record),
    so a redelivered event adds nothing and sends nothing twice.
    """
    rendered = templates.render(template or kind, data)
    message = _written(uow, recipient, None, kind, rendered, data, sender)
    contact = uow.session.get(Contact, recipient)
    if contact is not None:
        for channel, address, short in (("email", contact.email, None), ("sms", contact.phone, rendered.sms)):
            if address:
                uow.session.add(
                    Delivery(
                        id=str(uuid.uuid4()),
                        message_id=message.id,
                        channel=channel,
                        address=address,
                        short_text=short,
                        status="pending",
                        attempts=0,
                        next_attempt_at=utcnow(),
                    )
                )
    uow.session.flush()
    return message


def deliver_to_organisation(uow: UnitOfWork, organisation: str, kind: str, data: dict[str, Any]) -> Message:
    """A message for every staff member of an organisation (inbox only: no personal addresses)."""
    rendered = templates.render(kind, data)
    return _written(uow, f"organisation:{organisation}", organisation, kind, rendered, data, None)


_MESSAGE_COLUMNS = tuple(column.key for column in Message.__table__.columns)
_INSERT_MESSAGE = Prepared(insert(Message).inline(), _MESSAGE_COLUMNS)


def _written(
    uow: UnitOfWork,
    recipient: str,
    organisation: str | None,
    kind: str,
    rendered: templates.Rendered,
    data: dict[str, Any],
    sender: str | None,
) -> Message:
    """The message, its row inserted now, in Core: through the session, the flush a delivery's next query sets
    off (its contact's, say) wrote it through the ORM's unit of work, a quarter of a stage change's delivery
    (bench/instructions.py). The object stays out of the session (a view shows it); a read of the row later in
    the transaction finds it in the database."""
    message = Message(
        id=str(uuid.uuid4()),
        recipient=recipient,
        recipient_organisation=organisation,
        kind=kind,
        title=rendered.title[:200],
        body=rendered.body,
        declaration_id=data.get("declaration_id"),
        sender=sender,
        created_at=utcnow(),
    )
    _INSERT_MESSAGE.execute(uow.session.connection(), {key: getattr(message, key) for key in _MESSAGE_COLUMNS})
    return message


class _Inbox(NamedTuple):
    listing: Listing  # my messages, newest first
    unread: Select[Any]  # how many of them I have not read


def _inbox(principal: Principal) -> tuple[_Inbox, dict[str, Any]]:
    """The inbox's statements for this person, and their values: an applicant's page polls it."""
    staff = principal.role in ORGANISATION_ROLES and bool(principal.organisation)
    values = (
        {"subject": principal.subject, "organisation": principal.organisation}
        if staff
        else {"subject": principal.subject}
    )
    return _inbox_statements(staff), values


@functools.lru_cache(maxsize=2)
def _inbox_statements(staff: bool) -> _Inbox:
    """Built once for staff and once for everyone else."""
    # My own messages and, for staff, those addressed to my organisation.
    mine: ColumnElement[bool] = (
        or_(Message.recipient == bindparam("subject"), Message.recipient_organisation == bindparam("organisation"))
        if staff
        else Message.recipient == bindparam("subject")
    )
    # Unread by this person: their own messages unread, their organisation's not yet read by them.
    read_by_me = select(OrganisationMessageRead.message_id).where(
        OrganisationMessageRead.message_id == Message.id, OrganisationMessageRead.reader == bindparam("subject")
    )
    unread = Message.read_at.is_(None) & or_(Message.recipient_organisation.is_(None), ~read_by_me.exists())
    return _Inbox(
        listing=Listing(select(Message).where(mine).order_by(Message.created_at.desc(), Message.id)),
        unread=select(func.count()).select_from(Message).where(mine, unread),
    )


def _is_mine(principal: Principal, message: Message) -> bool:
    if message.recipient_organisation is not None:
        return principal.role in ORGANISATION_ROLES and principal.organisation == message.recipient_organisation
    return message.recipient == principal.subject


def as_read_by(uow: UnitOfWork, principal: Principal, messages: list[Message]) -> list[dict[str, Any]]:
    """The messages as this person sees them: ``read_at`` is when they (not a colleague) read it."""
    shared_ids = [m.id for m in messages if m.recipient_organisation is not None]
    mine = (
        {
            row.message_id: row.read_at
            for row in uow.session.scalars(
                select(OrganisationMessageRead).where(
                    OrganisationMessageRead.message_id.in_(shared_ids),
                    OrganisationMessageRead.reader == principal.subject,
                )
            )
        }
        if shared_ids
        else {}
    )
    return [
        {**{c.key: getattr(m, c.key) for c in Message.__table__.columns}, "read_at": m.read_at or mine.get(m.id)}
        for m in messages
    ]


def inbox(uow: UnitOfWork, principal: Principal, page: int, per_page: int) -> tuple[list[dict[str, Any]], int, int]:
    statements, values = _inbox(principal)
    items, total = statements.listing.page(uow, values, page, per_page)
    return as_read_by(uow, principal, items), total, unread_count(uow, principal)


def unread_count(uow: UnitOfWork, principal: Principal) -> int:
    statements, values = _inbox(principal)
    return uow.session.scalar(statements.unread, values) or 0


def mark_read(uow: UnitOfWork, principal: Principal, message_id: str, read: bool = True) -> dict[str, Any]:
    """Mark one of my messages read (or unread again). An organisation's notice is read per reader:
    one clerk reading it leaves it unread for their colleagues."""
    message = mark_owner(uow, principal, message_id)
    if message.recipient_organisation is None:
        if read and message.read_at is None:
            message.read_at = utcnow()
        elif not read:
            message.read_at = None
    else:
        mine = uow.session.get(OrganisationMessageRead, (message.id, principal.subject))
        if read and mine is None:
            try:
                with uow.session.begin_nested():  # the same reader twice at once: one row
                    uow.session.add(
                        OrganisationMessageRead(message_id=message.id, reader=principal.subject, read_at=utcnow())
                    )
            except IntegrityError:
                pass
        elif not read and mine is not None:
            uow.session.delete(mine)
    uow.session.flush()
    return as_read_by(uow, principal, [message])[0]


def deliveries_of(uow: UnitOfWork, principal: Principal, message_id: str) -> list[Delivery]:
    message = mark_owner(uow, principal, message_id)
    return list(
        uow.session.scalars(select(Delivery).where(Delivery.message_id == message.id).order_by(Delivery.channel))
    )


def mark_owner(uow: UnitOfWork, principal: Principal, message_id: str) -> Message:
    message = uow.session.get(Message, message_id)
    if message is None:
        raise NotFound.on("message_id", "exists", f"message {message_id} does not exist")
    if not _is_mine(principal, message):
        raise Forbidden.on("message_id", "own_message", "a person reads only their own messages")
    return message


# --------------------------------------------------------------------------- contact details


def contact_of(uow: UnitOfWork, subject: str) -> Contact:
    return uow.session.get(Contact, subject) or Contact(subject=subject, email=None, phone=None)


def set_contact(uow: UnitOfWork, subject: str, email: str | None, phone: str | None) -> Contact:
    contact = uow.session.get(Contact, subject)
    if contact is None:
        contact = Contact(subject=subject)
        uow.session.add(contact)
    contact.email, contact.phone, contact.updated_at = email or None, phone or None, utcnow()
    uow.session.flush()
    return contact


# --------------------------------------------------------------------------- the declaration replica


def record_stage(uow: UnitOfWork, changed: StageChanged) -> None:
    """Remember the applicant, the latest stage and the organisation a declaration passed through.

    An INSERT ... ON CONFLICT for each (both dialects speak it), on the session's connection: a review sends
    some thirteen stage changes, and loading the replica and the organisation's row through the ORM, then
    flushing what changed, was half of the handler's CPU."""
    connection = uow.session.connection()
    upsert = _replica_upserts(connection.dialect.name)
    # Events may arrive out of order: the newest stage by the event's own time is kept (ISO texts of one
    # zone compare as times). An event without a stage only makes sure the replica is there.
    upsert.stage.execute(
        connection,
        {
            "declaration_id": changed.declaration_id,
            "applicant": changed.applicant,
            "stage": changed.stage or None,
            "stage_at": changed.at if changed.stage else None,
        },
    )
    if changed.organisation:
        upsert.organisation.execute(
            connection, {"declaration_id": changed.declaration_id, "organisation": changed.organisation}
        )


class _Upserts(NamedTuple):
    stage: Prepared
    organisation: Prepared


@functools.lru_cache(maxsize=4)
def _replica_upserts(dialect: str) -> _Upserts:
    """Built and compiled once per dialect."""
    insert = upsert_insert(dialect)
    fresh = insert(DeclarationReplica)
    table = DeclarationReplica.__table__.c
    stage = fresh.on_conflict_do_update(
        index_elements=[table.declaration_id],
        set_={"stage": fresh.excluded.stage, "stage_at": fresh.excluded.stage_at},
        where=fresh.excluded.stage.is_not(None)
        & (table.stage_at.is_(None) | (fresh.excluded.stage_at >= table.stage_at)),
    )
    organisation = insert(DeclarationOrganisation).on_conflict_do_nothing(
        index_elements=[DeclarationOrganisation.declaration_id, DeclarationOrganisation.organisation]
    )
    return _Upserts(
        Prepared(stage, ("declaration_id", "applicant", "stage", "stage_at")),
        Prepared(organisation, ("declaration_id", "organisation")),
    )


def record_completed(uow: UnitOfWork, completed: Completed) -> None:
    """The review ended: no publicity can run for the declaration any more (reports are refused)."""
    replica = _replica(uow, completed.declaration_id, completed.applicant)
    replica.stage, replica.stage_at = ENDED, completed.at
    uow.session.flush()


def _replica(uow: UnitOfWork, declaration_id: str, applicant: str) -> DeclarationReplica:
    replica = uow.session.get(DeclarationReplica, declaration_id)
    if replica is None:
        replica = DeclarationReplica(declaration_id=declaration_id, applicant=applicant)
        uow.session.add(replica)
    return replica


def send_from_organisation(
    uow: UnitOfWork, principal: Principal, declaration_id: str, subject: str, content: str
) -> Message:
    """Staff write to the applicant of a declaration that passed through their organisation, nobody else."""
    if principal.role not in ORGANISATION_ROLES or not principal.organisation:
        raise Forbidden.on("declaration_id", "organisation_staff", "only organisation staff send messages (发送消息)")
    replica = uow.session.get(DeclarationReplica, declaration_id)
    involved = uow.session.get(DeclarationOrganisation, (declaration_id, principal.organisation))
    if replica is None or involved is None:
        # Not one of theirs: say so without telling whether the declaration exists.
        raise Forbidden.on(
            "declaration_id",
            "own_declaration",
            "you may write only to applicants of declarations that passed through your organisation"
            " (只能给本单位经手的申报人发送消息)",
        )
    sender = principal.name or principal.organisation
    return deliver(
        uow,
        replica.applicant,
        "organisation_message",
        {"declaration_id": declaration_id, "subject": subject, "content": content, "sender": sender},
        sender=principal.organisation,
    )
