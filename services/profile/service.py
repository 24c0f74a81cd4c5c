"""The profile service layer: the applicant's own profile, section by section, with every rule."""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, bindparam, select, true
from sqlalchemy.exc import IntegrityError

from services.profile import access, pdfs
from services.profile import attachments as files
from services.profile import register as education_register
from services.profile.directory import (
    organisations,  # noqa: F401 - the API's entry points
)
from services.profile.models import (
    AnnualAssessment,
    Attachment,
    Certificate,
    ContinuingEducation,
    Education,
    IdentityCorrection,
    Organisation,
    Profile,
    SocialPost,
    WorkExperience,
)
from services.profile.rules import (
    ORG_KINDS,  # noqa: F401 - ORG_KINDS
    STATE_OWNED,
    WORK_STATUSES,
)  # and WORK_STATUSES re-exported for the API
from shared import clock, decisions
from shared.contracts.profile import (
    AttachmentStored,
    EmploymentChanged,
    IdentityCorrected,
    SnapshotRefused,
    SnapshotTaken,
)
from shared.errors import Conflict, DomainError, FieldError, Forbidden, NotFound
from shared.identifiers import RESIDENT_ID_TYPES, InvalidIdentifier, ResidentId, parse_resident_id
from shared.identity.principal import Principal
from shared.paging import Listing
from shared.uow import UnitOfWork

MAIN_WORK_MAX = 500
ADMIN_POST_MAX = 20


# -- the profile and identity ----------------------------------------------------


def profile_for(uow: UnitOfWork, principal: Principal) -> Profile:
    """The applicant's profile, created on first use from the verified token."""
    profile = uow.session.get(Profile, principal.subject)
    if profile is None:
        if not principal.name or not principal.id_number:
            raise DomainError.on(
                "token", "identity_claims", "The identity token carries no verified name and ID number (实名信息)"
            )
        try:
            # A savepoint: when a concurrent first request created the profile
            # meanwhile, only this insert is undone and theirs is used.
            with uow.session.begin_nested():
                profile = Profile(
                    subject=principal.subject,
                    name=principal.name,
                    id_number=principal.id_number,
                    id_type="resident_id",
                    nationality="中国",
                    on_establishment=False,
                    non_professional_years=0,
                    version=1,
                )
                _fill_from_id(profile)
                uow.session.add(profile)
                uow.session.flush()
                # 学信网 records arrive by themselves on the first sign-in (§三(一)2 "已由学信网自动导入");
                # the applicant refreshes them with the import endpoint.
                _import_register(uow, profile)
        except IntegrityError:
            profile = uow.session.get(Profile, principal.subject, populate_existing=True)
            if profile is None:
                raise
    return profile


def _fill_from_id(profile: Profile) -> None:
    """Birth date and gender follow a valid resident ID number."""
    if profile.id_type not in RESIDENT_ID_TYPES:
        return
    parsed = _resident_number(profile.id_number)
    if parsed is not None:
        profile.date_of_birth, profile.gender = parsed.birth_date, parsed.gender


def _resident_number(number: str) -> ResidentId | None:
    try:
        return parse_resident_id(number)
    except InvalidIdentifier:
        return None


def _id_disagreements(values: dict[str, Any], parsed: ResidentId) -> list[FieldError]:
    """Where the profile's ID type, birth date and gender disagree with a resident ID number
    (关联信息: they follow the number, which only the title office corrects)."""
    problems = []
    if values["id_type"] not in RESIDENT_ID_TYPES:
        problems.append(
            FieldError(
                "id_type",
                "agrees_with_id_number",
                "the registered ID number is a resident ID "
                "number, so the ID type is the resident ID card or household register; the "
                "title office corrects a wrong number (证件类型与证件号码不符)",
            )
        )
    if values["date_of_birth"] is not None and values["date_of_birth"] != parsed.birth_date:
        problems.append(
            FieldError(
                "date_of_birth",
                "agrees_with_id_number",
                "the date of birth differs from the one in the ID number (出生日期与身份证号码不符)",
            )
        )
    if values["gender"] is not None and values["gender"] != parsed.gender:
        problems.append(
            FieldError(
                "gender",
                "agrees_with_id_number",
                "the gender differs from the ID number, whose "
                "17th digit is odd for men and even for women (性别与身份证号码不符)",
            )
        )
    return problems


def _locked(uow: UnitOfWork, principal: Principal) -> Profile:
    """The caller's profile, row-locked: one change per applicant at a time, so rules are not raced. Read
    once, under its lock, where it exists (a change's first statement); made first where it does not."""
    profile = uow.session.get(Profile, principal.subject, with_for_update=True, populate_existing=True)
    if profile is None:
        profile = profile_for(uow, principal)
        uow.session.get(Profile, profile.subject, with_for_update=True, populate_existing=True)
    profile.version = (profile.version or 1) + 1
    return profile


def update_basic(uow: UnitOfWork, principal: Principal, data: dict[str, Any]) -> Profile:
    for managed in ("name", "id_number"):
        if data.get(managed) is not None:
            raise DomainError.on(
                managed,
                "identity_managed",
                f"{managed} comes from the identity platform; only "
                "the title office can correct it (姓名和证件号码由统一身份认证平台提供，不能修改)",
            )
    profile = _locked(uow, principal)
    merged = {key: getattr(profile, key) for key in BASIC_FIELDS}
    merged.update({k: v for k, v in data.items() if k in BASIC_FIELDS})
    parsed = _resident_number(profile.id_number)
    if parsed is None and merged["id_type"] in RESIDENT_ID_TYPES:
        try:
            parse_resident_id(profile.id_number)
        except InvalidIdentifier as exc:
            raise DomainError.on("id_number", exc.rule, exc.message + "; ask the title office to correct it") from None
    if parsed is not None:
        # A resident ID number decides birth date, gender and ID type, whatever else this request
        # changes (changing the type away from it does not free the other two).
        problems = _id_disagreements(merged, parsed)
        if problems:
            raise DomainError(
                "the basic information disagrees with the registered ID number (与身份证号码关联的信息不可修改)",
                problems,
            )
    post = merged["admin_post"]
    if post:
        if len(post) > ADMIN_POST_MAX:
            raise DomainError.on(
                "admin_post",
                "max_20_characters",
                "the administrative post has at most 20 characters (行政职务不超过20字)",
            )
        if "党" in post:
            raise DomainError.on(
                "admin_post", "no_party_post", "party posts are not administrative posts (行政职务不填党内职务)"
            )
    if "admin_post_level" in data or "on_establishment" in data:
        # checked when the level or the flag changes; a later change of employment shows in completeness
        problem = _post_level_problem(uow, profile.subject, merged["admin_post_level"], merged["on_establishment"])
        if problem:
            raise DomainError.on("admin_post_level", *problem)
    if data.get("photo_id") is not None:
        photo = _attachment(uow, profile.subject, data["photo_id"], "photo_id")
        if photo.content_type not in files.IMAGES:
            raise DomainError.on("photo_id", "photo_type", "the photo must be a JPEG or PNG image (照片须为JPG或PNG)")
        if photo.size > files.max_photo_bytes():
            raise DomainError.on(
                "photo_id", "photo_size", f"the photo is larger than {files.max_photo_bytes() // 1024} KB (照片过大)"
            )
    for key in BASIC_FIELDS:
        setattr(profile, key, merged[key])
    uow.session.flush()
    return profile


def _post_level_problem(
    uow: UnitOfWork, subject: str, level: str | None, on_establishment: bool
) -> tuple[str, str] | None:
    """Why an administrative post level (行政职务级别) is not allowed, as (rule, message); None if it is.

    It is only for staff on the establishment (编制内) of a state-owned unit: the applicant says they are on
    the establishment, and the unit of their current employment is state-owned in the directory.
    """
    if not level:
        return None
    if not on_establishment:
        return "establishment_only", (
            "an administrative post level is only for staff on the establishment of a "
            "state-owned unit; you are not on an establishment (行政职级仅限国有单位在编人员)"
        )
    current = current_employment(uow, subject)
    unit = uow.session.get(Organisation, current.unit_code) if current else None
    if unit is None:
        return "state_owned_unit", (
            "an administrative post level is only for staff of a state-owned unit; add your "
            "current employment at a registered unit first (行政职级仅限国有单位在编人员，"
            "请先填写在职单位)"
        )
    if unit.ownership not in STATE_OWNED:
        return "state_owned_unit", (
            f"an administrative post level is only for staff of a state-owned unit; the "
            f"directory does not register your unit {unit.name} as a public institution, "
            f"state enterprise or government body (行政职级仅限国有单位在编人员)"
        )
    return None


BASIC_FIELDS = (
    "id_type",
    "gender",
    "nationality",
    "ethnicity",
    "political_status",
    "mobile",
    "telephone",
    "date_of_birth",
    "admin_post",
    "on_establishment",
    "admin_post_level",
    "foreign_language",
    "computer_skill",
    "photo_id",
)


def correct_identity(uow: UnitOfWork, actor: Principal, subject: str, data: dict[str, Any]) -> Profile:
    """The title office corrects name or ID number; every change is recorded with who, when and why."""
    profile = uow.session.get(Profile, subject, with_for_update=True)
    if profile is None:
        raise NotFound.on("subject", "exists", f"applicant {subject} has no profile")
    reason = (data.get("reason") or "").strip()
    if not reason:
        raise DomainError.on("reason", "required", "a correction needs its reason (更正原因)")
    changes = {
        k: data[k].strip() for k in ("name", "id_number") if data.get(k) and data[k].strip() != getattr(profile, k)
    }
    if not changes:
        raise DomainError.on(
            "name", "nothing_to_correct", "give a new name or ID number that differs from the registered one"
        )
    if "id_number" in changes:
        changes["id_number"] = changes["id_number"].upper()
        if profile.id_type in RESIDENT_ID_TYPES:
            try:
                parse_resident_id(changes["id_number"])
            except InvalidIdentifier as exc:
                raise DomainError.on("id_number", exc.rule, exc.message) from None
    at = clock.now()
    for field, new in changes.items():
        old = getattr(profile, field)
        uow.session.add(
            IdentityCorrection(
                subject=subject,
                field=field,
                old_value=old,
                new_value=new,
                reason=reason,
                corrected_by=actor.subject,
                corrected_at=at,
            )
        )
        # Snapshots already taken stay as they are; services that care react to the event.
        uow.publish(
            IdentityCorrected(
                subject=subject, field=field, old=old, new=new, reason=reason, by=actor.subject, at=at.isoformat()
            )
        )
        setattr(profile, field, new)
    if "id_number" in changes:
        _fill_from_id(profile)
    profile.version = (profile.version or 1) + 1
    uow.session.flush()
    return profile


def identity_of(uow: UnitOfWork, subject: str) -> dict[str, Any]:
    profile = uow.session.get(Profile, subject)
    if profile is None:
        raise NotFound.on("subject", "exists", f"applicant {subject} has no profile")
    corrections = uow.session.scalars(
        select(IdentityCorrection).where(IdentityCorrection.subject == subject).order_by(IdentityCorrection.id)
    )
    return {"subject": subject, "name": profile.name, "id_number": profile.id_number, "corrections": list(corrections)}


# -- attachments -------------------------------------------------------------------


def upload(uow: UnitOfWork, principal: Principal, name: str | None, content: bytes) -> Attachment:
    profile = profile_for(uow, principal)
    if not content:
        raise DomainError.on("file", "not_empty", "the file is empty (文件为空)")
    if len(content) > files.max_bytes():
        raise DomainError.on(
            "file", "max_size", f"the file is larger than {files.max_bytes() // (1024 * 1024)} MB (文件过大)"
        )
    content_type = files.sniff(content)
    if content_type is None:
        raise DomainError.on(
            "file",
            "content_type",
            "only PDF, JPEG and PNG files are accepted, judged by their content (仅支持PDF、JPG、PNG文件)",
        )
    if content_type == "application/pdf":
        _check_pdf(content)
    sha256 = files.store().put(content)
    record = Attachment(
        id=str(uuid.uuid4()),
        owner=profile.subject,
        sha256=sha256,
        content_type=content_type,
        size=len(content),
        name=files.display_name(name, content_type),
        uploaded_at=clock.now(),
    )
    uow.session.add(record)
    uow.session.flush()
    # other services learn whose file it is, so a declaration refers only to its applicant's own files
    uow.publish(
        AttachmentStored(
            id=record.id,
            owner=record.owner,
            sha256=sha256,
            content_type=content_type,
            size=record.size,
            name=record.name,
            uploaded_at=record.uploaded_at.isoformat(),
        )
    )
    return record


def _check_pdf(content: bytes) -> None:
    try:
        active = pdfs.active_content(content)
    except pdfs.NotAPdf as exc:
        raise DomainError.on(
            "file", "content_type", f"the file starts like a PDF but is not one: {exc} (文件不是有效的PDF)"
        ) from exc
    if active:
        raise DomainError.on(
            "file",
            "no_active_content",
            f"the PDF holds {', '.join(active)}; save it again as a plain document (for instance "
            "print it to PDF) and upload that (PDF文件不能包含脚本、自动操作或嵌入文件)",
        )


def attachment_for(uow: UnitOfWork, principal: Principal, attachment_id: str) -> tuple[Attachment, bytes]:
    """An attachment with its bytes, for its owner, the title office, and staff of an organisation that a
    declaration of the owner referring to it has reached (see services/profile/access.py)."""
    record = uow.session.get(Attachment, attachment_id)
    if principal.role == "applicant":
        if record is None or record.owner != principal.subject:
            raise NotFound.on("attachment_id", "exists", "no such attachment among your files")
    elif principal.role != "title_office" and not (
        record is not None
        and principal.role in access.STAFF_ROLES
        and access.may_see(uow, principal.organisation, record.owner, record.id)
    ):
        # also when the attachment does not exist: staff learn nothing of files they may not see
        raise Forbidden.on(
            "attachment_id",
            "own_profile",
            "attachments are seen by their owner; staff see only "
            "those a declaration under review at their organisation refers to",
        )
    elif record is None:
        raise NotFound.on("attachment_id", "exists", "no such attachment")
    return record, files.store().get(record.sha256)


@functools.cache
def _attachments() -> Listing:
    return Listing(
        select(Attachment)
        .where(Attachment.owner == bindparam("subject"))
        .order_by(Attachment.uploaded_at, Attachment.id)
    )


def my_attachments(uow: UnitOfWork, subject: str) -> list[Attachment]:
    return list(uow.session.scalars(_attachments().query, {"subject": subject}))


def attachments_page(uow: UnitOfWork, subject: str, page: int, per_page: int) -> tuple[list[Attachment], int]:
    return _attachments().page(uow, {"subject": subject}, page, per_page)


def _attachment(uow: UnitOfWork, subject: str, attachment_id: str | None, field: str) -> Attachment:
    record = uow.session.get(Attachment, attachment_id) if attachment_id else None
    if record is None or record.owner != subject:
        raise DomainError.on(
            field, "own_attachment", f"attachment {attachment_id} is not one of your uploaded files (附件不存在)"
        )
    return record


def _required_attachment(
    uow: UnitOfWork, subject: str, data: dict[str, Any], field: str, rule: str, message: str
) -> None:
    if not data.get(field):
        raise DomainError.on(field, rule, message)
    _attachment(uow, subject, data[field], field)


def _period(start: dt.date, end: dt.date | None, field: str = "end_date") -> None:
    if end is not None and end < start:
        raise DomainError.on(field, "not_before_start", "end date is before the start date (结束时间早于开始时间)")


def _own(uow: UnitOfWork, model: type, subject: str, record_id: int, what: str) -> Any:
    record = uow.session.get(model, record_id)
    if record is None or record.subject != subject:
        raise NotFound.on("id", "exists", f"no such {what} in your profile")
    return record


def _what(model: type[Any]) -> str:
    return model.__tablename__.replace("_", " ").removesuffix("s")


def _locked_for(uow: UnitOfWork, principal: Principal, model: type, record_id: int | None) -> Profile:
    """The caller's profile, row-locked, for adding a record or changing one of their own (else 404 first)."""
    profile = _locked(uow, principal)
    if record_id is not None:
        _own(uow, model, profile.subject, record_id, _what(model))
    return profile


def _save(uow: UnitOfWork, model: type, subject: str, record_id: int | None, values: dict[str, Any]) -> Any:
    """Add a record of a list section (record_id None) or change one of the applicant's own in place."""
    if record_id is None:
        record = model(subject=subject, **values)
        uow.session.add(record)
    else:
        record = _own(uow, model, subject, record_id, _what(model))
        for key, value in values.items():
            setattr(record, key, value)
    uow.session.flush()
    return record


def _other_than(model: type[Any], record_id: int | None) -> Any:
    """A condition leaving out the record being changed (none when adding)."""
    return model.id != record_id if record_id is not None else true()


# -- education (学历信息) -----------------------------------------------------------

EDUCATION_EDITABLE = (
    "school",
    "specialty",
    "level",
    "degree",
    "study_mode",
    "start_date",
    "end_date",
    "before_work",
    "overseas",
    "certificate_id",
    "verification_letter_id",
)
REGISTER_EDITABLE = ("degree", "before_work")


def _check_education(uow: UnitOfWork, subject: str, data: dict[str, Any]) -> None:
    _period(data["start_date"], data["end_date"])
    _required_attachment(
        uow,
        subject,
        data,
        "certificate_id",
        "certificate_required",
        "an education added by hand needs the certificate as an attachment (须上传学历证书)",
    )
    if data.get("overseas"):
        _required_attachment(
            uow,
            subject,
            data,
            "verification_letter_id",
            "verification_letter_required",
            "an overseas degree needs the verification letter of the study-abroad service centre "
            "(国外学历须上传教育部留学服务中心认证书)",
        )
        if not CHINESE.search(data.get("specialty") or ""):
            raise DomainError.on(
                "specialty",
                "chinese_name_from_verification_letter",
                "an overseas degree gives its specialty by the Chinese name in the verification "
                "letter (专业名称应准确填写学历认证书中的中文名称)",
            )


# Chinese characters (CJK unified ideographs and extension A): an overseas specialty's name has some.
CHINESE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def _before_first_work(profile: Profile, end: dt.date | None, field: str) -> None:
    """A before-work education ends no later than the first professional work after graduation (§三(一)3)."""
    first = profile.first_professional_work_date
    if end is not None and first is not None and end > first:
        raise DomainError.on(
            field,
            "before_first_professional_work",
            f"a before-work education ends ({end}) before the first professional work after "
            f"graduation ({first}) (工作前学历应在参加专业技术工作日期之前毕业)",
        )


def _latest_before_work_end(uow: UnitOfWork, subject: str) -> dt.date | None:
    return max((e.end_date for e in educations(uow, subject) if e.before_work and e.end_date), default=None)


def add_education(uow: UnitOfWork, principal: Principal, data: dict[str, Any]) -> Education:
    profile = _locked(uow, principal)
    _check_education(uow, profile.subject, data)
    if data.get("before_work"):
        _before_first_work(profile, data["end_date"], "end_date")
    record = Education(subject=profile.subject, source="manual", **{k: data.get(k) for k in EDUCATION_EDITABLE})
    record.before_work, record.overseas = bool(data.get("before_work")), bool(data.get("overseas"))
    uow.session.add(record)
    uow.session.flush()
    return record


def import_educations(uow: UnitOfWork, principal: Principal) -> list[Education]:
    """Refresh the applicant's records from the higher-education register (学信网): new ones are added, known
    ones take the register's data again (the applicant's degree and before-work flag stay)."""
    profile = _locked(uow, principal)
    _import_register(uow, profile)
    return educations(uow, profile.subject)


REGISTER_FIELDS = ("school", "specialty", "level", "study_mode", "start_date", "end_date")


def _import_register(uow: UnitOfWork, profile: Profile) -> None:
    known = {
        e.register_id: e
        for e in uow.session.scalars(
            select(Education).where(Education.subject == profile.subject, Education.source == "register")
        )
    }
    for found in education_register.register().records(profile.id_number):
        record = known.get(found.register_id)
        if record is None:
            record = Education(
                subject=profile.subject,
                source="register",
                register_id=found.register_id,
                before_work=False,
                overseas=False,
            )
            uow.session.add(record)
        for key in REGISTER_FIELDS:  # the register is the source: a changed end date shows in completeness
            setattr(record, key, getattr(found, key))
    uow.session.flush()


def update_education(uow: UnitOfWork, principal: Principal, record_id: int, data: dict[str, Any]) -> Education:
    profile = _locked(uow, principal)
    record = _own(uow, Education, profile.subject, record_id, "education")
    if record.source == "register":
        for key in data:
            if key not in REGISTER_EDITABLE:
                raise DomainError.on(
                    key,
                    "register_field",
                    "a record from the higher-education register keeps its "
                    "data; you add only the degree and the before-work flag (学信网学历不可修改)",
                )
    merged = {k: getattr(record, k) for k in EDUCATION_EDITABLE}
    merged.update(data)
    if record.source == "manual":
        _check_education(uow, profile.subject, merged)
    if merged["before_work"]:
        _before_first_work(profile, merged["end_date"], "end_date" if "end_date" in data else "before_work")
    for key, value in merged.items():
        setattr(record, key, value)
    uow.session.flush()
    return record


def delete_education(uow: UnitOfWork, principal: Principal, record_id: int) -> None:
    profile = _locked(uow, principal)
    record = _own(uow, Education, profile.subject, record_id, "education")
    if record.source == "register":
        raise Conflict.on(
            "id",
            "imported_record",
            "a record imported from the higher-education register cannot be deleted (学信网学历不可删除)",
        )
    uow.session.delete(record)


def educations(uow: UnitOfWork, subject: str) -> list[Education]:
    return _rows_of(uow, Education, subject, "start_date", "id")


@functools.cache
def _of_subject(model: Any, *order: str) -> Select[Any]:
    """A subject's records of one section in the section's order, the statement built once: a profile page,
    a snapshot and the rules list every section, and building it cost about as much as running it."""
    return select(model).where(model.subject == bindparam("subject")).order_by(*(getattr(model, o) for o in order))


def _rows_of(uow: UnitOfWork, model: Any, subject: str, *order: str) -> list[Any]:
    return list(uow.session.scalars(_of_subject(model, *order), {"subject": subject}))


# -- qualifications (资历信息) -------------------------------------------------------


def current_employment(uow: UnitOfWork, subject: str) -> WorkExperience | None:
    return uow.session.scalar(_current_employment(), {"subject": subject})


@functools.cache
def _current_employment() -> Select[Any]:
    return select(WorkExperience).where(
        WorkExperience.subject == bindparam("subject"),
        WorkExperience.status == "current",
        WorkExperience.unit_code.is_not(None),
    )


def _needs_appointment_letter(uow: UnitOfWork, subject: str) -> bool:
    current = current_employment(uow, subject)
    unit = uow.session.get(Organisation, current.unit_code) if current else None
    return unit is not None and unit.ownership == "public_institution"


def update_qualification(uow: UnitOfWork, principal: Principal, data: dict[str, Any]) -> Profile:
    profile = _locked(uow, principal)
    today = clock.today()
    first = data.get("first_professional_work_date", profile.first_professional_work_date)
    if first is not None and first > today:
        raise DomainError.on(
            "first_professional_work_date",
            "not_in_future",
            "the first professional work date is in the future (参加专业技术工作时间不能晚于今天)",
        )
    if first is not None and profile.date_of_birth is not None and first <= profile.date_of_birth:
        raise DomainError.on(
            "first_professional_work_date",
            "after_birth",
            "the first professional work date is before the date of birth",
        )
    graduated = _latest_before_work_end(uow, profile.subject)
    if first is not None and graduated is not None and first < graduated:
        raise DomainError.on(
            "first_professional_work_date",
            "after_before_work_education",
            f"the first professional work is the first after graduating: not before {graduated}, "
            f"when your before-work education ended (参加专业技术工作日期应为从学校毕业后首次)",
        )
    years_off = data.get("non_professional_years", profile.non_professional_years) or 0
    if years_off < 0:
        raise DomainError.on(
            "non_professional_years", "not_negative", "years of non-professional work cannot be negative"
        )
    if first is not None and years_off > _years_between(first, today):
        raise DomainError.on(
            "non_professional_years",
            "within_working_years",
            "the non-professional years exceed "
            "the years since the first professional work (非专业技术工作年限超过工作年限)",
        )
    appointment = data.get("appointment", profile.appointment)
    if "appointment" in data and appointment is not None:
        appointment = dict(appointment)
        proofs = appointment_proofs(appointment)
        if not proofs:
            raise DomainError.on(
                "appointment.proof_ids",
                "proof_required",
                "the appointment needs its proof: "
                "appointment letter, unit certificate of professional work, or labour contract; "
                "several periods give several (聘任证明，可多个附件)",
            )
        for index, proof in enumerate(proofs):
            _attachment(uow, profile.subject, proof, f"appointment.proof_ids.{index}")
        appointment.pop("proof_id", None)
        appointment["proof_ids"] = proofs
        if appointment["proof_kind"] != "appointment_letter" and _needs_appointment_letter(uow, profile.subject):
            raise DomainError.on(
                "appointment.proof_kind",
                "appointment_letter_required",
                "staff of a state-owned public institution must give the appointment letter (事业单位人员须提供聘任书)",
            )
        for key in ("appointed_on",):
            if isinstance(appointment.get(key), dt.date):
                appointment[key] = appointment[key].isoformat()
    for key in ("specialty", "school_stage"):
        if key in data:
            setattr(profile, key, data[key])
    profile.first_professional_work_date, profile.non_professional_years = first, years_off
    profile.appointment = appointment
    uow.session.flush()
    return profile


def appointment_proofs(appointment: dict[str, Any] | None) -> list[str]:
    """The appointment's proofs (聘书, 证明, 劳动合同: several where several periods make up the years); data
    saved before there could be several has the one ``proof_id``."""
    appointment = appointment or {}
    proofs = appointment.get("proof_ids")
    if not proofs:
        proofs = [appointment["proof_id"]] if appointment.get("proof_id") else []
    return list(dict.fromkeys(p for p in proofs if p))


def _years_between(start: dt.date, end: dt.date) -> float:
    return round((end - start).days / 365.25, 1)


def professional_years(profile: Profile, today: dt.date | None = None) -> float | None:
    """Years of professional work: from the first professional work to today, minus non-professional years."""
    if profile.first_professional_work_date is None:
        return None
    years = _years_between(profile.first_professional_work_date, today or clock.today())
    return max(0.0, round(years - float(profile.non_professional_years or 0), 1))


def save_certificate(
    uow: UnitOfWork, principal: Principal, data: dict[str, Any], record_id: int | None = None
) -> Certificate:
    """Add a certificate, or change one in place (record_id) under the same rules."""
    profile = _locked_for(uow, principal, Certificate, record_id)
    if data["issued_on"] > clock.today():
        raise DomainError.on("issued_on", "not_in_future", "the issuing date is in the future")
    _required_attachment(
        uow,
        profile.subject,
        data,
        "attachment_id",
        "attachment_required",
        "every certificate needs its scan, or the review form if it is lost (证书或评审表)",
    )
    if data["kind"] == "title":
        if not data.get("level"):
            raise DomainError.on("level", "required", "a title certificate names its level (层级)")
        if data.get("obtained_by") not in ("review", "appointment", "exam"):
            raise DomainError.on(
                "obtained_by", "one_of", "a title is obtained by review, appointment or exam (评审、聘任或考试取得)"
            )
        if uow.session.scalar(
            select(Certificate.id).where(
                Certificate.subject == profile.subject, Certificate.kind == "title", _other_than(Certificate, record_id)
            )
        ):
            raise Conflict.on(
                "kind",
                "highest_title_only",
                "only the highest title certificate is kept; delete the "
                "one recorded before adding a higher one (只填最高职称证书)",
            )
    return _save(
        uow,
        Certificate,
        profile.subject,
        record_id,
        {
            k: data.get(k)
            for k in ("kind", "name", "level", "obtained_by", "number", "issued_on", "issuer", "attachment_id")
        },
    )


add_certificate = save_certificate


def certificates(uow: UnitOfWork, subject: str) -> list[Certificate]:
    return _rows_of(uow, Certificate, subject, "issued_on", "id")


# -- work experience (工作经历) ------------------------------------------------------


def _work_values(uow: UnitOfWork, subject: str, fields: dict[str, Any], record_id: int | None) -> dict[str, Any]:
    """The columns of a work experience, after every rule of §3 (the same for adding and changing)."""
    status = fields["status"]
    if status not in WORK_STATUSES:
        raise DomainError.on("status", "one_of", f"status must be one of {', '.join(WORK_STATUSES)}")
    start: dt.date = fields["start_date"]
    end: dt.date | None = fields.get("end_date")
    _period(start, end)
    unit_code = fields.get("unit_code")
    unit_name = fields.get("unit_name")
    if status == "current":
        if not unit_code:
            raise DomainError.on(
                "unit_code",
                "registered_unit",
                "a current employment must choose a unit registered in the system (在职单位须为已注册单位)",
            )
        if end is not None:
            raise DomainError.on("end_date", "current_has_no_end", "a current employment has no end date")
        has_current = uow.session.scalar(
            select(WorkExperience.id).where(
                WorkExperience.subject == subject,
                WorkExperience.status == "current",
                _other_than(WorkExperience, record_id),
            )
        )
        if has_current:
            raise Conflict.on("status", "one_current", "there is already a current employment (已有在职经历)")
    if unit_code:
        unit = uow.session.get(Organisation, unit_code)
        if unit is None or unit.kind != "unit":
            raise DomainError.on(
                "unit_code",
                "registered_unit",
                f"unit {unit_code} is not a work unit registered in the system (工作单位未注册)",
            )
        unit_name = unit.name
    if not unit_name:
        raise DomainError.on("unit_name", "required", "the employer's name is required (工作单位名称)")
    main_work = fields.get("main_work")
    if main_work is not None and len(main_work) > MAIN_WORK_MAX:
        raise DomainError.on(
            "main_work",
            "max_500_characters",
            "the main work content has at most 500 characters (主要工作内容不超过500字)",
        )
    if fields.get("role") == "participant" and not fields.get("participant_rank"):
        raise DomainError.on("participant_rank", "rank_required", "a participant gives their rank (参与者须填写排名)")
    if fields.get("dispatched"):
        if not (fields.get("dispatched_to") or "").strip():
            raise DomainError.on(
                "dispatched_to",
                "dispatch_unit_required",
                "labour dispatch names the unit dispatched to (劳务派遣须填写派遣至单位)",
            )
        _required_attachment(
            uow,
            subject,
            fields,
            "dispatch_proof_id",
            "dispatch_proof_required",
            "labour dispatch needs the proof of genuine performance issued by the unit dispatched "
            "to (劳务派遣须上传实际履职证明)",
        )
    posts = []
    for index, post in enumerate(fields.get("posts") or []):
        _period(post["start_date"], post.get("end_date"), f"posts.{index}.end_date")
        post_end = post.get("end_date") or end or dt.date.max  # an open post runs to the employment's end
        if post["start_date"] < start or post_end > (end or dt.date.max):
            raise DomainError.on(
                f"posts.{index}.start_date",
                "within_employment",
                "a post held at this employer lies within the employment period (任职时间须在工作经历期间内)",
            )
        posts.append(
            {
                "start_date": post["start_date"].isoformat(),
                "end_date": post["end_date"].isoformat() if post.get("end_date") else None,
                "admin_post": post.get("admin_post"),
                "professional_post": post.get("professional_post"),
            }
        )
    dispatched = bool(fields.get("dispatched"))
    return {
        "status": status,
        "unit_code": unit_code,
        "unit_name": unit_name,
        "start_date": start,
        "end_date": end,
        "admin_post": fields.get("admin_post"),
        "professional_post": fields.get("professional_post"),
        "role": fields.get("role"),
        "participant_rank": fields.get("participant_rank"),
        "dispatched": dispatched,
        "dispatched_to": fields.get("dispatched_to") if dispatched else None,
        "dispatch_proof_id": fields.get("dispatch_proof_id") if dispatched else None,
        "posts": posts,
        "main_work": main_work,
    }


def _employer(uow: UnitOfWork, subject: str) -> tuple[str | None, str | None]:
    current = current_employment(uow, subject)
    return (current.unit_code, current.unit_name) if current else (None, None)


def _announce_employer(uow: UnitOfWork, subject: str, before: tuple[str | None, str | None]) -> None:
    """Publish profile.employment.changed.v1 when the applicant's current registered unit is not what it was."""
    uow.session.flush()
    after = _employer(uow, subject)
    if after != before:
        uow.publish(
            EmploymentChanged(subject=subject, unit_code=after[0], unit_name=after[1], at=clock.now().isoformat())
        )


def save_work_experience(
    uow: UnitOfWork, principal: Principal, fields: dict[str, Any], record_id: int | None = None
) -> WorkExperience:
    """Add a work experience, or change one in place (record_id) under the same rules."""
    # The profile row lock makes concurrent changes for one applicant run one
    # at a time, so the "one current employment" check cannot be raced.
    profile = _locked_for(uow, principal, WorkExperience, record_id)
    before = _employer(uow, profile.subject)
    record = _save(
        uow, WorkExperience, profile.subject, record_id, _work_values(uow, profile.subject, fields, record_id)
    )
    _announce_employer(uow, profile.subject, before)
    return record


add_work_experience = save_work_experience


def delete_work_experience(uow: UnitOfWork, principal: Principal, record_id: int) -> None:
    profile = _locked(uow, principal)
    before = _employer(uow, profile.subject)
    uow.session.delete(_own(uow, WorkExperience, profile.subject, record_id, "work experience"))
    _announce_employer(uow, profile.subject, before)


def work_experiences(uow: UnitOfWork, subject: str) -> list[WorkExperience]:
    return _rows_of(uow, WorkExperience, subject, "start_date")


# -- social posts, continuing education, annual assessments ---------------------------


def save_social_post(
    uow: UnitOfWork, principal: Principal, data: dict[str, Any], record_id: int | None = None
) -> SocialPost:
    profile = _locked_for(uow, principal, SocialPost, record_id)
    _period(data["start_date"], data.get("end_date"))
    return _save(
        uow,
        SocialPost,
        profile.subject,
        record_id,
        {k: data.get(k) for k in ("organisation", "post", "start_date", "end_date")},
    )


add_social_post = save_social_post


def save_continuing_education(
    uow: UnitOfWork, principal: Principal, data: dict[str, Any], record_id: int | None = None
) -> ContinuingEducation:
    """A year's continuing education (继续教育): total hours, of which specialist subjects (专业科目)."""
    profile = _locked_for(uow, principal, ContinuingEducation, record_id)
    if data["year"] > clock.today().year:
        raise DomainError.on("year", "not_in_future", "the year is in the future")
    if data["hours"] <= 0:
        raise DomainError.on("hours", "positive", "the hours are more than zero (学时须大于0)")
    specialist = data.get("specialist_hours")
    if specialist is None:
        raise DomainError.on(
            "specialist_hours", "required", "give the hours of specialist subjects, 0 if none (专业科目学时)"
        )
    if specialist < 0:
        raise DomainError.on(
            "specialist_hours", "not_negative", "the specialist hours cannot be negative (专业科目学时不能为负)"
        )
    if specialist > data["hours"]:
        raise DomainError.on(
            "specialist_hours",
            "within_hours",
            "the specialist hours are part of the hours and cannot exceed them (专业科目学时不能超过总学时)",
        )
    for index, attachment_id in enumerate(data.get("attachment_ids") or []):
        _attachment(uow, profile.subject, attachment_id, f"attachment_ids.{index}")
    return _save(
        uow,
        ContinuingEducation,
        profile.subject,
        record_id,
        {
            "year": data["year"],
            "hours": data["hours"],
            "specialist_hours": specialist,
            "content": data.get("content"),
            "attachment_ids": list(data.get("attachment_ids") or []),
        },
    )


add_continuing_education = save_continuing_education


def continuing_education_years(uow: UnitOfWork, subject: str) -> list[dict[str, Any]]:
    """Per year: total and specialist hours, and whether the year meets 人社部令第25号 as the decision table
    bpmn/eligibility_yearly.dmn says for every qualification (at least 90 hours, of which specialist
    subjects at least two thirds of the total)."""
    rule = decisions.decide("eligibility_yearly", {"series": None, "qualification_name": None})
    needed = Decimal(str(rule["continuing_education_hours"]))
    numerator, denominator = rule["continuing_education_specialist_share"]
    years: dict[int, list[Decimal]] = {}
    for record in records(uow, ContinuingEducation, subject):
        totals = years.setdefault(record.year, [Decimal(0), Decimal(0)])
        totals[0] += Decimal(str(record.hours))
        totals[1] += Decimal(str(record.specialist_hours or 0))
    result = []
    for year, (hours, specialist) in sorted(years.items()):
        meets_hours = hours >= needed
        meets_share = specialist * denominator >= hours * numerator
        result.append(
            {
                "year": year,
                "hours": float(hours),
                "specialist_hours": float(specialist),
                "meets_hours": meets_hours,
                "meets_specialist_share": meets_share,
                "meets_rule": meets_hours and meets_share,
            }
        )
    return result


def save_annual_assessment(
    uow: UnitOfWork, principal: Principal, data: dict[str, Any], record_id: int | None = None
) -> AnnualAssessment:
    profile = _locked_for(uow, principal, AnnualAssessment, record_id)
    if data["year"] > clock.today().year:
        raise DomainError.on("year", "not_in_future", "the year is in the future")
    if uow.session.scalar(
        select(AnnualAssessment.id).where(
            AnnualAssessment.subject == profile.subject,
            AnnualAssessment.year == data["year"],
            _other_than(AnnualAssessment, record_id),
        )
    ):
        raise Conflict.on(
            "year", "one_per_year", f"the assessment of {data['year']} is already recorded (该年度考核已填写)"
        )
    return _save(uow, AnnualAssessment, profile.subject, record_id, {"year": data["year"], "result": data["result"]})


add_annual_assessment = save_annual_assessment


SECTION_MODELS = {
    "social-posts": SocialPost,
    "continuing-education": ContinuingEducation,
    "annual-assessments": AnnualAssessment,
    "certificates": Certificate,
}


def delete_record(uow: UnitOfWork, principal: Principal, section: str, record_id: int) -> None:
    profile = _locked(uow, principal)
    uow.session.delete(_own(uow, SECTION_MODELS[section], profile.subject, record_id, section.replace("-", " ")))


def records(uow: UnitOfWork, model: type[Any], subject: str) -> list[Any]:
    return _rows_of(uow, model, subject, "year" if hasattr(model, "year") else "start_date", "id")


# -- the whole profile, completeness and the snapshot ----------------------------------


def whole(uow: UnitOfWork, profile: Profile) -> dict[str, Any]:
    """Every section of the profile, as objects the API and the snapshot schemas dump."""
    subject = profile.subject
    return {
        "subject": subject,
        "name": profile.name,
        "id_number": profile.id_number,
        "version": profile.version,
        "basic": profile,
        "educations": educations(uow, subject),
        "qualification": qualification(profile),
        "certificates": certificates(uow, subject),
        "work_experiences": work_experiences(uow, subject),
        "social_posts": records(uow, SocialPost, subject),
        "continuing_education": records(uow, ContinuingEducation, subject),
        "continuing_education_years": continuing_education_years(uow, subject),
        "annual_assessments": records(uow, AnnualAssessment, subject),
    }


def qualification(profile: Profile) -> dict[str, Any]:
    """The qualification section (资历信息), from the profile's own row."""
    return {
        "specialty": profile.specialty,
        "school_stage": profile.school_stage,
        "first_professional_work_date": profile.first_professional_work_date,
        "non_professional_years": profile.non_professional_years,
        "professional_years": professional_years(profile),
        "appointment": _appointment_out(profile.appointment),
    }


def _appointment_out(appointment: dict[str, Any] | None) -> dict[str, Any] | None:
    if appointment is None:
        return None
    proofs = appointment_proofs(appointment)
    # proof_id stays for readers of the single field: the first proof
    return {**appointment, "proof_ids": proofs, "proof_id": proofs[0] if proofs else None}


def completeness(uow: UnitOfWork, profile: Profile) -> list[dict[str, str]]:
    """What is still missing or wrong before the applicant can declare, item by item."""
    missing: list[dict[str, str]] = []

    def need(section: str, field: str, rule: str, message: str) -> None:
        missing.append({"section": section, "field": field, "rule": rule, "message": message})

    parsed = _resident_number(profile.id_number)
    if profile.id_type in RESIDENT_ID_TYPES and parsed is None:
        try:
            parse_resident_id(profile.id_number)
        except InvalidIdentifier as exc:
            need("basic", "id_number", exc.rule, exc.message + "; ask the title office to correct it")
    if parsed is not None:  # data saved before the rule held everywhere
        for problem in _id_disagreements({k: getattr(profile, k) for k in BASIC_FIELDS}, parsed):
            need("basic", problem.field, problem.rule, f"Correct it: {problem.message}.")
    for field, words in (
        ("gender", "your gender (性别)"),
        ("date_of_birth", "your date of birth (出生日期)"),
        ("mobile", "your mobile phone number (手机号码)"),
        ("photo_id", "your photo (照片)"),
    ):
        if getattr(profile, field) in (None, ""):
            need("basic", field, "required", f"Fill in {words}.")
    subject = profile.subject
    if not any(e.before_work for e in educations(uow, subject)):
        need(
            "educations",
            "before_work",
            "before_work_education",
            "Add at least one education obtained before you started work, or mark one as such (至少一条工作前学历).",
        )
    if not profile.specialty:
        need("qualification", "specialty", "required", "Fill in your current specialty (现从事专业).")
    graduated = _latest_before_work_end(uow, subject)
    if profile.first_professional_work_date is None:
        need(
            "qualification",
            "first_professional_work_date",
            "required",
            "Fill in the date you started professional work after graduation (参加专业技术工作时间).",
        )
    elif graduated is not None and profile.first_professional_work_date < graduated:
        need(
            "qualification",
            "first_professional_work_date",
            "after_before_work_education",
            "The first "
            f"professional work is the first after graduating: not before {graduated}, when your before-work "
            "education ended (参加专业技术工作日期应为从学校毕业后首次).",
        )
    appointment = profile.appointment
    if not appointment_proofs(appointment):
        need(
            "qualification",
            "appointment",
            "required",
            "Give your current appointment with its proof: appointment "
            "letter, unit certificate or labour contract (现聘任情况及证明).",
        )
    elif (
        appointment is not None
        and appointment.get("proof_kind") != "appointment_letter"
        and _needs_appointment_letter(uow, subject)
    ):
        need(
            "qualification",
            "appointment.proof_kind",
            "appointment_letter_required",
            "Staff of a state-owned public institution give the appointment letter (事业单位人员须提供聘任书).",
        )
    if current_employment(uow, subject) is None:
        need(
            "work_experiences",
            "status",
            "registered_unit",
            "Add your current employment at a unit registered in "
            "the system; an applicant whose unit is not registered cannot declare (须有在职且已注册的工作单位).",
        )
    # the post level was allowed when given; a later change of employment (or of the unit's ownership in the
    # directory) can make it wrong
    post_level = _post_level_problem(uow, subject, profile.admin_post_level, profile.on_establishment)
    if post_level:
        need(
            "basic",
            "admin_post_level",
            post_level[0],
            f"Clear your administrative post level (行政职务级别) or correct your employment: {post_level[1]}.",
        )
    return missing


def take_snapshot(uow: UnitOfWork, declaration_id: str, subject: str) -> None:
    """Answer a declaration's snapshot request with the whole profile, or refuse it with the reasons.

    A declaration is opened only for an applicant currently employed at a
    registered unit; the other missing items travel in the snapshot's
    ``completeness`` so that submission can be checked against them.
    """
    from services.profile.schemas import SnapshotSchema

    profile = uow.session.get(Profile, subject)
    current = current_employment(uow, subject) if profile is not None else None
    if profile is None or current is None:
        items = completeness(uow, profile) if profile is not None else []
        reason = (
            "A declaration needs a current employment at a unit registered in the system (须有在职且已注册的工作单位)"
        )
        others = [i["message"] for i in items if i["rule"] != "registered_unit"]
        if profile is None:
            reason += "; you have no profile yet: open your profile (个人信息) and fill it in"
        elif others:
            reason += ". Also missing: " + " ".join(others)
        uow.publish(
            SnapshotRefused(declaration_id=declaration_id, applicant=subject, reason=reason),
            correlation_id=declaration_id,
        )
        return
    data = whole(uow, profile)
    data.update(
        unit_code=current.unit_code,
        unit_name=current.unit_name,
        snapshot_version=1,
        taken_at=clock.now().isoformat(),
        attachments=my_attachments(uow, subject),
    )
    missing = completeness(uow, profile)
    data["completeness"] = {"ready": not missing, "missing": missing}
    snapshot = SnapshotSchema().dump(data)
    # read strictly: the profile's own view of itself must be the whole contract, no more
    uow.publish(
        SnapshotTaken.load({"declaration_id": declaration_id, "applicant": subject, "snapshot": snapshot}, strict=True),
        correlation_id=declaration_id,
    )
