"""Pages for process designers and the title office: processes and their diagram (bpmn-js,
coloured from the process view API), the audit trail, deployed versions and their diff, incidents
with retry and dismiss, suspend and resume, and statistics drawn as bar charts."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, url_for

from services.console.pages import act, form_text
from services.console.signin import backend, current_user, login_required

bp = Blueprint("office", __name__)
OPERATORS = ("title_office", "designer")


@bp.get("/processes")
@login_required(*OPERATORS)
def processes():
    params = {name: request.args.get(name) for name in ("status", "process_id", "page") if request.args.get(name)}
    page = backend().get("review", "/api/v1/processes", per_page=20, **params)
    return render_template("processes.html", page=page, filters=params)


@bp.get("/processes/<declaration_id>")
@login_required(*OPERATORS)
def process(declaration_id: str):
    api = backend()
    view = api.get("review", f"/api/v1/processes/{declaration_id}/view")
    audit = api.optional("review", f"/api/v1/processes/{declaration_id}/audit")
    incidents = api.get("review", "/api/v1/incidents", status="all", declaration_id=declaration_id, per_page=50)
    return render_template(
        "process.html",
        view=view,
        audit=audit,
        incidents=incidents["items"],
        declaration_id=declaration_id,
        timers=waiting_timers(view),
    )


def waiting_timers(view: dict[str, Any]) -> list[dict[str, Any]]:
    """Timers the process waits on, with their due time, as far as the process view gives them
    (``timers`` when the review service reports them; nothing otherwise)."""
    timers = []
    for entry in view.get("timers") or []:
        if isinstance(entry, dict):
            timers.append(
                {
                    "element": entry.get("element") or entry.get("bpmn_id"),
                    "due_at": entry.get("due_at") or entry.get("fires_at"),
                    "process": entry.get("process_id") or view.get("process_id"),
                }
            )
    return timers


def _back_to_process(declaration_id: str) -> str:
    return request.form.get("back") or url_for("office.process", declaration_id=declaration_id)


@bp.post("/instances/<declaration_id>/suspend")
@login_required("title_office")
def suspend(declaration_id: str):
    return act(
        lambda: backend().post(
            "review", f"/api/v1/instances/{declaration_id}/suspend", {"reason": form_text("reason")}
        ),
        "流程已挂起 Suspended",
        _back_to_process(declaration_id),
    )


@bp.post("/instances/<declaration_id>/resume")
@login_required("title_office")
def resume(declaration_id: str):
    return act(
        lambda: backend().post("review", f"/api/v1/instances/{declaration_id}/resume", {"reason": form_text("reason")}),
        "流程已恢复 Resumed",
        _back_to_process(declaration_id),
    )


@bp.get("/incidents")
@login_required(*OPERATORS)
def incidents():
    status = request.args.get("status") or "open"
    page = backend().get("review", "/api/v1/incidents", status=status, page=request.args.get("page"), per_page=20)
    return render_template("incidents.html", page=page, status=status)


@bp.post("/incidents/<int:incident_id>/retry")
@login_required(*OPERATORS)
def retry(incident_id: int):
    return act(
        lambda: backend().post("review", f"/api/v1/incidents/{incident_id}/retry"),
        f"异常 {incident_id} 已重试 Retried",
        request.form.get("back") or url_for("office.incidents"),
    )


@bp.post("/incidents/<int:incident_id>/dismiss")
@login_required(*OPERATORS)
def dismiss(incident_id: int):
    return act(
        lambda: backend().post("review", f"/api/v1/incidents/{incident_id}/dismiss", {"reason": form_text("reason")}),
        f"异常 {incident_id} 已关闭 Dismissed",
        request.form.get("back") or url_for("office.incidents"),
    )


@bp.get("/versions")
@login_required(*OPERATORS)
def versions():
    api = backend()
    listing = api.get("review", "/api/v1/definitions/versions")
    old, new = request.args.get("from"), request.args.get("to")
    diff = api.get("review", "/api/v1/definitions/diff", **{"from": old, "to": new}) if old and new else None
    return render_template("versions.html", versions=listing, diff=diff, old=old, new=new)


@bp.get("/statistics")
@login_required("unit", "department", "committee", "title_office")
def statistics():
    params = {name: request.args.get(name) for name in ("mode", "series", "level") if request.args.get(name)}
    stats = backend().get("review", "/api/v1/statistics", **params)
    charts = [
        ("按阶段 By stage", stats.get("by_stage") or {}),
        ("按评价方式 By mode", stats.get("by_mode") or {}),
        ("按系列 By series", stats.get("by_series") or {}),
        ("按层级 By level", stats.get("by_level") or {}),
        ("按状态 By status", stats.get("by_status") or {}),
    ]
    time_in_stage = {
        stage: row.get("median_hours") or 0
        for stage, row in (stats.get("time_in_stage") or {}).items()
        if isinstance(row, dict)
    }
    return render_template(
        "statistics.html",
        stats=stats,
        charts=[bars(t, d) for t, d in charts if d],
        time_chart=bars("各阶段用时中位数（小时）Median hours in stage", time_in_stage) if time_in_stage else None,
        filters=params,
        user=current_user(),
    )


def bars(title: str, data: dict[str, Any], width: int = 560, row: int = 26) -> dict[str, Any]:
    """A horizontal bar chart's geometry, drawn as SVG by the template (no chart library needed)."""
    items = sorted(((str(k), float(v or 0)) for k, v in data.items()), key=lambda kv: -kv[1])
    top = max((v for _, v in items), default=0) or 1
    label_width, bar_width = 200, width - 200 - 60
    rows = [
        {
            "label": k,
            "value": int(v) if v.is_integer() else round(v, 1),
            "y": i * row,
            "width": max(1, round(bar_width * v / top)) if v else 0,
        }
        for i, (k, v) in enumerate(items)
    ]
    return {"title": title, "rows": rows, "height": len(rows) * row + 4, "width": width, "label_width": label_width}


@bp.get("/clock")
@login_required("title_office")
def clock():
    """The system's clock; with the test clock on (TITLES_TEST_CLOCK=1, never in production) the title
    office moves it forwards here, e.g. past a publicity period."""
    return render_template("clock.html", clock=backend().get("review", "/api/v1/clock"))


@bp.post("/clock/advance")
@login_required("title_office")
def advance_clock():
    try:
        days = int(request.form.get("days") or 0)
    except ValueError:
        days = 0
    return act(
        lambda: backend().post("review", "/api/v1/clock/advance", {"days": days}),
        f"时钟已前进 {days} 天 The clock moved {days} days forward",
        url_for("office.clock"),
    )
