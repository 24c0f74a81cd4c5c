"""Structured JSON logs, one object per line, carrying the correlation id."""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from shared import config
from shared.observability import context

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": context.correlation_id.get(),
            "causation_id": context.causation_id.get(),
        }
        # Fields passed with extra={...} become top-level keys.
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(service: str, level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or config.settings().log_level)
    # kombu and amqp are chatty at INFO. SpiffWorkflow logs every task's every change of state at INFO with
    # the task's whole data: personal data (an applicant's id number) in the logs, hundreds of lines a
    # declaration, and a good part of a review step's time. The audit log records what each step did.
    for noisy in ("amqp", "kombu", "spiff"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
