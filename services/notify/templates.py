"""Message texts per kind, in Chinese, filled from the event data."""
from __future__ import annotations

from typing import Any

OUTCOMES = {"certified": "评审通过，已发证", "not_passed": "评审未通过"}
UNSTATED = "未说明"  # an optional field left empty (a return without a reason), never "None"

TEMPLATES: dict[str, tuple[str, str]] = {
    "stage_change": ("申报进度更新", "您的职称申报已进入“{stage_name}”环节。"),
    "return_notice": ("申报被退回修改", "您的职称申报在“{stage_name}”环节被退回，原因：{reason}。请在修改截止时间前修改并重新提交。"),
    "result": ("评审结果", "您的职称申报评审结果：{outcome_text}。"),
    "certificate_issued": ("电子职称证书已签发",
                           "您的{qualification_name}（{series}系列{level}）电子职称证书已签发，证书编号：{number}。"),
}


def render(kind: str, data: dict[str, Any]) -> tuple[str, str]:
    title, body = TEMPLATES[kind]
    values = {key: UNSTATED if value is None else value for key, value in data.items()}
    values.setdefault("outcome_text", OUTCOMES.get(str(data.get("outcome")), str(data.get("outcome"))))
    return title, body.format(**values)
