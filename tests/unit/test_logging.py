"""What the services' JSON logs carry (shared/observability/logging.py)."""

from __future__ import annotations

import json
import logging

from shared.observability.logging import configure


def test_the_engine_s_task_changes_with_their_data_stay_out_of_the_logs(capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure("review", "INFO")
        # As SpiffWorkflow logs each change of a task's state: the task's data, personal data included.
        logging.getLogger("spiff.task").info(
            "State changed to COMPLETED", extra={"data": {"id_number": "120101198806120032"}}
        )
        logging.getLogger("spiff.task").warning("a task failed")
        logging.getLogger("shared.web.app").info("request", extra={"path": "/api/v1/tasks"})
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(line["logger"], line["message"]) for line in lines] == [
        ("spiff.task", "a task failed"),
        ("shared.web.app", "request"),
    ]
    assert "120101198806120032" not in json.dumps(lines)
