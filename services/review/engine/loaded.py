"""Workflows this process saved recently, kept to skip deserialising them on the next step.

Deserialising an instance's JSON is the costliest part of a step after SQL (bench/results.md:
2-22 ms a load, growing with return loops). A workflow goes in only when the transaction that
saved it commits, with the exact state string it was saved as; a load reuses it only when the
row it locked holds that same string, so a save by another process, a rolled-back save or a
changed diagram all miss and deserialise. Taking an entry removes it, so a step that changes the
object and then fails never leaves it behind; any rollback (savepoints included) drops what the
transaction would have kept. ``TITLES_WORKFLOW_CACHE`` sets how many are kept (0: none).

An entry also keeps what the step that saved it projected (the open task ids, the timer's due time):
the rows say exactly that while the row holds that state, so the next step need not walk the task
tree twice to find it out.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from shared import config

PENDING = "titles_review_loaded"  # Session.info key: instance id -> (state, workflow) saved in this transaction


class Loaded:
    def __init__(self, size: int | None = None):
        self._size = size
        self._entries: OrderedDict[str, tuple[str, Any, Any]] = OrderedDict()  # state, workflow, projected
        self._lock = threading.Lock()  # gunicorn's threads share the process

    @property
    def size(self) -> int:
        """As given, else the process's ``TITLES_WORKFLOW_CACHE``."""
        return config.settings().workflow_cache if self._size is None else self._size

    def take(self, instance_id: str, state: str) -> tuple[Any, Any] | None:
        """The kept workflow and what its step projected, if it was saved as exactly ``state``; it is no
        longer kept either way."""
        with self._lock:
            entry = self._entries.pop(instance_id, None)
        return (entry[1], entry[2]) if entry is not None and entry[0] == state else None

    def keep(self, instance_id: str, state: str, workflow: Any, projected: Any = None) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[instance_id] = (state, workflow, projected)
            self._entries.move_to_end(instance_id)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


LOADED = Loaded()


def saved(session: Session, instance_id: str, state: str, workflow: Any, projected: Any = None) -> None:
    """Note a workflow saved in this transaction, with what its rows say (``projected``); it is kept if
    the transaction commits."""
    if LOADED.size > 0:
        session.info.setdefault(PENDING, {})[instance_id] = (state, workflow, projected)


@event.listens_for(Session, "after_commit")
def _keep_committed(session: Session) -> None:
    for instance_id, (state, workflow, projected) in session.info.pop(PENDING, {}).items():
        LOADED.keep(instance_id, state, workflow, projected)


@event.listens_for(Session, "after_soft_rollback")
def _drop_rolled_back(session: Session, previous_transaction: Any) -> None:
    session.info.pop(PENDING, None)
