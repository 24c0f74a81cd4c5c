"""One clock for the whole system: the "now" every service judges deadlines, periods and due
times by, and the instant every row is stamped with.

In production it is real time. A demonstration cannot wait a week for a publicity period, so
there is a *test clock*, switched on only by ``TITLES_TEST_CLOCK=1`` (``make run`` sets it and says
so; production never does). Then "now" is real time plus an offset kept in a small JSON file that
every process of the system reads (``TITLES_TEST_CLOCK_FILE``, default
``$TITLES_DATA_DIR/test-clock.json``), so one move moves every service at once. The offset only
grows (``advance``: forward, bounded); ``set_now_for_tests`` alone may go back, for test setup.

``now()`` runs on every row timestamp: with the test clock on it costs one ``stat`` of the file
and reads it again only when the file changed.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from shared import config, file_cache
from shared.errors import DomainError, NotFound

UTC = dt.UTC
BEIJING = dt.timezone(dt.timedelta(hours=8))

SETTING = "TITLES_TEST_CLOCK"
MIN_MOVE = 1  # seconds; a move of nothing is a mistake
MAX_MOVE = 366 * 86400  # one move: at most a (leap) year
# How far ahead of real time the test clock may run in all: far enough for any demonstration,
# near enough that no date computed from it can leave datetime's range.
MAX_OFFSET = 36600 * 86400  # a hundred years: `make bench` moves it 30 days per lifecycle


def enabled() -> bool:
    """Whether the test clock is on: only an explicit ``TITLES_TEST_CLOCK=1`` switches it on."""
    return config.settings().test_clock


def real_now() -> dt.datetime:
    """Real time, whatever the test clock says: for leases, token lifetimes and the clock's own audit."""
    return dt.datetime.now(UTC)


def now() -> dt.datetime:
    """The current instant (UTC, aware) on the system's clock."""
    real = real_now()
    if not enabled():
        return real
    return real + dt.timedelta(seconds=_read_offset(_path()))


def today() -> dt.date:
    """Today in Beijing on the system's clock: deadlines and periods are Beijing days."""
    return now().astimezone(BEIJING).date()


def end_of_day(day: dt.date) -> dt.datetime:
    """A deadline given as a date closes at 23:59:59 Beijing time that day (inclusive)."""
    return dt.datetime.combine(day, dt.time(23, 59, 59), BEIJING).astimezone(UTC)


def start_of_day(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0, 0), BEIJING).astimezone(UTC)


def offset_seconds() -> int:
    """How far the test clock runs ahead of real time (0 when it is off)."""
    return _read_offset(_path()) if enabled() else 0


def clock_file() -> Path:
    return Path(_path())


def _path() -> str:
    # A plain string, not resolved: building a Path costs more than the stat() now() is allowed.
    return config.settings().test_clock_file


# -- reading: kept while the file is unchanged, so now() stays one stat() (shared/file_cache.py) --

_kept: file_cache.Kept = {}


def _read_offset(path: str) -> int:
    try:
        return file_cache.read(path, _load_at, _kept)
    except FileNotFoundError:
        return 0


def _load_at(path: str) -> int:
    return _load(Path(path))


def _load(path: Path) -> int:
    try:
        value = json.loads(path.read_text("utf-8"))["offset_seconds"]
    except FileNotFoundError:
        return 0
    except (ValueError, KeyError, TypeError) as exc:
        # Never fall back to zero: that would move every service's time backwards.
        raise RuntimeError(
            f"the test clock file {path} is unreadable ({exc}); "
            "stop the system and delete it to start the clock again from real time"
        ) from exc
    if not isinstance(value, int) or isinstance(value, bool):
        raise RuntimeError(f"the test clock file {path} holds no whole number of seconds")
    return value


# -- moving -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Move:
    """One move of the test clock: the clock's instant before and after, and real time when it happened."""

    before: dt.datetime
    after: dt.datetime
    seconds: int
    offset_seconds: int  # after the move
    real_at: dt.datetime


def require_enabled() -> None:
    """A 404 naming the setting where the test clock is off: there is nothing to move."""
    if not enabled():
        raise NotFound.on(
            SETTING,
            "test_clock_off",
            f"the test clock is off: it exists only where {SETTING}=1 is set (测试时钟未开启)",
        )


def check_move(seconds: int, field: str = "seconds") -> None:
    """The bounds of one move (forward only, 1 second .. 366 days), as a 422 naming ``field``."""
    if seconds < 0:
        raise DomainError.on(field, "forward_only", "the test clock moves forwards only (测试时钟只能向前拨)")
    if seconds < MIN_MOVE:
        raise DomainError.on(
            field, "at_least_one_second", "a move of the test clock is at least one second (至少向前拨1秒)"
        )
    if seconds > MAX_MOVE:
        raise DomainError.on(
            field, "at_most_366_days", "a move of the test clock is at most 366 days (单次最多向前拨366天)"
        )


def advance(seconds: int, record: Callable[[Move], None] | None = None, field: str = "seconds") -> Move:
    """Move the test clock forward by ``seconds`` for every service.

    Under an exclusive lock on the clock file, so two moves at once both count. ``record`` (the
    audit) runs under that lock before the file is replaced: a move that cannot be recorded
    does not happen.
    """
    require_enabled()
    check_move(seconds, field)
    path = clock_file()
    with _locked(path):
        current = _load(path)
        if current + seconds > MAX_OFFSET:
            raise DomainError.on(
                field,
                "at_most_36600_days_ahead",
                "the test clock runs at most 36600 days ahead of real time "
                f"(测试时钟最多领先36600天); it is {current} seconds ahead now",
            )
        real = real_now()
        move = Move(
            before=real + dt.timedelta(seconds=current),
            after=real + dt.timedelta(seconds=current + seconds),
            seconds=seconds,
            offset_seconds=current + seconds,
            real_at=real,
        )
        if record is not None:
            record(move)
        _write(path, move.offset_seconds, real)
    return move


def set_now_for_tests(instant: dt.datetime) -> None:
    """Test setup only: put the test clock on ``instant``, backwards if need be. Not audited, never
    offered over HTTP: a running system moves its clock with ``advance`` alone."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime given; use an aware one")
    path = clock_file()
    with _locked(path):
        real = real_now()
        _write(path, round((instant - real).total_seconds()), real)


def reset_for_tests() -> None:
    """Test teardown: back to real time (the file stays, with no offset)."""
    path = clock_file()
    if path.exists():
        with _locked(path):
            _write(path, 0, real_now())


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    # The lock is a file of its own: the clock file is replaced on every write.
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write(path: Path, offset: int, real: dt.datetime) -> None:
    """Replace the file in one step: a reader sees the old offset or the new one, never half of it."""
    body = json.dumps({"offset_seconds": offset, "written_at": real.isoformat()})
    fd, temporary = tempfile.mkstemp(prefix=path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
