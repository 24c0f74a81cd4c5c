"""Reviewers' pages: the queue, a task with its declaration, and the actions on it (claim, assign,
decide; publicity and objections; defence, attendance, recusal, votes and the tally).

Every page reads the review, declaration and profile APIs with the user's token; every form posts
here, is forwarded to the API, and comes back to the page with the service's answer (its problem
detail when it refuses, naming the field and the rule).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from services.console.backend import ApiError
from services.console.signin import backend, current_user, login_required, signed_in_user

bp = Blueprint("pages", __name__)

REVIEWERS = ("unit", "department", "committee", "expert", "title_office")
STAFF = ("unit", "department", "committee", "title_office")

LABELS = {
    # decisions (审核意见)
    "approve": "通过 approve",
    "return": "退回修改 return",
    "reject": "不通过 reject",
    "recommend": "推荐 recommend",
    "not_recommend": "不推荐 not recommend",
    "agree": "同意 agree",
    "disagree": "不同意 disagree",
    "abstain": "弃权 abstain",
    "accept": "接收 accept",
    "voted": "已表决 voted",
    # statuses
    "ready": "待办 ready",
    "claimed": "已认领 claimed",
    "completed": "已完成 completed",
    "cancelled": "已取消 cancelled",
    "running": "进行中 running",
    "draft": "暂存 draft",
    "preparing": "准备中 preparing",
    "submitted": "已提交 submitted",
    "in_review": "审核中 in review",
    "returned": "已退回 returned",
    "withdrawn": "已撤回 withdrawn",
    "refused": "未受理 refused",
    "discarded": "已废弃 discarded",
    "open": "未处理 open",
    "resolved": "已解决 resolved",
    "dismissed": "已关闭 dismissed",
    "issued": "有效 issued",
    "revoked": "已撤销 revoked",
    # modes
    "social_review": "社会化评审",
    "independent_review": "自主评审",
    "independent_appointment": "自主聘任",
    "return_and_resubmit": "退回修改与重新提交",
}


def label(value: Any) -> str:
    return LABELS.get(value, value) if isinstance(value, str) else ("" if value is None else str(value))


def act(call: Callable[[], Any], done: str, back: str):
    """Run one API call for a form; flash its outcome and go back to the page it came from."""
    try:
        call()
        flash(done, "ok")
    except ApiError as exc:
        if exc.status == 401:
            raise
        flash(f"未能完成 Refused ({exc.status}): {exc.message()}", "error")
    return redirect(back)


def form_text(name: str) -> str | None:
    value = (request.form.get(name) or "").strip()
    return value or None


@bp.get("/")
def home():
    user = current_user()
    if user is None:
        return render_template("home.html")
    api = backend()
    summary: dict[str, Any] = {}
    if user["role"] in REVIEWERS:
        summary["tasks"] = api.get("review", "/api/v1/tasks", per_page=5)
    if user["role"] == "applicant":
        summary["declarations"] = api.get("declaration", "/api/v1/declarations", per_page=5)
        summary["unread"] = api.optional("notify", "/api/v1/messages/unread-count", {})
    if user["role"] in ("title_office", "designer"):
        summary["incidents"] = api.get("review", "/api/v1/incidents", per_page=5)
    return render_template("home.html", summary=summary)


# -- the queue -------------------------------------------------------------------------------

QUEUE_FILTERS = (
    "stage",
    "declaration_id",
    "activity_id",
    "series",
    "level",
    "applicant",
    "due_before",
    "overdue",
    "sort",
    "page",
)


@bp.get("/tasks")
@login_required(*REVIEWERS)
def queue():
    filters = {name: request.args.get(name) for name in QUEUE_FILTERS if request.args.get(name)}
    statuses = request.args.getlist("status")
    params: dict[str, Any] = dict(filters)
    if statuses:
        params["status"] = statuses
    params.setdefault("per_page", 20)
    page = backend().call("GET", "review", "/api/v1/tasks", params=params)
    return render_template("queue.html", page=page, filters=filters, statuses=statuses)


@bp.get("/tasks/<task_id>")
@login_required(*REVIEWERS)
def task(task_id: str):
    user, api = signed_in_user(), backend()
    context = api.get("review", f"/api/v1/tasks/{task_id}/context")
    task, declaration_id = context["task"], context["task"]["declaration_id"]
    stage = task["stage"]
    extra: dict[str, Any] = {}
    if user["role"] in ("unit", "committee", "department", "title_office"):
        extra["publicities"] = api.optional("review", f"/api/v1/declarations/{declaration_id}/publicities", [])
    if user["role"] in ("committee", "expert"):
        extra["panel"] = api.optional("review", f"/api/v1/declarations/{declaration_id}/panel")
    if user["role"] == "committee":
        extra["tally"] = api.optional("review", f"/api/v1/declarations/{declaration_id}/tally")
    if user["role"] == "expert":
        extra["my_vote"] = api.optional("review", f"/api/v1/declarations/{declaration_id}/votes/mine")
    if user["role"] in STAFF and user.get("org") and task["status"] != "completed":
        staff = api.optional("profile", f"/api/v1/organisations/{user['org']}/staff", {"items": []}, per_page=100)
        extra["colleagues"] = [s for s in staff["items"] if s["role"] == user["role"]]
    return render_template(
        "task.html",
        context=context,
        task=task,
        stage=stage,
        action=task_action(task),
        attachments=attachments_in(context.get("declaration")),
        **extra,
    )


# A task whose diagram names an action (the task resource's ``action``) is completed by that action's
# endpoint, which has a form of its own on the task page, rather than by a decision. A vote is an action
# too, but it is cast as the task's decision (a secret ballot through the same completion); any other
# action, or none, is decided with the task's decisions. A task resource without ``action`` (a service
# of before it) is placed by its stage.
FORM_ACTIONS = ("publicity:unit", "publicity:result", "defence", "attendance")
ACTIONS_BY_STAGE = {
    "unit_publicity": "publicity:unit",
    "result_publicity": "publicity:result",
    "schedule_defence": "defence",
    "record_attendance": "attendance",
}


def task_action(task: dict[str, Any]) -> str | None:
    """The action whose form completes the task, or None where a decision does."""
    action = task.get("action") if "action" in task else ACTIONS_BY_STAGE.get(task.get("stage") or "")
    return action if action in FORM_ACTIONS else None


ATTACHMENT_KEYS = ("photo_id", "attachment_id", "proof_id", "verification_letter_id", "dispatch_proof_id")


def attachments_in(value: Any, found: list[dict[str, Any]] | None = None, key: str = "") -> list[dict[str, Any]]:
    """Every file the declaration refers to, once each: the entries of any ``attachments`` list
    ({"id", "name"}) and the profile snapshot's file references (photo, proofs, certificate scans)."""
    found = [] if found is None else found

    def add(file_id: Any, name: str) -> None:
        if isinstance(file_id, str) and file_id and all(f["id"] != file_id for f in found):
            found.append({"id": file_id, "name": name})

    if isinstance(value, dict):
        if key == "attachments" and "id" in value:
            add(value["id"], str(value.get("name") or value["id"]))
        for name, item in value.items():
            if name in ATTACHMENT_KEYS:
                add(item, name)
            elif name == "proof_ids" and isinstance(item, list):
                for file_id in item:
                    add(file_id, "proof")
            else:
                attachments_in(item, found, name)
    elif isinstance(value, list):
        for item in value:
            attachments_in(item, found, key)
    return found


def _back(task_id: str) -> str:
    return request.form.get("back") or url_for("pages.task", task_id=task_id)


@bp.post("/tasks/<task_id>/claim")
@login_required(*REVIEWERS)
def claim(task_id: str):
    return act(lambda: backend().post("review", f"/api/v1/tasks/{task_id}/claim"), "已认领 Claimed", _back(task_id))


@bp.post("/tasks/<task_id>/unclaim")
@login_required(*REVIEWERS)
def unclaim(task_id: str):
    return act(lambda: backend().post("review", f"/api/v1/tasks/{task_id}/unclaim"), "已释放 Released", _back(task_id))


@bp.post("/tasks/<task_id>/assign")
@login_required(*STAFF)
def assign(task_id: str):
    assignee = form_text("assignee")
    return act(
        lambda: backend().post("review", f"/api/v1/tasks/{task_id}/assign", {"assignee": assignee}),
        f"已指派给 {assignee} Assigned",
        _back(task_id),
    )


@bp.post("/tasks/<task_id>/complete")
@login_required(*REVIEWERS)
def complete(task_id: str):
    decision, reason = form_text("decision"), form_text("reason")
    try:
        backend().post("review", f"/api/v1/tasks/{task_id}/complete", {"decision": decision, "reason": reason})
    except ApiError as exc:
        if exc.status == 401:
            raise
        flash(f"未能完成 Refused ({exc.status}): {exc.message()}", "error")
        return redirect(url_for("pages.task", task_id=task_id))
    flash(f"已办理：{label(decision)} — Task completed", "ok")
    return redirect(url_for("pages.queue"))


# -- publicity and objections ----------------------------------------------------------------


@bp.post("/declarations/<declaration_id>/publicities")
@login_required("unit", "committee")
def start_publicity(declaration_id: str):
    body = {"kind": form_text("kind"), "evidence": form_text("evidence"), "starts_on": form_text("starts_on")}
    return act(
        lambda: backend().post(
            "review",
            f"/api/v1/declarations/{declaration_id}/publicities",
            {k: v for k, v in body.items() if v is not None},
        ),
        "公示已开始 Publicity started",
        request.form.get("back") or url_for("pages.home"),
    )


@bp.post("/publicities/<int:publicity_id>/objections")
@login_required("unit", "committee")
def record_objection(publicity_id: int):
    return act(
        lambda: backend().post(
            "review", f"/api/v1/publicities/{publicity_id}/objections", {"content": form_text("content")}
        ),
        "异议已登记 Objection recorded",
        request.form.get("back") or url_for("pages.home"),
    )


@bp.post("/objections/<int:objection_id>/resolve")
@login_required("unit", "committee")
def resolve_objection(objection_id: int):
    body = {"upheld": request.form.get("upheld") == "true", "resolution": form_text("resolution")}
    return act(
        lambda: backend().post("review", f"/api/v1/objections/{objection_id}/resolve", body),
        "异议已处理 Objection resolved",
        request.form.get("back") or url_for("pages.home"),
    )


# -- panel: defence, attendance, recusal ------------------------------------------------------


@bp.post("/declarations/<declaration_id>/defence")
@login_required("committee")
def schedule_defence(declaration_id: str):
    at = form_text("at")
    if at and len(at) == 16:  # <input type=datetime-local> gives minutes, no zone: Beijing time
        at += ":00+08:00"
    return act(
        lambda: backend().post(
            "review", f"/api/v1/declarations/{declaration_id}/defence", {"at": at, "place": form_text("place")}
        ),
        "答辩已安排 Defence scheduled",
        request.form.get("back") or url_for("pages.home"),
    )


@bp.post("/declarations/<declaration_id>/attendance")
@login_required("committee")
def record_attendance(declaration_id: str):
    return act(
        lambda: backend().post(
            "review",
            f"/api/v1/declarations/{declaration_id}/panel/attendance",
            {"present": request.form.getlist("present")},
        ),
        "出席情况已记录 Attendance recorded",
        request.form.get("back") or url_for("pages.home"),
    )


@bp.post("/declarations/<declaration_id>/recusal")
@login_required("expert")
def recuse(declaration_id: str):
    return act(
        lambda: backend().post(
            "review", f"/api/v1/declarations/{declaration_id}/panel/recusal", {"reason": form_text("reason")}
        ),
        "已申请回避 Recused",
        request.form.get("back") or url_for("pages.home"),
    )


# -- declarations seen by staff --------------------------------------------------------------


@bp.get("/declarations")
@login_required(*STAFF)
def declarations():
    page = backend().get(
        "declaration", "/api/v1/declarations/at-my-organisation", page=request.args.get("page"), per_page=20
    )
    return render_template(
        "declarations.html", page=page, title="本单位经手的申报 Declarations at my organisation", mine=False
    )
