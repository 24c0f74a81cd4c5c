"""The system's clock over HTTP: what it says (anyone logged in) and, where the test clock is
switched on (TITLES_TEST_CLOCK=1), the title office moving it forward for every service."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields

from services.review import clock
from shared import clock as system_clock
from shared.errors import Forbidden
from shared.identity.flask_auth import current_principal
from shared.identity.principal import TITLE_OFFICE
from shared.web.blueprint import Blueprint
from shared.web.views import read_only, transaction

blp = Blueprint(
    "review_clock",
    __name__,
    url_prefix="/api/v1",
    description="The system's clock, and the test clock the title office moves",
)
BOUNDS = (
    f"one move is {system_clock.MIN_MOVE} second to {system_clock.MAX_MOVE // 86400} days; the clock runs at "
    f"most {system_clock.MAX_OFFSET // 86400} days ahead of real time"
)


class ClockAdvance(Schema):
    days = fields.Integer(
        load_default=0,
        strict=True,
        metadata={"description": "whole days to move forward (天数), added to seconds; " + BOUNDS},
    )
    seconds = fields.Integer(
        load_default=0,
        strict=True,
        metadata={"description": "seconds to move forward (秒数), added to days; forwards only"},
    )


class ClockMoveOut(Schema):
    id = fields.Integer()
    moved_by = fields.String(metadata={"description": "who moved it (the title office's user)"})
    moved_at = fields.DateTime(metadata={"description": "when, in real time"})
    from_at = fields.DateTime(data_key="from", metadata={"description": "the clock before the move"})
    to_at = fields.DateTime(data_key="to", metadata={"description": "the clock after the move"})
    seconds = fields.Integer()


class ClockOut(Schema):
    now = fields.DateTime(metadata={"description": "now on the system's clock (UTC)"})
    today = fields.Date(metadata={"description": "today in Beijing on the system's clock"})
    test_clock = fields.Boolean(metadata={"description": "whether the test clock is on (TITLES_TEST_CLOCK=1)"})
    offset_seconds = fields.Integer(metadata={"description": "how far the clock runs ahead of real time"})
    real_now = fields.DateTime(metadata={"description": "real time (UTC)"})
    moves = fields.List(
        fields.Nested(ClockMoveOut),
        metadata={"description": f"title office only: the moves, newest first (at most {clock.MOVES_SHOWN})"},
    )
    moves_total = fields.Integer(metadata={"description": "title office only: how many moves there were"})


def _title_office_on_test_clock(view: Callable[..., Any]) -> Callable[..., Any]:
    """Before the body is read: 401 without a login, 404 where the test clock is off (nothing to
    move, for anyone), 403 for anyone but the title office."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        principal = current_principal()
        system_clock.require_enabled()
        if not principal.has_role(TITLE_OFFICE):
            raise Forbidden.on(
                "role", "title_office_only", "only the title office moves the test clock (仅职称办可拨动测试时钟)"
            )
        return view(*args, **kwargs)

    return wrapper


@blp.route("/clock")
class ClockView(MethodView):
    @blp.response(200, ClockOut)
    @read_only
    def get(self, *, uow, principal):
        """The system's clock: now, today in Beijing, whether the test clock is on and how far ahead
        it runs; the title office also sees every move (who, when, from, to)."""
        return clock.state(uow, principal)


@blp.route("/clock/advance")
class ClockAdvanceView(MethodView):
    @_title_office_on_test_clock
    @blp.arguments(ClockAdvance)
    @blp.response(200, ClockMoveOut)
    @blp.alt_response(403, description="only the title office moves the test clock")
    @blp.alt_response(404, description="the test clock is off (TITLES_TEST_CLOCK is not 1): time never moves")
    @transaction
    def post(self, data, *, uow, principal):
        """Test clock only (TITLES_TEST_CLOCK=1, never in production): the title office moves the
        clock of every service forward, e.g. past a publicity period or a deadline. Forwards only,
        1 second to 366 days a move, at most 36600 days ahead of real time in all; every move is
        audited (GET /api/v1/clock) and logged."""
        # clock.move commits the audit row itself, under the clock's lock, before the clock moves.
        return clock.move(uow, principal, data["days"], data["seconds"])
