"""Review activities (评审活动): set up by a committee office, queried by applicants."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select

from services.declaration import catalogue, clock, replicas
from services.declaration.models import Activity, Declaration
from shared import decisions
from shared.errors import DomainError, Forbidden, NotFound
from shared.identity.principal import APPLICANT, COMMITTEE, TITLE_OFFICE, Principal
from shared.uow import UnitOfWork

LIST_SCOPE = (
    ("level", "levels"),
    ("specialty", "specialties"),
    ("qualification_name", "qualification_names"),
    ("category", "categories"),
)


def _deadline(value: dt.date | dt.datetime) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise DomainError.on("deadline", "timezone", "a deadline time needs its UTC offset (时区)")
        return value.astimezone(dt.UTC)
    return clock.end_of_day(value)


def owner(activity: Activity) -> str:
    return activity.owner_organisation or activity.committee_code


def known_unit(uow: UnitOfWork, subject: str) -> str | None:
    """The applicant's current unit: as the profile last announced it (profile.employment.changed.v1),
    else as their latest snapshot here says (no cross-service reads)."""
    announced = replicas.employment(uow, subject)
    if announced is not None:
        return announced.unit_code  # None: they have no current employer
    snapshots = uow.session.scalars(
        select(Declaration.snapshot)
        .where(Declaration.applicant == subject, Declaration.snapshot.is_not(None))
        .order_by(Declaration.created_at.desc())
        .limit(1)
    )
    latest = next(iter(snapshots), None)
    return (latest or {}).get("unit_code")


def visible(uow: UnitOfWork, principal: Principal, activity: Activity, unit: str | None = None) -> bool:
    """Independent-review activities are for the committee organisation's own staff only."""
    if activity.mode != "independent_review":
        return True
    if principal.role == APPLICANT:
        return (unit or known_unit(uow, principal.subject)) == owner(activity)
    return principal.role == TITLE_OFFICE or principal.organisation in (owner(activity), activity.committee_code)


def ongoing(uow: UnitOfWork, principal: Principal, filters: dict[str, Any]) -> list[Activity]:
    now = clock.now()
    query = select(Activity).where(Activity.opens_on <= clock.today(), Activity.modification_deadline >= now)
    for column in ("mode", "series"):
        if filters.get(column):
            query = query.where(getattr(Activity, column) == filters[column])
    found = list(uow.session.scalars(query.order_by(Activity.initial_deadline, Activity.id)))
    # List-valued scope fields are filtered here so the query stays portable.
    for key, column in LIST_SCOPE:
        if filters.get(key):
            found = [a for a in found if filters[key] in getattr(a, column)]
    unit = known_unit(uow, principal.subject) if principal.role == APPLICANT else None
    return [a for a in found if visible(uow, principal, a, unit)]


def get(uow: UnitOfWork, activity_id: str) -> Activity:
    found = uow.session.get(Activity, activity_id)
    if found is None:
        raise NotFound.on("activity_id", "exists", f"review activity {activity_id} does not exist (评审活动不存在)")
    return found


def get_visible(uow: UnitOfWork, principal: Principal, activity_id: str) -> Activity:
    found = get(uow, activity_id)
    if not visible(uow, principal, found):
        # Not found rather than forbidden: its existence is the other organisation's business.
        raise NotFound.on("activity_id", "exists", f"review activity {activity_id} does not exist (评审活动不存在)")
    return found


def own(uow: UnitOfWork, principal: Principal, activity_id: str) -> Activity:
    found = get(uow, activity_id)
    if principal.organisation != found.committee_code:
        raise Forbidden.on(
            "activity_id",
            "own_activity",
            "a committee office manages only its own activities (只能管理本评委会的评审活动)",
        )
    return found


def mine(uow: UnitOfWork, principal: Principal) -> list[Activity]:
    return list(
        uow.session.scalars(
            select(Activity)
            .where(Activity.committee_code == principal.organisation)
            .order_by(Activity.opens_on.desc(), Activity.id)
        )
    )


def _validate(uow: UnitOfWork, fields: dict[str, Any]) -> None:
    if fields["mode"] == "independent_appointment":
        raise DomainError.on(
            "mode", "review_mode", "independent appointment has no review activity (自主聘任无需评审活动)"
        )
    entry = catalogue.series(uow, fields["series"])
    ladder = [lv["level"] for lv in entry.levels]
    for level in fields["levels"]:
        if level not in ladder:
            raise DomainError.on("levels", "in_catalogue", f"level {level} is not in the {entry.name} ladder (层级)")
    names = {n for level in fields["levels"] for n in catalogue.qualification_names(entry, level)}
    for name in fields["qualification_names"]:
        if name not in names:
            raise DomainError.on(
                "qualification_names",
                "in_catalogue",
                f"{name} is not a qualification name of the chosen levels (资格名称)",
            )
    for specialty in fields["specialties"]:
        if specialty not in entry.specialties:
            raise DomainError.on(
                "specialties", "in_catalogue", f"specialty {specialty} is not in the {entry.name} series (专业)"
            )
    codes = {t.code for t in catalogue.terms(uow, "category")}
    for category in fields["categories"]:
        if category not in codes:
            raise DomainError.on("categories", "in_catalogue", f"unknown category {category} (申报类别)")
    for category in fields.get("exception_conditions") or {}:
        if category not in fields["categories"]:
            raise DomainError.on(
                "exception_conditions",
                "in_scope",
                f"conditions given for {category}, which the activity does not accept (申报类别)",
            )
    for level in fields.get("defence_levels") or []:
        if level not in fields["levels"]:
            raise DomainError.on("defence_levels", "in_scope", f"defence level {level} is not in scope (答辩层级)")
    opens = clock.start_of_day(fields["opens_on"])
    if not opens <= fields["initial_deadline"] <= fields["modification_deadline"]:
        raise DomainError.on(
            "modification_deadline",
            "order",
            "opening, initial deadline and modification deadline must come in that order "
            "(开始时间、初次提交截止时间、修改提交截止时间顺序有误)",
        )
    _by_the_tables(fields)
    _authorised(uow, fields)


# An activity's own settings and the decision table in bpmn/ that decides each (the review process
# evaluates the same tables): setting, decision id, the table's input, its output.
RULED_SETTINGS = (
    ("publicity_working_days", "publicity_days", "activity_publicity_working_days", "publicity_working_days"),
    ("vote", "pass_threshold", "activity_pass_threshold", "pass_threshold"),
    ("panel_size", "panel_size", "activity_panel_size", "panel_size"),
)


def _vote(fields: dict[str, Any]) -> list[int] | None:
    numerator, denominator = fields.get("vote_numerator"), fields.get("vote_denominator")
    if (numerator is None) != (denominator is None):
        raise DomainError.on(
            "vote_numerator",
            "both",
            "give the pass threshold's numerator and denominator together, or neither (表决通过比例)",
        )
    if numerator is not None and numerator > denominator:
        raise DomainError.on(
            "vote_numerator",
            "at_most_one",
            "the pass threshold is a share of the experts present: at most all of them (不得超过1)",
        )
    return None if numerator is None or denominator is None else [numerator, denominator]


def _by_the_tables(fields: dict[str, Any]) -> None:
    """An activity may set stricter values than the decision tables, never looser (the city may tighten
    the regulation's thresholds, not relax them); what it leaves out is the table's value as of now, kept
    with the activity (its published settings). The review process applies the tables again, so a floor
    raised later holds too."""
    for setting, decision, given, output in RULED_SETTINGS:
        own = _vote(fields) if setting == "vote" else fields.get(setting)
        effective = decisions.decide(decision, {given: own})[output]
        if own is not None and effective != own:
            floor = decisions.decide(decision, {given: None})[output]
            field = "vote_numerator" if setting == "vote" else setting
            shown = f"{floor[0]}/{floor[1]}" if setting == "vote" else floor
            raise DomainError.on(
                field,
                "not_looser",
                f"{setting.replace('_', ' ')} may be stricter than {shown}, not looser "
                f"(不得低于{shown}; the rule is bpmn/{decision}.dmn)",
            )
        if own is None:
            if setting == "vote":
                fields["vote_numerator"], fields["vote_denominator"] = effective
            else:
                fields[setting] = effective
    # Service levels are settable per stage (each review stage has its own time limit): the table names the stages and the plan's
    # levels; the activity's own levels replace those it gives.
    own = fields.get("service_levels") or {}
    levels = decisions.decide("service_levels", {"activity_service_levels": own})["service_levels"]
    unknown = sorted(set(own) - set(levels))
    if unknown:
        raise DomainError.on(
            "service_levels",
            "known_stage",
            f"no service level is kept for {', '.join(unknown)}; the stages are "
            f"{', '.join(levels)} (办理时限; bpmn/service_levels.dmn)",
        )
    fields["service_levels"] = levels


def _authorised(uow: UnitOfWork, fields: dict[str, Any]) -> None:
    """The title office's authorisation of the committee, as the directory registered it: the committee
    exists, the activity's scope lies within its authorised series, levels and specialties, and an
    independent review belongs to the committee's own organisation. Fills in the directory's name and
    owner (a request may repeat them, not change them)."""
    code = fields["committee_code"]
    registered = replicas.committee(uow, code)
    if registered is None:
        raise DomainError.on(
            "committee_code",
            "registered_committee",
            f"committee {code} is not registered in the directory as a review committee "
            "(评委会未在目录中登记); the title office registers it first",
        )
    if fields.get("committee_name") not in (None, registered.name):
        raise DomainError.on(
            "committee_name",
            "registered_name",
            f"{fields['committee_name']} is not the committee's registered name {registered.name} (评委会名称)",
        )
    fields["committee_name"] = registered.name
    scope = registered.scope
    if scope is None:
        raise DomainError.on(
            "series",
            "authorised_scope",
            f"the title office has authorised committee {registered.name} for no series yet (评委会未获评审范围授权)",
        )
    checks = [
        ("series", [fields["series"]], scope.get("series") or [], "系列"),
        ("levels", fields["levels"], scope.get("levels") or [], "层级"),
    ]
    if scope.get("specialties"):  # none listed: every specialty of the authorised series
        checks.append(("specialties", fields["specialties"], scope["specialties"], "专业"))
    for field, given, authorised, term in checks:
        outside = [value for value in given if value not in authorised]
        if outside:
            raise DomainError.on(
                field,
                "authorised_scope",
                f"{', '.join(outside)} is outside the scope the title office authorised for "
                f"{registered.name}: {', '.join(authorised) or 'none'} (超出评审范围授权: {term})",
            )
    if fields["mode"] != "independent_review":
        if fields.get("owner_organisation"):
            raise DomainError.on(
                "owner_organisation",
                "independent_review_only",
                "only an independent-review activity belongs to an organisation (自主评审单位)",
            )
        fields["owner_organisation"] = None
        return
    if registered.owner is None:
        raise DomainError.on(
            "owner_organisation",
            "committee_owner",
            f"the directory records no organisation for committee {registered.name}; an "
            "independent review needs one, registered by the title office (自主评审单位未登记)",
        )
    if fields.get("owner_organisation") not in (None, registered.owner):
        raise DomainError.on(
            "owner_organisation",
            "committee_owner",
            f"{fields['owner_organisation']} is not the committee's organisation; the directory "
            f"records {registered.owner} (自主评审单位以目录为准)",
        )
    fields["owner_organisation"] = registered.owner


def save(uow: UnitOfWork, fields: dict[str, Any], validate: bool = True) -> Activity:
    """Create or replace an activity (the committee office's form, or the seed)."""
    fields = dict(fields)
    for key in ("initial_deadline", "modification_deadline"):
        fields[key] = _deadline(fields[key])
    if validate:
        _validate(uow, fields)  # may fill in the directory's committee name and owner
    else:
        _by_the_tables(fields)  # fills in what the seed leaves out
    found = uow.session.get(Activity, fields["id"])
    if found is None:
        found = Activity(id=fields["id"])
        uow.session.add(found)
    for key, value in fields.items():
        setattr(found, key, value)
    uow.session.flush()
    return found


def create(uow: UnitOfWork, principal: Principal, fields: dict[str, Any]) -> Activity:
    if principal.role != COMMITTEE:
        raise Forbidden("only a review committee office sets up activities (评委会)")
    return save(uow, {**fields, "id": str(uuid.uuid4()), "committee_code": principal.organisation})


def update(uow: UnitOfWork, principal: Principal, activity_id: str, fields: dict[str, Any]) -> Activity:
    found = own(uow, principal, activity_id)
    return save(uow, {**fields, "id": found.id, "committee_code": found.committee_code})


def settings(activity: Activity | None, level: str) -> dict[str, Any]:
    """What the review process needs from the activity (declaration.submitted.v1 ``settings``): its own
    values, which the review's decision tables take as stricter settings (None: the tables decide)."""
    if activity is None:  # independent appointment: defaults only
        return {
            "defence_levels": [],
            "defence_required": False,
            "publicity_working_days": None,
            "vote_threshold_numerator": None,
            "vote_threshold_denominator": None,
            "service_levels": None,
            "panel_size": None,
        }
    return {
        "defence_levels": list(activity.defence_levels or []),
        "defence_required": level in (activity.defence_levels or []),
        "publicity_working_days": activity.publicity_working_days,
        "vote_threshold_numerator": activity.vote_numerator,
        "vote_threshold_denominator": activity.vote_denominator,
        "service_levels": dict(activity.service_levels or {}),
        "panel_size": activity.panel_size,
        "initial_deadline": activity.initial_deadline.isoformat(),
        "modification_deadline": activity.modification_deadline.isoformat(),
    }
