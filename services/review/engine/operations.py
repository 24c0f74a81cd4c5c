"""Service operations that diagrams call (service tasks), run in-process.

Each takes the unit of work and the instance's declaration id, plus the
task's parameters, and returns JSON-serialisable data for the task.
"""
from __future__ import annotations

import random
import secrets
from typing import Any, Callable

from sqlalchemy import select

from services.review.models import Expert, PanelDraw
from shared.errors import Conflict
from shared.uow import UnitOfWork

Operation = Callable[..., Any]


def draw_panel(uow: UnitOfWork, declaration_id: str, committee: str, size: int) -> list[str]:
    """Draw a panel at random from the committee's pool and record the draw with its seed."""
    pool = sorted(uow.session.scalars(select(Expert.subject).where(Expert.committee_code == committee)))
    if len(pool) < size:
        raise Conflict.on("panel_size", "pool_large_enough",
                          f"committee {committee} has {len(pool)} experts; the panel needs {size} (专家库人数不足)")
    seed = secrets.token_hex(16)
    # The recorded seed and the sorted pool reproduce the draw exactly.
    panel = random.Random(seed).sample(pool, size)
    uow.session.add(PanelDraw(declaration_id=declaration_id, committee_code=committee, seed=seed,
                              pool=pool, panel=panel))
    return panel


OPERATIONS: dict[str, Operation] = {"review.draw_panel": draw_panel}
