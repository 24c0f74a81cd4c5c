"""The declaration service layer: activities and the life of a declaration."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from sqlalchemy import RowMapping, Select, and_, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from services.declaration import (
    activities,
    attachments,
    catalogue,
    clock,
    content,
    eligibility,
    integrity,
    lifecycle,
    replicas,
)
from services.declaration.lifecycle import DeclarationStatus
from services.declaration.models import Activity, Declaration, TrailEntry
from shared.contracts.declaration import Resubmitted, ReturnForRevision, Submitted, Withdrawn
from shared.contracts.profile import IdentityCorrected, Snapshot, SnapshotRefused, TakeSnapshot
from shared.contracts.review import Completed, DecisionRecorded, StageChanged, TaskClaimed
from shared.db import utcnow
from shared.errors import Conflict, DomainError, Forbidden, NotFound
from shared.identity.principal import APPLICANT, COMMITTEE, DEPARTMENT, TITLE_OFFICE, UNIT, Principal
from shared.paging import paged
from shared.prepared import Prepared
from shared.uow import UnitOfWork

# Independent appointment has no activity; the review service sees this in activity_id.
APPOINTMENT_ACTIVITY = "independent_appointment"

# The unit's first task of a round, per diagram (unit check; the employer's agreement to appoint).
UNIT_FIRST_STAGES = ("unit_check", "unit_appointment")
STAFF = (UNIT, DEPARTMENT, COMMITTEE, TITLE_OFFICE)


def today() -> dt.date:
    return clock.today()  # deadlines are Beijing days


def ongoing_activities(uow: UnitOfWork, filters: dict[str, Any], principal: Principal | None = None) -> list[Activity]:
    return activities.ongoing(uow, principal or Principal(subject="", role=TITLE_OFFICE), filters)


def activity(uow: UnitOfWork, activity_id: str) -> Activity:
    return activities.get(uow, activity_id)


def _slot(applicant: str, activity_id: str | None, fields: dict[str, Any]) -> str:
    target = activity_id or f"appointment|{fields['series']}|{fields['level']}"
    return f"{applicant}|{target}"


def _claim_slot(uow: UnitOfWork, declaration: Declaration) -> None:
    """Insert under the unique live slot: of two concurrent creates one wins, the other is refused."""
    try:
        with uow.session.begin_nested():
            uow.session.add(declaration)
            uow.session.flush()
    except IntegrityError:
        raise Conflict.on(
            "activity_id",
            "one_live_declaration",
            "you already have a live declaration for this activity; withdraw or discard it first "
            "(同一评审活动只能有一份有效申报)",
        ) from None


def _live_exists(uow: UnitOfWork, slot: str) -> None:
    if uow.session.scalar(select(Declaration.id).where(Declaration.live_slot == slot)):
        raise Conflict.on(
            "activity_id",
            "one_live_declaration",
            "you already have a live declaration for this activity; withdraw or discard it first "
            "(同一评审活动只能有一份有效申报)",
        )


def create(uow: UnitOfWork, principal: Principal, fields: dict[str, Any]) -> Declaration:
    """Open a declaration against an ongoing activity (or an appointment) and ask for a profile snapshot."""
    integrity.refuse_if_recorded(uow, principal.subject)
    if fields.get("mode") == "independent_appointment" or not fields.get("activity_id"):
        return _create_appointment(uow, principal, fields)
    chosen = activities.get_visible(uow, principal, fields["activity_id"])
    now = clock.now()
    if not (clock.start_of_day(chosen.opens_on) <= now <= chosen.initial_deadline):
        raise Conflict.on(
            "activity_id",
            "ongoing",
            f"the activity accepts declarations from {chosen.opens_on} to "
            f"{clock.beijing(chosen.initial_deadline)} (不在申报时间内)",
        )
    for key, allowed, term in (
        ("level", chosen.levels, "层级"),
        ("specialty", chosen.specialties, "专业"),
        ("qualification_name", chosen.qualification_names, "资格名称"),
        ("category", chosen.categories, "申报类别"),
    ):
        if fields[key] not in allowed:
            raise DomainError.on(
                key, "in_activity_scope", f"{key} must be one of the activity's: {', '.join(allowed)} ({term})"
            )
    # Each choice within the activity's lists is not enough: the level, specialty and qualification name
    # must hold together in the catalogue (申报需求各项相互关联), as the activity's own lists were checked.
    catalogue.check_choice(uow, chosen.series, fields["level"], fields["specialty"], fields["qualification_name"])
    slot = _slot(principal.subject, chosen.id, fields)
    _live_exists(uow, slot)
    declaration = Declaration(
        id=str(uuid.uuid4()),
        applicant=principal.subject,
        activity_id=chosen.id,
        mode=chosen.mode,
        series=chosen.series,
        level=fields["level"],
        specialty=fields["specialty"],
        qualification_name=fields["qualification_name"],
        category=fields["category"],
        status=lifecycle.START.value,
        live_slot=slot,
    )
    _claim_slot(uow, declaration)
    _ask_for_snapshot(uow, declaration)
    return declaration


def _create_appointment(uow: UnitOfWork, principal: Principal, fields: dict[str, Any]) -> Declaration:
    """Independent appointment (自主聘任): no committee activity, only where the catalogue allows it."""
    missing = [key for key in ("series", "level", "specialty", "qualification_name") if not fields.get(key)]
    if missing:
        raise DomainError.on(
            missing[0],
            "required",
            f"an appointment request names its {missing[0]} (自主聘任须选择系列、层级、专业、资格名称)",
        )
    entry = catalogue.check_choice(
        uow, fields["series"], fields["level"], fields["specialty"], fields["qualification_name"]
    )
    if not catalogue.appointable(entry, fields["level"], fields["specialty"]):
        raise DomainError.on(
            "level",
            "appointable",
            f"{fields['series']} {fields['level']} {fields['specialty']} may not be appointed "
            "independently (该系列层级专业不可自主聘任)",
        )
    if fields["category"] != "normal":
        raise DomainError.on(
            "category", "in_activity_scope", "an appointment request is a normal declaration (自主聘任仅限正常申报)"
        )
    slot = _slot(principal.subject, None, fields)
    _live_exists(uow, slot)
    declaration = Declaration(
        id=str(uuid.uuid4()),
        applicant=principal.subject,
        activity_id=None,
        mode="independent_appointment",
        series=fields["series"],
        level=fields["level"],
        specialty=fields["specialty"],
        qualification_name=fields["qualification_name"],
        category="normal",
        status=lifecycle.START.value,
        live_slot=slot,
    )
    _claim_slot(uow, declaration)
    _ask_for_snapshot(uow, declaration)
    return declaration


def _ask_for_snapshot(uow: UnitOfWork, declaration: Declaration) -> None:
    """A new declaration waits (preparing) for the profile service's snapshot of its applicant."""
    uow.publish(
        TakeSnapshot(declaration_id=declaration.id, applicant=declaration.applicant), correlation_id=declaration.id
    )


def _load(uow: UnitOfWork, declaration_id: str, lock: bool = False) -> Declaration:
    declaration = uow.session.scalar(_by_id(lock), {"declaration_id": declaration_id})
    if declaration is None:
        raise NotFound.on("declaration_id", "exists", f"declaration {declaration_id} does not exist")
    return declaration


@functools.cache
def _by_id(lock: bool) -> Select[Any]:
    """A declaration by its id (locked: ``FOR UPDATE``), the statement built once for every request."""
    query = select(Declaration).where(Declaration.id == bindparam("declaration_id"))
    return query.with_for_update() if lock else query


def own(uow: UnitOfWork, principal: Principal, declaration_id: str, lock: bool = False) -> Declaration:
    declaration = _load(uow, declaration_id, lock)
    if declaration.applicant != principal.subject:
        raise Forbidden.on("declaration_id", "own_declaration", "an applicant sees only their own declarations")
    return declaration


def organisations_passed(uow: UnitOfWork, declaration: Declaration) -> set[str]:
    """Where the declaration is or has been: its unit once submitted, the current stage, the trail."""
    passed = {o for o in uow.session.scalars(_TRAIL_ORGANISATIONS, {"declaration_id": declaration.id}) if o is not None}
    if declaration.stage_organisation:
        passed.add(declaration.stage_organisation)
    if declaration.submitted_at is not None and declaration.unit_code:
        passed.add(declaration.unit_code)  # a submission goes to the unit first
    return passed


_TRAIL_ORGANISATIONS = select(TrailEntry.organisation).where(
    TrailEntry.declaration_id == bindparam("declaration_id"), TrailEntry.organisation.is_not(None)
)


def _passed_through(organisation: str) -> Any:
    """The condition of organisations_passed as a query: at, or having passed through, ``organisation``."""
    return or_(
        Declaration.stage_organisation == organisation,
        and_(Declaration.submitted_at.is_not(None), Declaration.unit_code == organisation),
        Declaration.id.in_(select(TrailEntry.declaration_id).where(TrailEntry.organisation == organisation)),
    )


def at_my_organisation(
    uow: UnitOfWork, principal: Principal, page: int, per_page: int
) -> tuple[list[Declaration], int]:
    """Staff's list: every declaration they may open (the rule of ``visible``), newest activity first."""
    if principal.role not in STAFF or not principal.organisation:
        raise Forbidden.on("role", "staff_only", "only staff of an organisation have this list (仅限机构工作人员)")
    where = _passed_through(principal.organisation)
    return paged(
        uow, select(Declaration).where(where).order_by(Declaration.updated_at.desc(), Declaration.id), page, per_page
    )


def visible(uow: UnitOfWork, principal: Principal, declaration_id: str) -> Declaration:
    """An applicant sees their own; staff see one that is at, or has passed through, their organisation."""
    if principal.role == APPLICANT:
        return own(uow, principal, declaration_id)
    declaration = _load(uow, declaration_id)
    if principal.role not in STAFF or principal.organisation not in organisations_passed(uow, declaration):
        raise Forbidden.on(
            "declaration_id",
            "organisation_access",
            "staff see a declaration only while it is at or has passed through their organisation (无权查看该申报)",
        )
    return declaration


def mine(uow: UnitOfWork, principal: Principal, page: int, per_page: int) -> tuple[list[Declaration], int]:
    where = Declaration.applicant == principal.subject
    return paged(
        uow, select(Declaration).where(where).order_by(Declaration.created_at.desc(), Declaration.id), page, per_page
    )


def trail(uow: UnitOfWork, declaration_id: str) -> list[RowMapping]:
    """The declaration's trail, oldest first, as plain rows: a detail shows it on every look (the
    applicant's page polls it), and the ORM's objects for a few dozen entries cost more than the query."""
    return list(uow.session.execute(_TRAIL, {"declaration_id": declaration_id}).mappings())


_TRAIL = (
    select(TrailEntry.__table__)
    .where(TrailEntry.declaration_id == bindparam("declaration_id"))
    .order_by(TrailEntry.at, TrailEntry.id)
)


def _activity_of(uow: UnitOfWork, declaration: Declaration) -> Activity | None:
    return activities.get(uow, declaration.activity_id) if declaration.activity_id else None


def editable(uow: UnitOfWork, principal: Principal, declaration_id: str) -> tuple[Declaration, Activity | None]:
    declaration = own(uow, principal, declaration_id, lock=True)
    if not lifecycle.can(declaration.status, "edit"):
        raise Conflict.on(
            "status",
            "editable",
            f"a declaration is read only once submitted until it is returned; this one is "
            f"{declaration.status} (已提交的申报不可修改)",
        )
    return declaration, _activity_of(uow, declaration)


def save_draft(uow: UnitOfWork, principal: Principal, declaration_id: str, data: dict[str, Any]) -> Declaration:
    declaration, chosen = editable(uow, principal, declaration_id)
    content.update(uow, declaration, chosen, data)
    return declaration


def eligibility_of(uow: UnitOfWork, principal: Principal, declaration_id: str) -> dict[str, Any]:
    declaration = own(uow, principal, declaration_id)
    if declaration.snapshot is None:
        raise Conflict.on("status", "snapshot", "the profile snapshot has not arrived yet (档案快照未就绪)")
    chosen = _activity_of(uow, declaration)
    result = content.check_eligibility(declaration, chosen)
    offered = (chosen.exception_conditions or {}) if chosen else {}
    return {**result, "exception_categories": {k: v for k, v in offered.items()}}


def submit(uow: UnitOfWork, principal: Principal, declaration_id: str) -> Declaration:
    """Submit a draft before the initial deadline, or resubmit a returned one before
    the modification deadline; it goes through the chain again from the unit."""
    declaration = own(uow, principal, declaration_id, lock=True)
    if not lifecycle.can(declaration.status, "submit"):
        raise Conflict.on(
            "status",
            "draft_only",
            f"only a draft or a returned declaration can be submitted; this one is "
            f"{declaration.status} (仅草稿或退回的申报可提交)",
        )
    integrity.refuse_if_recorded(uow, principal.subject)
    chosen = _activity_of(uow, declaration)
    resubmission = declaration.status == DeclarationStatus.RETURNED
    now = clock.now()
    if chosen is not None:
        deadline = chosen.modification_deadline if resubmission else chosen.initial_deadline
        if now > deadline:
            term = "修改提交截止时间" if resubmission else "初次提交截止时间"
            raise Conflict.on(
                "activity_id",
                "modification_deadline" if resubmission else "initial_deadline",
                f"the {'modification' if resubmission else 'initial'} submission deadline "
                f"{clock.beijing(deadline)} has passed (已过{term})",
            )
    errors = content.completeness(uow, declaration, chosen)
    if errors:
        raise DomainError("the declaration is not complete (申报材料不完整)", errors)
    snapshot = declaration.snapshot or {}
    lifecycle.move(declaration, "submit")
    declaration.submitted_at = now
    declaration.unit_started_at = None  # a new round: withdrawable until the unit starts on it
    declaration.return_reason = declaration.returned_at = declaration.returned_by = None
    message = Resubmitted if resubmission else Submitted
    uow.publish(
        message(
            declaration_id=declaration.id,
            applicant=declaration.applicant,
            applicant_name=snapshot["name"],
            id_number=snapshot["id_number"],
            unit_code=snapshot["unit_code"],
            activity_id=chosen.id if chosen else APPOINTMENT_ACTIVITY,
            committee_code=chosen.committee_code if chosen else None,
            committee_name=chosen.committee_name if chosen else None,
            mode=declaration.mode,
            series=declaration.series,
            level=declaration.level,
            specialty=declaration.specialty,
            qualification_name=declaration.qualification_name,
            category=declaration.category,
            panel_size=chosen.panel_size if chosen else 1,
            submitted_at=declaration.submitted_at.isoformat(),
            settings=activities.settings(chosen, declaration.level),
            # What reviewers read in their tasks, frozen as of this submission.
            content=submitted_content(uow, declaration),
            # The files the organisations it reaches may open (all checked as the applicant's above).
            attachment_ids=attachments.ids(content.references(uow, declaration)),
            # The Beijing day of the deadline (the contract's date); the instant is in settings.
            modification_deadline=chosen.modification_deadline.astimezone(clock.BEIJING).date().isoformat()
            if chosen is not None
            else None,
        ),
        correlation_id=declaration.id,
    )
    return declaration


def submitted_content(uow: UnitOfWork, declaration: Declaration) -> dict[str, Any]:
    return {
        "snapshot": declaration.snapshot,
        "items": [
            {
                "id": item.id,
                "item_type": item.item_type,
                "fields": item.fields,
                "attachments": item.attachments,
                "representative": item.representative,
            }
            for item in content.items(uow, declaration.id)
        ],
        "exception_claims": declaration.exception_claims,
        "employer_proof": declaration.employer_proof,
        "sections": declaration.sections,
        "materials": declaration.materials,
        "eligibility": declaration.eligibility,
        # What the reviewers are warned of (an unrelated current specialty where the activity only warns).
        "warnings": list((declaration.eligibility or {}).get("warnings") or []),
    }


def withdraw(uow: UnitOfWork, principal: Principal, declaration_id: str) -> Declaration:
    """撤回: only while the unit has not started its check; the review service cancels the process."""
    declaration = own(uow, principal, declaration_id, lock=True)
    refusal = _withdrawal_refused(declaration)
    if refusal is not None:
        raise refusal
    now = clock.now()
    lifecycle.move(declaration, "withdraw")
    declaration.withdrawn_at, declaration.live_slot = now, None
    declaration.stage, declaration.stage_name, declaration.stage_organisation = "withdrawn", "Withdrawn (已撤回)", None
    uow.session.add(
        TrailEntry(
            declaration_id=declaration.id, kind="withdrawal", actor=principal.subject, decision="withdraw", at=now
        )
    )
    uow.publish(
        Withdrawn(declaration_id=declaration.id, applicant=declaration.applicant, at=now.isoformat()),
        correlation_id=declaration.id,
    )
    return declaration


def discard(uow: UnitOfWork, principal: Principal, declaration_id: str) -> Declaration:
    """废弃: drafts only; the row stays (as discarded) and frees the activity for a new declaration."""
    declaration = own(uow, principal, declaration_id, lock=True)
    if not lifecycle.can(declaration.status, "discard"):
        raise Conflict.on(
            "status", "draft_only", f"only a draft can be discarded; this one is {declaration.status} (仅草稿可废弃)"
        )
    lifecycle.move(declaration, "discard")
    declaration.live_slot = None
    return declaration


# -- effects of other services' messages ----------------------------------------


def _declaration(uow: UnitOfWork, declaration_id: str) -> Declaration:
    declaration = uow.session.get(Declaration, declaration_id)
    if declaration is None:
        raise NotFound(f"declaration {declaration_id} does not exist")
    return declaration


declaration_of = _declaration  # for the other modules' message effects (re_examination.py)


def snapshot_taken(uow: UnitOfWork, declaration_id: str, snapshot: Snapshot) -> None:
    declaration = _declaration(uow, declaration_id)
    if not lifecycle.can(declaration.status, "accept_snapshot"):
        return
    # A copy of its own: later profile edits never reach it, and its edits never reach the profile.
    declaration.snapshot = snapshot.dump()
    replicas.snapshot_attachments(uow, declaration.applicant, snapshot)
    declaration.unit_code = snapshot.unit_code
    chosen = uow.session.get(Activity, declaration.activity_id) if declaration.activity_id else None
    if chosen is not None and chosen.mode == "independent_review" and snapshot.unit_code != activities.owner(chosen):
        lifecycle.move(declaration, "refuse")
        declaration.live_slot = None
        declaration.refusal_reason = (
            "only staff of the committee's own organisation may declare in an "
            "independent review (自主评审仅限本单位人员申报)"
        )
        return
    lifecycle.move(declaration, "accept_snapshot")
    if eligibility.category_needs(declaration.category)["normal_conditions"]:
        content.check_eligibility(declaration, chosen)


def identity_corrected(uow: UnitOfWork, corrected: IdentityCorrected) -> None:
    """The title office corrected the applicant's registered identity. A snapshot stays as it was taken
    (it is independent of the profile); each live declaration holding one notes the correction in its
    trail, so the applicant and the staff who see it know the registered data changed."""
    live = uow.session.scalars(
        select(Declaration).where(Declaration.applicant == corrected.subject, Declaration.live_slot.is_not(None))
    )
    term = {"name": "name (姓名)", "id_number": "ID number (证件号码)"}.get(corrected.field, corrected.field)
    for declaration in live:
        if declaration.snapshot is None:
            continue  # still preparing: its snapshot, when it comes, carries the corrected data
        uow.session.add(
            TrailEntry(
                declaration_id=declaration.id,
                kind="identity",
                actor=corrected.by,
                decision="identity_corrected",
                reason=f"the title office corrected the registered {term} from {corrected.old} to {corrected.new}: "
                f"{corrected.reason}; this declaration keeps the data of its snapshot (身份信息已更正)",
                at=_at(corrected.at),
            )
        )


def snapshot_refused(uow: UnitOfWork, refused: SnapshotRefused) -> None:
    declaration = _declaration(uow, refused.declaration_id)
    if lifecycle.can(declaration.status, "refuse"):
        lifecycle.move(declaration, "refuse")
        declaration.live_slot = None
        declaration.refusal_reason = refused.reason


def _at(value: str) -> dt.datetime:
    return dt.datetime.fromisoformat(value)


def withdrawable(declaration: Declaration) -> bool:
    """撤回 only while submitted and the unit has not started on this round ("单位尚未审核")."""
    return _withdrawal_refused(declaration) is None


def _withdrawal_refused(declaration: Declaration) -> Conflict | None:
    """Why the applicant may not withdraw now, or None: what the API shows and what withdraw refuses."""
    if not lifecycle.can(declaration.status, "withdraw"):
        return Conflict.on(
            "status",
            "withdrawable",
            f"only a submitted declaration can be withdrawn; this one is {declaration.status} (仅已提交的申报可撤回)",
        )
    if declaration.unit_started_at is not None:
        return Conflict.on(
            "status",
            "unit_started",
            "the work unit has started its check or decided on it; the declaration can no longer "
            "be withdrawn (单位已开始审核，不可撤回)",
        )
    return None


# A stage reached, a decision recorded, a task claimed: their trail entries in Core, inserted at once. Nothing in
# those effects reads an entry back, and through the ORM each cost a flush of its own to fetch its generated id.
# Every column is given (None where the message says nothing of it), so one compiled statement serves them all.
_FROM_MESSAGE = ("stage", "stage_name", "organisation", "actor", "decision", "reason")
_TRAIL_INSERT = Prepared(insert(TrailEntry).inline(), (*_FROM_MESSAGE, "declaration_id", "kind", "at"))


def _trail(uow: UnitOfWork, declaration_id: str, kind: str, message: Any, at: dt.datetime) -> None:
    """A trail entry of a declaration stored already (the entry's key refers to its row), with what the review's
    message says of the stage, the organisation, the actor, the decision and its reason."""
    entry = {column: getattr(message, column, None) for column in _FROM_MESSAGE}
    _TRAIL_INSERT.execute(uow.session.connection(), {**entry, "declaration_id": declaration_id, "kind": kind, "at": at})


# A stage reached, a decision recorded, a task claimed (about 35 messages a review) each change at most a few plain
# columns of the declaration: those are read and written in Core, the rules applied to them as to the ORM object.
# Loading the declaration through the ORM and flushing it back was about half of such a delivery.
_UNDER_REVIEW = ("status", "submitted_at", "unit_started_at", "stage", "stage_name", "stage_organisation", "stage_at")


class _UnderReview(SimpleNamespace):
    """A declaration's columns that the review's messages read and change (``_UNDER_REVIEW``)."""

    status: str
    submitted_at: dt.datetime | None
    unit_started_at: dt.datetime | None
    stage_at: dt.datetime | None


@functools.cache
def _under_review_read() -> Select[Any]:
    table = Declaration.__table__
    return select(*(table.c[column] for column in _UNDER_REVIEW)).where(table.c.id == bindparam("declaration_id"))


@functools.lru_cache(maxsize=64)
def _under_review_write(columns: frozenset[str]) -> Prepared:
    """The UPDATE of ``columns`` and ``updated_at`` (given, as the column's ``onupdate`` would set it)."""
    values: dict[str, Any] = {column: bindparam(f"new_{column}") for column in sorted(columns | {"updated_at"})}
    return Prepared(update(Declaration).where(Declaration.id == bindparam("declaration_id")).values(values))


@contextlib.contextmanager
def _under_review(uow: UnitOfWork, declaration_id: str) -> Iterator[_UnderReview]:
    """The declaration's review columns, and afterwards the UPDATE of those the caller changed (none: no
    statement, and ``updated_at`` stays, as the ORM would leave it)."""
    row = uow.session.connection().execute(_under_review_read(), {"declaration_id": declaration_id}).first()
    if row is None:
        raise NotFound(f"declaration {declaration_id} does not exist")
    before = dict(row._mapping)
    declaration = _UnderReview(**before)
    yield declaration
    changed = {column: value for column, value in vars(declaration).items() if value != before[column]}
    if changed:
        _under_review_write(frozenset(changed)).execute(
            uow.session.connection(),
            {
                "declaration_id": declaration_id,
                "new_updated_at": utcnow(),
                **{f"new_{column}": value for column, value in changed.items()},
            },
        )


def _unit_started(declaration: _UnderReview, at: dt.datetime) -> None:
    """The unit acted on the current round (a message of an earlier round, arriving late, does not count)."""
    current_round = declaration.submitted_at is not None and at >= declaration.submitted_at
    if current_round and declaration.unit_started_at is None:
        declaration.unit_started_at = at


def stage_changed(uow: UnitOfWork, changed: StageChanged) -> None:
    with _under_review(uow, changed.declaration_id) as declaration:
        at = _at(changed.at)
        _trail(uow, changed.declaration_id, "stage", changed, at)
        if changed.stage not in UNIT_FIRST_STAGES:
            _unit_started(declaration, at)  # the process moved past the unit's first task: it was decided
        # Messages of different queues may arrive out of order: the latest stage wins.
        newer = declaration.stage_at is None or at >= declaration.stage_at
        if lifecycle.can(declaration.status, "reach_stage") and newer:
            lifecycle.move(declaration, "reach_stage")
            declaration.stage, declaration.stage_name = changed.stage, changed.stage_name
            declaration.stage_organisation, declaration.stage_at = changed.organisation, at


def decision_recorded(uow: UnitOfWork, recorded: DecisionRecorded) -> None:
    with _under_review(uow, recorded.declaration_id) as declaration:
        at = _at(recorded.at)
        _trail(uow, recorded.declaration_id, "decision", recorded, at)
        # The unit decides first in every round: any decision of this round means it has acted, claimed or not.
        _unit_started(declaration, at)


def returned_for_revision(uow: UnitOfWork, command: ReturnForRevision) -> None:
    """The review returned the declaration: editable again, with the reason shown."""
    declaration = _declaration(uow, command.declaration_id)
    at = _at(command.at)
    uow.session.add(
        TrailEntry(
            declaration_id=declaration.id,
            kind="return",
            stage=command.stage,
            stage_name=command.stage_name,
            organisation=command.organisation,
            actor=command.actor,
            decision="return",
            reason=command.reason,
            at=at,
        )
    )
    if lifecycle.can(declaration.status, "return"):
        lifecycle.move(declaration, "return")
        declaration.return_reason, declaration.returned_at = command.reason, at
        declaration.returned_by = command.organisation
        declaration.stage, declaration.stage_name = "returned", "Returned for revision (退回修改)"
        declaration.stage_organisation, declaration.stage_at = None, at


def review_completed(uow: UnitOfWork, completed: Completed) -> None:
    declaration = _declaration(uow, completed.declaration_id)
    uow.session.add(
        TrailEntry(declaration_id=declaration.id, kind="outcome", decision=completed.outcome, at=_at(completed.at))
    )
    declaration.outcome = completed.outcome
    declaration.live_slot = None
    if not lifecycle.can(declaration.status, "complete"):
        return  # withdrawn or discarded: the process was cancelled because of that, and it stays so
    lifecycle.move(declaration, "complete")
    declaration.stage, declaration.stage_name, declaration.stage_organisation = "completed", "Completed (已完成)", None


def task_claimed(uow: UnitOfWork, claimed: TaskClaimed) -> None:
    """The unit's claim of its check ends the applicant's right to withdraw (this round)."""
    with _under_review(uow, claimed.declaration_id) as declaration:
        at = _at(claimed.at)
        _trail(uow, claimed.declaration_id, "claim", claimed, at)
        if claimed.stage in UNIT_FIRST_STAGES:
            _unit_started(declaration, at)


def save_activity(uow: UnitOfWork, fields: dict[str, Any]) -> Activity:
    """Store an activity as given (seed and tests); the committee's form goes through activities.create."""
    return activities.save(uow, fields, validate=False)
