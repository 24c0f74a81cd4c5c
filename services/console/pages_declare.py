"""The applicant declares in the console: a new declaration on an ongoing activity (or an independent
appointment) chosen from the catalogue, then the draft filled section by section — the eligibility check's
result, the required materials, the achievement items with their files — and submitted; after a return,
amended and resubmitted before the activity's modification deadline. Every form goes to the declaration
service's API, whose 4xx problem body comes back next to the field it names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from services.console import pages
from services.console.backend import ApiError, Backend
from services.console.forms import Field, Form, FormInvalid, body_of, field_errors, posted_values
from services.console.pages import STAFF, act, attachments_in
from services.console.signin import backend, login_required, signed_in_user

bp = Blueprint("declare", __name__)
EDITABLE = ("draft", "returned")


def _catalogue(api: Backend) -> dict[str, Any]:
    return api.optional("declaration", "/api/v1/catalogue", {}) or {}


@bp.get("/my/declarations/new")
@login_required("applicant")
def new(errors: dict[str, str] | None = None, failed: str | None = None, status: int = 200):
    api = backend()
    activities = api.get("declaration", "/api/v1/activities")
    catalogue = _catalogue(api)
    categories = {c["code"]: c["name"] for c in catalogue.get("categories") or []}
    appointable = [s for s in catalogue.get("series") or [] if s.get("appointable")]
    return render_template(
        "declare_new.html",
        activities=activities,
        categories=categories,
        appointable=appointable,
        errors=errors or {},
        failed=failed,
        posted=request.form,
    ), status


NEW_FIELDS = Form(
    "new",
    "",
    (
        Field("activity_id", ""),
        Field("mode", ""),
        Field("series", ""),
        Field("level", ""),
        Field("specialty", ""),
        Field("qualification_name", ""),
        Field("category", ""),
    ),
)


@bp.post("/my/declarations/new")
@login_required("applicant")
def create():
    api = backend()
    body = {k: v for k, v in body_of(NEW_FIELDS, api).items() if v}
    try:
        created = api.post("declaration", "/api/v1/declarations", body)
    except ApiError as exc:
        if exc.status == 401 or exc.status >= 500:
            raise
        errors = field_errors(NEW_FIELDS, exc)
        flash(f"未能新建 Not opened ({exc.status}): {exc.message()}", "error")
        return new(errors, request.form.get("activity_id") or request.form.get("mode"), exc.status)
    flash("申报已新建，正在生成档案快照 Declaration opened: the profile snapshot is on its way", "ok")
    return redirect(url_for("pages.declaration", declaration_id=created["id"]))


# -- the draft's sections ----------------------------------------------------------------------


def material_form(material: dict[str, Any]) -> Form:
    fields = [
        Field(f"fields.{f['name']}", f.get("label") or f["name"], "textarea", required=bool(f.get("required")))
        for f in material.get("fields") or []
    ]
    fields.append(Field("attachments", "附件 Attachment", "files", required=bool(material.get("attachments_required"))))
    return Form(f"material-{material['code']}", material.get("name") or material["code"], tuple(fields))


def item_form(kind: dict[str, Any]) -> Form:
    fields = [
        Field(f"fields.{f['name']}", f.get("label") or f["name"], required=bool(f.get("required")))
        for f in kind.get("fields") or []
    ]
    fields.append(Field("attachments", "附件 Attachment", "files", required=bool(kind.get("attachments_required"))))
    if kind.get("representative"):
        fields.append(Field("representative", "代表作 Representative", "checkbox"))
    return Form(f"item-{kind['code']}", kind.get("name") or kind["code"], tuple(fields), "添加 Add")


# The series with a section of their own in a declaration (中小学教师信息, 卫生技术信息), as the declaration
# service asks for them at submission (a 422 naming ``sections.<name>`` otherwise).
SERIES_SECTIONS = {
    "中小学教师": (
        "school_teacher",
        "中小学教师信息 School teacher",
        (("school_stage", "学段 Stage taught"), ("teaching_subject", "任教学科 Subject")),
    ),
    "卫生": (
        "health",
        "卫生技术信息 Health professional",
        (
            ("practice_certificate_number", "执业证书编号 Licence number"),
            ("practice_category", "执业类别 Practice category"),
        ),
    ),
}
EMPLOYER_PROOF = Form(
    "employer",
    "企业证明 The employer's proof (企业直报)",
    (Field("attachments", "证明材料 Proof", "files", required=True), Field("note", "说明 Note", "textarea")),
)


def claims_form(conditions: list[dict[str, Any]]) -> Form:
    fields: list[Field] = []
    for condition in conditions:
        fields += [
            Field(f"claim.{condition['code']}", condition.get("text") or condition["code"], "checkbox"),
            Field(f"proof.{condition['code']}", "证明材料 Proof", "files"),
        ]
    return Form("claims", "破格条件 Exception conditions", tuple(fields))


def section_form(series: str | None) -> Form | None:
    if series not in SERIES_SECTIONS:
        return None
    name, title, fields = SERIES_SECTIONS[series]
    return Form(
        f"section-{name}",
        title,
        tuple(Field(key, text, required=True) for key, text in fields)
        + (Field("attachments", "附件 Attachment", "files"),),
    )


def _files(body: dict[str, Any], known: list[dict[str, Any]], field: str = "attachments") -> dict[str, Any]:
    """The declaration refers to files as {"id", "name"}: a kept one as it was, a new one by its file name."""
    names = {a.get("id"): a for a in known if isinstance(a, dict)}
    chosen = request.files.get(field)
    body["attachments"] = [
        names.get(i) or {"id": i, "name": chosen.filename if chosen and chosen.filename else i}
        for i in body.get("attachments") or []
    ]
    return body


def _ids(files: Any) -> list[Any]:
    return [f.get("id") for f in files or [] if isinstance(f, dict)]


def editor(
    api: Backend,
    declaration: dict[str, Any],
    failed: str | None = None,
    errors: dict[str, str] | None = None,
    posted: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What the declaration page needs for the applicant to fill a draft or amend a returned one."""
    if declaration.get("status") not in EDITABLE:
        return {}
    activity = (
        api.optional("declaration", f"/api/v1/activities/{declaration['activity_id']}")
        if declaration.get("activity_id")
        else None
    )
    eligibility = api.optional("declaration", f"/api/v1/declarations/{declaration['id']}/eligibility")
    materials = [(m, material_form(m)) for m in (activity or {}).get("required_materials") or []]
    kinds = [(k, item_form(k)) for k in (activity or {}).get("item_types") or []]
    filled = declaration.get("materials") or {}
    values = {
        f"material-{m['code']}": {
            "fields": (filled.get(m["code"]) or {}).get("fields") or {},
            "attachments": [
                a.get("id") for a in (filled.get(m["code"]) or {}).get("attachments") or [] if isinstance(a, dict)
            ],
        }
        for m, _ in materials
    }
    counts = {
        k["code"]: sum(1 for i in declaration.get("items") or [] if i.get("item_type") == k["code"]) for k, _ in kinds
    }
    parts = []  # the category's and the series' own parts of the draft
    conditions = ((activity or {}).get("exception_conditions") or {}).get(declaration.get("category")) or []
    if conditions:
        claimed = {c.get("code"): c for c in declaration.get("exception_claims") or [] if isinstance(c, dict)}
        values["claims"] = {
            "claim": {code: True for code in claimed},
            "proof": {code: _ids(c.get("proof")) for code, c in claimed.items()},
        }
        parts.append(claims_form(conditions))
    if declaration.get("category") == "enterprise_direct":
        given = declaration.get("employer_proof") or {}
        values["employer"] = {"note": given.get("note"), "attachments": _ids(given.get("attachments"))}
        parts.append(EMPLOYER_PROOF)
    section = section_form(declaration.get("series"))
    if section is not None:
        given = (declaration.get("sections") or {}).get(SERIES_SECTIONS[declaration["series"]][0]) or {}
        values[section.key] = dict(given, attachments=_ids(given.get("attachments")))
        parts.append(section)
    if failed and posted is not None:
        values[failed] = posted
    return {
        "editor": {
            "activity": activity,
            "eligibility": eligibility,
            "materials": materials,
            "kinds": kinds,
            "parts": parts,
            "values": values,
            "failed": failed,
            "errors": errors or {},
            "counts": counts,
        }
    }


# The declaration's page is a reviewer's page too (endpoint pages.declaration), drawn here beside its editor.
@pages.bp.get("/declarations/<declaration_id>")
@login_required("applicant", *STAFF)
def declaration(declaration_id: str):
    return declaration_page(declaration_id)


def declaration_page(
    declaration_id: str,
    failed: str | None = None,
    errors: dict[str, str] | None = None,
    posted: dict[str, Any] | None = None,
    status: int = 200,
):
    """The declaration with its stage and trail; for its applicant, the draft's forms while it is
    editable (``editor`` above), with a refused form's errors beside its fields."""
    user, api = signed_in_user(), backend()
    found = api.get("declaration", f"/api/v1/declarations/{declaration_id}")
    process = None
    if user["role"] in ("title_office",):
        process = api.optional("review", f"/api/v1/processes/{declaration_id}")
    extra = editor(api, found, failed, errors, posted) if user["role"] == "applicant" else {}
    return render_template(
        "declaration.html",
        declaration=found,
        process=process,
        attachments=attachments_in({"items": found.get("items"), "materials": found.get("materials")}),
        **extra,
    ), status


def _again(declaration_id: str, form: Form, error: ApiError | FormInvalid):
    if isinstance(error, ApiError) and (error.status == 401 or error.status >= 500):
        raise error
    errors = field_errors(form, error)
    flash(f"未能保存 Not saved: {'; '.join(errors.values())}", "error")
    return declaration_page(
        declaration_id, form.key, errors, posted_values(form), 422 if isinstance(error, FormInvalid) else error.status
    )


def _save_part(
    declaration_id: str,
    section: str,
    code: str,
    make_form: Callable[[dict[str, Any]], Form],
    send: Callable[[Backend, dict[str, Any], dict[str, Any]], Any],
    done: str,
    anchor: str,
):
    """One form of the draft for an entry of the activity's ``section`` (required_materials, item_types):
    sent to the API, or shown again with the API's complaint beside its fields."""
    api = backend()
    found = api.get("declaration", f"/api/v1/declarations/{declaration_id}")
    activity = api.get("declaration", f"/api/v1/activities/{found['activity_id']}")
    entry = next((e for e in activity.get(section) or [] if e["code"] == code), None)
    if entry is None:
        return redirect(url_for("pages.declaration", declaration_id=declaration_id))
    form = make_form(entry)
    try:
        send(api, found, body_of(form, api))
    except (ApiError, FormInvalid) as exc:
        return _again(declaration_id, form, exc)
    flash(f"{done}: {form.title}", "ok")
    return redirect(url_for("pages.declaration", declaration_id=declaration_id) + anchor)


@bp.post("/my/declarations/<declaration_id>/materials/<code>")
@login_required("applicant")
def save_material(declaration_id: str, code: str):
    def send(api: Backend, found: dict[str, Any], body: dict[str, Any]) -> None:
        materials = dict(found.get("materials") or {})  # the others as they are
        materials[code] = _files(body, (materials.get(code) or {}).get("attachments") or [])
        api.call("PATCH", "declaration", f"/api/v1/declarations/{declaration_id}", json={"materials": materials})

    return _save_part(declaration_id, "required_materials", code, material_form, send, "已暂存 Saved", "#materials")


@bp.post("/my/declarations/<declaration_id>/items/<item_type>")
@login_required("applicant")
def add_item(declaration_id: str, item_type: str):
    def send(api: Backend, _found: dict[str, Any], body: dict[str, Any]) -> None:
        api.call(
            "POST",
            "declaration",
            f"/api/v1/declarations/{declaration_id}/items",
            json={"item_type": item_type, "representative": False, **_files(body, [])},
        )

    return _save_part(declaration_id, "item_types", item_type, item_form, send, "已添加 Added", "#items")


@bp.post("/my/declarations/<declaration_id>/parts/<key>")
@login_required("applicant")
def save_part(declaration_id: str, key: str):
    """The exception claims with their proofs, the employer's proof, or the series' section."""
    api = backend()
    found = api.get("declaration", f"/api/v1/declarations/{declaration_id}")
    activity = (
        api.optional("declaration", f"/api/v1/activities/{found['activity_id']}", {})
        if found.get("activity_id")
        else {}
    )
    section = section_form(found.get("series"))
    if key == "claims":
        form = claims_form(((activity or {}).get("exception_conditions") or {}).get(found.get("category")) or [])
    elif key == "employer":
        form = EMPLOYER_PROOF
    elif section is not None and key == section.key:
        form = section
    else:
        return redirect(url_for("pages.declaration", declaration_id=declaration_id))
    try:
        body = body_of(form, api)
        if key == "claims":
            known = {c.get("code"): c.get("proof") or [] for c in found.get("exception_claims") or []}
            change: dict[str, Any] = {
                "exception_claims": [
                    {
                        "code": code,
                        "proof": _files(
                            {"attachments": (body.get("proof") or {}).get(code)}, known.get(code) or [], f"proof.{code}"
                        )["attachments"],
                    }
                    for code, claimed in (body.get("claim") or {}).items()
                    if claimed
                ]
            }
        elif key == "employer":
            change = {"employer_proof": _files(body, (found.get("employer_proof") or {}).get("attachments") or [])}
        else:
            name = SERIES_SECTIONS[found["series"]][0]
            sections = dict(found.get("sections") or {})
            sections[name] = _files(body, (sections.get(name) or {}).get("attachments") or [])
            change = {"sections": sections}
        api.call("PATCH", "declaration", f"/api/v1/declarations/{declaration_id}", json=change)
    except (ApiError, FormInvalid) as exc:
        return _again(declaration_id, form, exc)
    flash(f"已暂存 Saved: {form.title}", "ok")
    return redirect(url_for("pages.declaration", declaration_id=declaration_id) + "#parts")


@bp.post("/my/declarations/<declaration_id>/items/<item_id>/delete")
@login_required("applicant")
def delete_item(declaration_id: str, item_id: str):
    return act(
        lambda: backend().call("DELETE", "declaration", f"/api/v1/declarations/{declaration_id}/items/{item_id}"),
        "已删除 Deleted",
        url_for("pages.declaration", declaration_id=declaration_id) + "#items",
    )


@bp.post("/my/declarations/<declaration_id>/discard")
@login_required("applicant")
def discard(declaration_id: str):
    return act(
        lambda: backend().call("DELETE", "declaration", f"/api/v1/declarations/{declaration_id}"),
        "草稿已废弃 Draft discarded",
        url_for("applicant.declarations"),
    )


@bp.post("/my/declarations/<declaration_id>/submit")
@login_required("applicant")
def submit(declaration_id: str):
    """Submit a draft, or resubmit a returned one. A file uploaded a moment ago may not have reached the
    declaration service yet (known_attachment): the applicant is told to submit again in a moment."""
    back = url_for("pages.declaration", declaration_id=declaration_id)
    try:
        done = backend().post("declaration", f"/api/v1/declarations/{declaration_id}/submit")
    except ApiError as exc:
        if exc.status == 401 or exc.status >= 500:
            raise
        rules = {e.get("rule") for e in exc.problem.get("errors") or [] if isinstance(e, dict)}
        if rules == {"known_attachment"}:
            flash(
                "附件仍在同步中，请稍后再次提交 The files are still on their way to the declaration service: "
                "submit again in a moment",
                "error",
            )
        else:
            flash(f"未能提交 Refused ({exc.status}): {exc.message()}", "error")
        return redirect(back)
    if isinstance(done, dict) and done.get("status") not in (None, "submitted"):
        flash(f"未能提交 Not submitted: {done}", "error")
        return redirect(back)
    flash("已提交至工作单位 Submitted to the work unit", "ok")
    return redirect(back)
