"""The one rule of a claimed task (认领): nobody but the person who claimed it acts on it."""

from __future__ import annotations

from services.review.models import Task
from shared.errors import Conflict


def ensure_not_claimed_by_another(task: Task, *allowed: str) -> None:
    """Refuse (409 ``unclaimed``) a task claimed by anyone but ``allowed``."""
    if task.status == "claimed" and task.claimed_by not in allowed:
        raise Conflict.on("task_id", "unclaimed", f"the task is claimed by {task.claimed_by} (已被他人认领)")
