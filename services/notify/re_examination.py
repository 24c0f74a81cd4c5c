"""Notices of a re-examination (复查): that the applicant may ask for it, and the committee office's
decision with its reason."""

from __future__ import annotations

import datetime as dt

from services.notify import service
from shared.contracts.review import ReExaminationDecided, ReExaminationOpened
from shared.uow import UnitOfWork

BEIJING = dt.timezone(dt.timedelta(hours=8))
DECISIONS = {"uphold": "维持原评审结果，评审未通过", "overturn": "改变原评审结果，申报转入评审结果公示"}


def _day(value: str) -> str:
    at = dt.datetime.fromisoformat(value).astimezone(BEIJING)
    return f"{at.year}年{at.month}月{at.day}日"


def opened(uow: UnitOfWork, opening: ReExaminationOpened) -> None:
    service.deliver(
        uow, opening.applicant, "re_examination_open", {**opening.values(), "open_until_text": _day(opening.open_until)}
    )


def decided(uow: UnitOfWork, decision: ReExaminationDecided) -> None:
    text = DECISIONS.get(decision.decision, decision.decision)
    service.deliver(uow, decision.applicant, "re_examination_decided", {**decision.values(), "decision_text": text})
