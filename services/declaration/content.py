"""What a declaration holds beyond the snapshot, and whether it is complete for submission."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select, bindparam, select

from services.declaration import attachments, catalogue, clock, eligibility, profile_check, specialty
from services.declaration.models import Activity, Declaration, DeclarationItem
from shared.errors import DomainError, FieldError, NotFound
from shared.uow import UnitOfWork

# Snapshot fields that come from the identity platform or name the registered unit:
# the review chain depends on them, so a declaration cannot change them.
LOCKED_SNAPSHOT_FIELDS = ("name", "id_number", "unit_code", "unit_name")
# Series-specific sections (中小学教师信息, 卫生技术信息) and the fields each must have.
SERIES_SECTIONS = {
    "中小学教师": ("school_teacher", ("school_stage", "teaching_subject")),
    "卫生": ("health", ("practice_certificate_number", "practice_category")),
}
# Section fields the profile already holds (资历信息): the snapshot's value counts, so the
# applicant is not asked twice for what the profile accepted.
FROM_SNAPSHOT_QUALIFICATION = ("school_stage",)


def item_types(activity: Activity | None) -> dict[str, dict[str, Any]]:
    return {t["code"]: t for t in (activity.item_types if activity else None) or []}


def items(uow: UnitOfWork, declaration_id: str) -> list[DeclarationItem]:
    return list(uow.session.scalars(_items(), {"declaration_id": declaration_id}))


@functools.cache
def _items() -> Select[Any]:
    """Built once: a declaration's page, its completeness and its submission each list its items."""
    return (
        select(DeclarationItem)
        .where(DeclarationItem.declaration_id == bindparam("declaration_id"))
        .order_by(DeclarationItem.created_at, DeclarationItem.id)
    )


def _known_fields(kind: str, given: dict[str, Any], spec: list[dict[str, Any]], field: str) -> None:
    names = {f["name"] for f in spec}
    unknown = sorted(set(given) - names)
    if unknown:
        raise DomainError.on(field, "known_fields", f"{kind} has no fields {', '.join(unknown)} (字段不存在)")


def save_item(
    uow: UnitOfWork,
    declaration: Declaration,
    activity: Activity | None,
    data: dict[str, Any],
    item_id: str | None = None,
) -> DeclarationItem:
    kinds = item_types(activity)
    kind = kinds.get(data["item_type"])
    if kind is None:
        raise DomainError.on(
            "item_type", "activity_item_type", f"the activity has no item type {data['item_type']} (业绩成果类型)"
        )
    _known_fields(kind["name"], data.get("fields", {}), kind.get("fields", []), "fields")
    if data.get("representative") and not kind.get("representative"):
        raise DomainError.on(
            "representative",
            "allowed",
            f"{kind['name']} items cannot be marked as representative works (不可标记为代表作)",
        )
    attachments.refuse_others(uow, declaration.applicant, attachments.listed(data.get("attachments"), "attachments"))
    if item_id is None:
        count = sum(1 for i in items(uow, declaration.id) if i.item_type == kind["code"])
        if kind.get("max") is not None and count >= kind["max"]:
            raise DomainError.on(
                "item_type", "max_items", f"at most {kind['max']} {kind['name']} items (最多{kind['max']}项)"
            )
        item = DeclarationItem(id=str(uuid.uuid4()), declaration_id=declaration.id)
        uow.session.add(item)
    else:
        item = item_of(uow, declaration, item_id)
    item.item_type = kind["code"]
    item.fields = dict(data.get("fields", {}))
    item.attachments = list(data.get("attachments", []))
    item.representative = bool(data.get("representative", False))
    uow.session.flush()
    return item


def item_of(uow: UnitOfWork, declaration: Declaration, item_id: str) -> DeclarationItem:
    item = uow.session.get(DeclarationItem, item_id)
    if item is None or item.declaration_id != declaration.id:
        raise NotFound.on("item_id", "exists", f"item {item_id} is not part of this declaration")
    return item


def delete_item(uow: UnitOfWork, declaration: Declaration, item_id: str) -> None:
    uow.session.delete(item_of(uow, declaration, item_id))


def update(uow: UnitOfWork, declaration: Declaration, activity: Activity | None, data: dict[str, Any]) -> None:
    """Save the draft (暂存): only the parts given change."""
    if "snapshot" in data:
        snapshot = dict(declaration.snapshot or {})
        for key, value in data["snapshot"].items():
            if key in LOCKED_SNAPSHOT_FIELDS and value != snapshot.get(key):
                raise DomainError.on(
                    f"snapshot.{key}",
                    "locked",
                    f"{key} comes from the identity platform or the registered unit and cannot be "
                    "changed in a declaration (不可修改)",
                )
            snapshot[key] = value
        declaration.snapshot = snapshot
    if "category" in data:
        allowed = activity.categories if activity else ["normal"]
        if data["category"] not in allowed:
            raise DomainError.on(
                "category",
                "in_activity_scope",
                f"category must be one of the activity's: {', '.join(allowed)} (申报类别)",
            )
        declaration.category = data["category"]
    if "exception_claims" in data:
        offered = {
            c["code"] for c in ((activity.exception_conditions or {}) if activity else {}).get(declaration.category, [])
        }
        for claim in data["exception_claims"]:
            if claim["code"] not in offered:
                raise DomainError.on(
                    "exception_claims",
                    "activity_condition",
                    f"{claim['code']} is not an exception condition of this activity for "
                    f"{declaration.category} (破格条件)",
                )
        declaration.exception_claims = [dict(c) for c in data["exception_claims"]]
    for key in ("employer_proof", "sections", "materials"):
        if key in data:
            setattr(declaration, key, data[key])
    if "materials" in data and activity is not None:
        specs = {m["code"]: m for m in activity.required_materials or []}
        for code, given in data["materials"].items():
            if code not in specs:
                raise DomainError.on(
                    "materials", "activity_material", f"the activity asks for no material {code} (评审需求申报材料)"
                )
            _known_fields(specs[code]["name"], given.get("fields", {}), specs[code].get("fields", []), "materials")
    _refuse_others_files(uow, declaration, data)
    declaration.eligibility = None  # recomputed on demand from the edited snapshot


# The parts of a draft that may refer to profile attachments, and how to find the references.
ATTACHMENT_PARTS: dict[str, Callable[[Any], list[attachments.Ref]]] = {
    "snapshot": attachments.in_snapshot,
    "exception_claims": attachments.in_claims,
    "employer_proof": attachments.in_employer_proof,
    "sections": attachments.in_sections,
    "materials": attachments.in_materials,
}


def _refuse_others_files(uow: UnitOfWork, declaration: Declaration, data: dict[str, Any]) -> None:
    """What this save changed may not refer to a file known to be someone else's."""
    refs = [ref for part, find in ATTACHMENT_PARTS.items() if part in data for ref in find(getattr(declaration, part))]
    attachments.refuse_others(uow, declaration.applicant, refs)


def references(uow: UnitOfWork, declaration: Declaration) -> list[attachments.Ref]:
    """Every profile attachment the declaration refers to: its copy of the profile (photo included),
    items, exception-claim proofs, the employer's proof, series sections and required materials."""
    refs = [ref for part, find in ATTACHMENT_PARTS.items() for ref in find(getattr(declaration, part))]
    for item in items(uow, declaration.id):
        refs.extend(attachments.listed(item.attachments, f"items.{item.id}"))
    return refs


def check_eligibility(declaration: Declaration, activity: Activity | None) -> dict[str, Any]:
    """The normal category's tables, and the current specialty against the declared one
    (bpmn/specialty_relation.dmn): unrelated is among ``warnings`` where the activity warns (the default),
    a failure where it refuses."""
    result = eligibility.check(
        declaration.series, declaration.qualification_name, declaration.snapshot or {}, clock.today()
    )
    related = specialty.check(
        declaration.series,
        declaration.specialty,
        specialty.current_of(declaration.snapshot),
        (activity.specialty_relation if activity else None) or "warn",
    )
    result = {**result, "specialty": related, "warnings": specialty.warnings(related)}
    if specialty.refused(related):
        result = {**result, "eligible": False, "failures": [*result["failures"], specialty.message(related)]}
    declaration.eligibility = result
    return result


def _missing(values: dict[str, Any], spec: list[dict[str, Any]]) -> list[str]:
    return [f.get("label", f["name"]) for f in spec if f.get("required") and values.get(f["name"]) in (None, "", [])]


def completeness(uow: UnitOfWork, declaration: Declaration, activity: Activity | None) -> list[FieldError]:
    """Everything the activity and the category require, as one list of failures."""
    # First what the profile service reported missing (its rules, not repeated here).
    errors: list[FieldError] = profile_check.missing(declaration.snapshot)
    try:  # the catalogue may have changed since the declaration was opened
        catalogue.check_choice(
            uow, declaration.series, declaration.level, declaration.specialty, declaration.qualification_name
        )
    except DomainError as exc:
        errors.extend(exc.errors)

    def fail(field: str, rule: str, message: str) -> None:
        errors.append(FieldError(field, rule, message))

    # What the category needs comes from its decision table (bpmn/eligibility_categories.dmn).
    needs = eligibility.category_needs(declaration.category)
    # Checked for every category: the unit reads the result, with its warnings, in its task.
    result = check_eligibility(declaration, activity)
    if specialty.refused(result["specialty"]):
        fail(specialty.FIELD, specialty.RULE, specialty.message(result["specialty"]))
    if needs["normal_conditions"]:
        for failed in (c for c in result.get("checks", []) if not c["passed"]):
            # education and years keep the rule name "eligibility"; the others are named by their rule
            rule = "eligibility" if failed["rule"] == "education_years" else failed["rule"]
            verb = "needs one of" if failed["rule"] == "education_years" else "fails"
            fail(
                "category",
                rule,
                f"the normal category {verb}: {'; '.join(failed['failures'])} "
                "(不符合正常申报条件; an exception category may apply)",
            )
    conditions = ((activity.exception_conditions or {}) if activity else {}).get(declaration.category, [])
    if needs["exception_claims_required"] or conditions:
        claims = declaration.exception_claims or []
        if not claims:
            fail(
                "exception_claims",
                "required",
                "an exception category needs at least one of the activity's "
                "exception conditions, with proof (破格条件)",
            )
        for claim in claims:
            if not claim.get("proof"):
                fail("exception_claims", "proof", f"exception condition {claim['code']} needs proof (证明材料)")
    if needs["employer_proof_required"] and not (declaration.employer_proof or {}).get("attachments"):
        fail("employer_proof", "required", "enterprise direct declaration needs the employer's proof (企业证明)")
    if declaration.series in SERIES_SECTIONS:
        section, needed = SERIES_SECTIONS[declaration.series]
        given = dict((declaration.sections or {}).get(section) or {})
        qualification = (declaration.snapshot or {}).get("qualification") or {}
        for name in FROM_SNAPSHOT_QUALIFICATION:
            given[name] = given.get(name) or qualification.get(name)
        missing = [name for name in needed if not given.get(name)]
        if missing:
            fail(
                f"sections.{section}",
                "required",
                f"the {section} section needs {', '.join(missing)} "
                f"({'中小学教师信息' if section == 'school_teacher' else '卫生技术信息'})",
            )
    entered = items(uow, declaration.id)
    for kind in item_types(activity).values():
        mine = [i for i in entered if i.item_type == kind["code"]]
        if len(mine) < kind.get("min", 0):
            fail(
                "items", "min_items", f"at least {kind['min']} {kind['name']} items (至少{kind['min']}项{kind['name']})"
            )
        for item in mine:
            missing = _missing(item.fields, kind.get("fields", []))
            if missing:
                fail(f"items.{item.id}", "required_fields", f"{kind['name']} item lacks {', '.join(missing)} (必填)")
            if kind.get("attachments_required") and not item.attachments:
                fail(f"items.{item.id}", "attachments", f"{kind['name']} item needs an attachment (附件)")
    for spec in (activity.required_materials if activity else None) or []:
        material = (declaration.materials or {}).get(spec["code"])
        if material is None:
            if spec.get("required", True):
                fail(f"materials.{spec['code']}", "required", f"{spec['name']} is required (评审需求申报材料)")
            continue
        missing = _missing(material.get("fields", {}), spec.get("fields", []))
        if missing:
            fail(f"materials.{spec['code']}", "required_fields", f"{spec['name']} lacks {', '.join(missing)} (必填)")
        if spec.get("attachments_required") and not material.get("attachments"):
            fail(f"materials.{spec['code']}", "attachments", f"{spec['name']} needs an attachment (附件)")
    errors.extend(attachments.problems(uow, declaration.applicant, references(uow, declaration)))
    return errors
