"""The applicant's profile (个人档案) in the console: basic information, educations (with the import
from the higher-education register), qualifications and the appointment, work experiences, certificates,
continuing education, annual assessments and attachments, each a form over the profile service's API,
with what is still missing before a declaration shown on top."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for

from services.console.backend import ApiError
from services.console.forms import Field, Form, FormInvalid, body_of, choices, field_errors, posted_values
from services.console.signin import backend, login_required
from services.profile import rules

bp = Blueprint("profile", __name__)

WORDS = {
    "male": "男",
    "female": "女",
    "resident_id": "居民身份证",
    "doctorate": "博士研究生",
    "master": "硕士研究生",
    "bachelor": "大学本科",
    "junior_college": "大学专科",
    "technical_secondary": "中专",
    "high_school": "高中",
    "doctor": "博士",
    "none": "无",
    "full_time": "全日制",
    "part_time": "非全日制/兼职",
    "correspondence": "函授",
    "self_study": "自学考试",
    "online": "网络教育",
    "other": "其他",
    "appointment_letter": "聘任文件",
    "unit_certificate": "单位证明",
    "labour_contract": "劳动合同",
    "title": "职称证书",
    "professional_qualification": "职业资格证书",
    "skill": "技能证书",
    "review": "评审",
    "appointment": "聘任/认定",
    "exam": "考试",
    "current": "在职",
    "former": "曾任职",
    "led": "主持",
    "independent": "独立完成",
    "participant": "参与",
    "excellent": "优秀",
    "competent": "合格/称职",
    "basically_competent": "基本合格",
    "incompetent": "不合格",
    "register": "学信网",
    "manual": "手工录入",
}


def word(value: Any) -> str:
    return (
        f"{WORDS[value]} {value}"
        if isinstance(value, str) and value in WORDS
        else ("" if value is None else str(value))
    )


def _choices(values: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return choices(values, {v: word(v) for v in values})


BASIC = Form(
    "basic",
    "基本信息 Basic information",
    (
        Field("mobile", "手机号码 Mobile", required=True),
        Field("gender", "性别 Gender", "select", _choices(rules.GENDERS)),
        Field("date_of_birth", "出生日期 Date of birth", "date"),
        Field("ethnicity", "民族 Ethnicity"),
        Field("political_status", "政治面貌 Political status"),
        Field("telephone", "固定电话 Telephone"),
        Field("admin_post", "行政职务 Administrative post"),
        Field("foreign_language", "外语 Foreign language"),
        Field("computer_skill", "计算机 Computer skill"),
        Field("photo_id", "照片 Photo (JPEG/PNG)", "file", required=True),
    ),
)
EDUCATION = Form(
    "educations",
    "添加学历 Add an education by hand",
    (
        Field("school", "学校 School", required=True),
        Field("specialty", "专业 Specialty", required=True),
        Field("level", "学历 Level", "select", _choices(rules.EDUCATION_LEVELS), True),
        Field("degree", "学位 Degree", "select", _choices(rules.DEGREES)),
        Field("study_mode", "学习形式 Study mode", "select", _choices(rules.STUDY_MODES), True),
        Field("start_date", "入学 Start", "date", required=True),
        Field("end_date", "毕业 End", "date", required=True),
        Field("before_work", "工作前学历 Obtained before work", "checkbox"),
        Field("overseas", "国（境）外学历 Overseas", "checkbox"),
        Field("certificate_id", "毕业证书 Certificate", "file"),
        Field("verification_letter_id", "学历认证书 Verification letter (overseas)", "file"),
    ),
    "添加 Add",
)
EDUCATION_MARK = Form(
    "education-mark",
    "学位与工作前学历 Degree and before-work",
    (
        Field("degree", "学位 Degree", "select", _choices(rules.DEGREES)),
        Field("before_work", "工作前学历 Before work", "checkbox"),
    ),
    "保存 Save",
)
QUALIFICATION = Form(
    "qualification",
    "资历信息 Qualifications and appointment",
    (
        Field("specialty", "现从事专业 Current specialty", required=True),
        Field("first_professional_work_date", "参加专业技术工作时间 First professional work", "date", required=True),
        Field("non_professional_years", "非专业技术工作年限 Non-professional years", "number"),
        Field("appointment.post", "现聘岗位 Post"),
        Field("appointment.appointed_on", "聘任时间 Appointed on", "date"),
        Field("appointment.proof_kind", "聘任证明类型 Proof kind", "select", _choices(rules.PROOF_KINDS), True),
        Field("appointment.proof_ids", "聘任证明 Proof (PDF/JPEG/PNG)", "files", required=True),
    ),
)
WORK = Form(
    "work-experiences",
    "添加工作经历 Add a work experience",
    (
        Field("status", "状态 Status", "select", _choices(rules.WORK_STATUSES), True),
        Field("unit_code", "工作单位 Unit (registered)", "select", required=True),
        Field("start_date", "开始 Start", "date", required=True),
        Field("end_date", "结束 End", "date"),
        Field("professional_post", "专业技术职务 Professional post"),
        Field("admin_post", "行政职务 Administrative post"),
        Field("role", "角色 Role", "select", _choices(rules.WORK_ROLES)),
        Field("main_work", "主要工作 Main work", "textarea"),
    ),
    "添加 Add",
)
CERTIFICATE = Form(
    "certificates",
    "添加证书 Add a certificate",
    (
        Field("kind", "类别 Kind", "select", _choices(rules.CERTIFICATE_KINDS), True),
        Field("name", "名称 Name", required=True, hint="如 工程师"),
        Field("level", "层级 Level", "select", choices(rules.TITLE_LEVELS)),
        Field("obtained_by", "取得方式 Obtained by", "select", _choices(rules.TITLE_OBTAINED_BY)),
        Field("number", "证书编号 Number"),
        Field("issued_on", "发证日期 Issued on", "date", required=True),
        Field("issuer", "发证机关 Issuer"),
        Field("attachment_id", "证书扫描件 Scan", "file", required=True),
    ),
    "添加 Add",
)
CONTINUING = Form(
    "continuing-education",
    "添加继续教育 Add continuing education",
    (
        Field("year", "年度 Year", "integer", required=True),
        Field("hours", "总学时 Hours", "number", required=True),
        Field("specialist_hours", "专业科目学时 Specialist hours", "number", required=True),
        Field("content", "内容 Content"),
    ),
    "添加 Add",
)
ASSESSMENT = Form(
    "annual-assessments",
    "添加年度考核 Add an annual assessment",
    (
        Field("year", "年度 Year", "integer", required=True),
        Field("result", "考核结果 Result", "select", _choices(rules.ASSESSMENT_RESULTS), True),
    ),
    "添加 Add",
)
ATTACHMENT = Form(
    "attachments", "上传附件 Upload an attachment", (Field("file", "文件 File", "file", required=True),), "上传 Upload"
)

# form key -> (form, HTTP method, API path); list sections add with POST and delete by id
FORMS: dict[str, tuple[Form, str, str]] = {
    "basic": (BASIC, "PATCH", "/api/v1/profile/basic"),
    "educations": (EDUCATION, "POST", "/api/v1/profile/educations"),
    "qualification": (QUALIFICATION, "PUT", "/api/v1/profile/qualification"),
    "work-experiences": (WORK, "POST", "/api/v1/profile/work-experiences"),
    "certificates": (CERTIFICATE, "POST", "/api/v1/profile/certificates"),
    "continuing-education": (CONTINUING, "POST", "/api/v1/profile/continuing-education"),
    "annual-assessments": (ASSESSMENT, "POST", "/api/v1/profile/annual-assessments"),
}
DELETABLE = ("educations", "work-experiences", "certificates", "continuing-education", "annual-assessments")


def _page(
    status: int = 200,
    failed: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
):
    api = backend()
    profile = api.get("profile", "/api/v1/profile")
    units = api.optional("profile", "/api/v1/organisations", {"items": []}, kind="unit", per_page=100)["items"]
    files = api.optional("profile", "/api/v1/profile/attachments", {"items": []}, per_page=100)["items"]
    completeness = api.get("profile", "/api/v1/profile/completeness")
    work = WORK.fields[1]
    forms = {key: form for key, (form, _, _) in FORMS.items()}
    forms["work-experiences"] = Form(
        WORK.key,
        WORK.title,
        tuple(
            Field(f.name, f.label, f.kind, tuple((u["code"], u["name"]) for u in units), f.required) if f is work else f
            for f in WORK.fields
        ),
        WORK.submit,
    )
    current = {"basic": profile["basic"], "qualification": profile["qualification"]}
    return render_template(
        "profile.html",
        profile=profile,
        completeness=completeness,
        files=files,
        forms=forms,
        current=current,
        failed=failed,
        errors=errors or {},
        values=values or {},
        mark=EDUCATION_MARK,
        upload=ATTACHMENT,
        word=word,
    ), status


@bp.get("/my/profile")
@login_required("applicant")
def profile():
    return _page()


def _refused(key: str, form: Form, error: ApiError | FormInvalid):
    if isinstance(error, ApiError) and (error.status == 401 or error.status >= 500):
        raise error
    errors = field_errors(form, error)
    flash(f"未能保存 Not saved: {'; '.join(errors.values())}", "error")
    return _page(422 if isinstance(error, FormInvalid) else error.status, key, errors, posted_values(form))


@bp.post("/my/profile/<key>")
@login_required("applicant")
def save(key: str):
    if key not in FORMS:
        return redirect(url_for("profile.profile"))
    form, method, path = FORMS[key]
    api = backend()
    try:
        api.call(method, "profile", path, json=body_of(form, api))
    except (ApiError, FormInvalid) as exc:
        return _refused(key, form, exc)
    flash(f"已保存 Saved: {form.title}", "ok")
    return redirect(url_for("profile.profile") + f"#{key}")


@bp.post("/my/profile/educations/<int:record_id>")
@login_required("applicant")
def mark_education(record_id: int):
    api = backend()
    try:
        api.call("PATCH", "profile", f"/api/v1/profile/educations/{record_id}", json=body_of(EDUCATION_MARK, api))
    except (ApiError, FormInvalid) as exc:
        return _refused(f"education-{record_id}", EDUCATION_MARK, exc)
    flash("学历已更新 Education saved", "ok")
    return redirect(url_for("profile.profile") + "#educations")


@bp.post("/my/profile/<key>/<int:record_id>/delete")
@login_required("applicant")
def delete(key: str, record_id: int):
    if key in DELETABLE:
        try:
            backend().call("DELETE", "profile", f"/api/v1/profile/{key}/{record_id}")
            flash("已删除 Deleted", "ok")
        except ApiError as exc:
            if exc.status == 401:
                raise
            flash(f"未能删除 Refused ({exc.status}): {exc.message()}", "error")
    return redirect(url_for("profile.profile") + f"#{key}")


@bp.post("/my/profile/educations/import")
@login_required("applicant")
def import_educations():
    try:
        found = backend().post("profile", "/api/v1/profile/educations/import")
        flash(f"已从学信网导入 {len(found or [])} 条学历 Imported from the register", "ok")
    except ApiError as exc:
        if exc.status == 401:
            raise
        flash(f"未能导入 Refused ({exc.status}): {exc.message()}", "error")
    return redirect(url_for("profile.profile") + "#educations")


@bp.post("/my/profile/attachments")
@login_required("applicant")
def upload():
    api = backend()
    try:
        if not body_of(ATTACHMENT, api).get("file"):
            raise FormInvalid({"file": "请选择文件 choose a file"})
    except (ApiError, FormInvalid) as exc:
        return _refused("attachments", ATTACHMENT, exc)
    flash("已上传 Uploaded", "ok")
    return redirect(url_for("profile.profile") + "#attachments")
