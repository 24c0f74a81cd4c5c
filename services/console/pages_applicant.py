"""Applicants' pages: my declarations with their stage and trail (submit a draft, withdraw while
the unit has not acted), my messages, my certificates with their PDF."""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from services.console.pages import act
from services.console.signin import backend, login_required

bp = Blueprint("applicant", __name__)


@bp.get("/my/declarations")
@login_required("applicant")
def declarations():
    page = backend().get("declaration", "/api/v1/declarations", page=request.args.get("page"), per_page=20)
    return render_template("declarations.html", page=page, title="我的申报 My declarations", mine=True)


@bp.post("/my/declarations/<declaration_id>/withdraw")
@login_required("applicant")
def withdraw(declaration_id: str):
    return act(
        lambda: backend().post("declaration", f"/api/v1/declarations/{declaration_id}/withdraw"),
        "已撤回 Withdrawn",
        url_for("pages.declaration", declaration_id=declaration_id),
    )


@bp.get("/my/messages")
@login_required()
def messages():
    page = backend().get("notify", "/api/v1/messages", page=request.args.get("page"), per_page=20)
    return render_template("messages.html", page=page)


@bp.post("/my/messages/<message_id>/read")
@login_required()
def mark_read(message_id: str):
    return act(
        lambda: backend().post("notify", f"/api/v1/messages/{message_id}/read"),
        "已读 Marked read",
        url_for("applicant.messages"),
    )


@bp.get("/my/certificates")
@login_required("applicant")
def certificates():
    return render_template("certificates.html", certificates=backend().get("certificate", "/api/v1/certificates"))
