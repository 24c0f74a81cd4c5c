"""Message texts per kind, in Chinese, filled from the event data.

The texts live in a JSON file an operator can edit: ``message_templates.json``
beside this module, or the file named by ``NOTIFY_TEMPLATES``. It is read again
when it changes, so an edit needs no restart.
"""

from __future__ import annotations

import json
import string
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What each way a review ends means to the applicant (review.completed.v1's outcome).
from shared import config
from shared.contracts.review import OUTCOMES

UNSTATED = "未说明"  # an optional field left empty (a return without a reason), never "None"
DEFAULT_FILE = Path(__file__).with_name("message_templates.json")

_lock = threading.Lock()
_loaded: dict[str, Any] = {}


@dataclass(frozen=True)
class Rendered:
    title: str
    body: str
    sms: str


def template_file() -> Path:
    return Path(config.settings().notify_templates or DEFAULT_FILE)


def templates() -> dict[str, dict[str, str]]:
    path = template_file()
    stamp = (str(path), path.stat().st_mtime_ns)
    with _lock:
        if _loaded.get("stamp") != stamp:
            texts = json.loads(path.read_text(encoding="utf-8"))
            _loaded.update(stamp=stamp, texts={k: v for k, v in texts.items() if not k.startswith("_")})
        return _loaded["texts"]


class _Values(dict):
    def __missing__(self, key: str) -> str:
        return UNSTATED


class _Formatter(string.Formatter):
    def get_field(self, field_name: str, args: Any, kwargs: Any) -> Any:
        # Only plain names: "{a.b}" or "{a[0]}" in an edited file must not reach into objects.
        return kwargs[field_name], field_name


def _fill(text: str, values: _Values) -> str:
    return _Formatter().vformat(text, (), values)


def render(kind: str, data: dict[str, Any]) -> Rendered:
    texts = templates()[kind]
    values = _Values({key: UNSTATED if value is None or value == "" else value for key, value in data.items()})
    outcome = data.get("outcome")
    values.setdefault("outcome_text", OUTCOMES.get(str(outcome), str(outcome) if outcome else UNSTATED))
    if "upheld" in data:
        values["upheld_text"] = "举报属实，已按规定处理" if data["upheld"] else "经核查，举报不属实"
    return Rendered(
        _fill(texts["title"], values), _fill(texts["body"], values), _fill(texts.get("sms", texts["title"]), values)
    )
