"""Doorbells (shared/messaging/wake.py): a ring wakes a waiting relay or consumer, here or in another
process, and is never lost between two looks for work; with nobody listening it does nothing."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

from shared.messaging import wake

# Far longer than any test waits: a wait that returns True was woken by a ring, not by its poll.
NEVER = 3600.0


def test_a_ring_with_nobody_listening_does_nothing(tmp_path: Path) -> None:
    bell = tmp_path / "outbox.db-relay"
    wake.ring(bell)  # never listened to: no file is made
    assert not bell.exists()
    with wake.Listener([bell]):
        pass
    wake.ring(bell)  # listened to once, nobody now
    assert bell.exists()


def test_a_ring_from_another_process_wakes_the_listener(tmp_path: Path) -> None:
    bell = tmp_path / "review.db-relay"
    with wake.Listener([bell]) as listener:
        ringer = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"from shared.messaging import wake; wake.ring(__import__('pathlib').Path({str(bell)!r}))",
            ]
        )
        assert listener.wait(NEVER) is True
        assert ringer.wait(30) == 0


def test_a_ring_before_the_wait_is_not_lost_and_clear_forgets_it(tmp_path: Path) -> None:
    bell = tmp_path / "queue"
    with wake.Listener([bell]) as listener:
        wake.ring(bell)  # while the listener was looking for work
        assert listener.wait(NEVER) is True
        wake.ring(bell)
        wake.ring(bell)
        listener.clear()  # before a look for work: what rang so far is covered by the look
        assert listener.wait(0.01) is False


def test_a_listener_on_several_bells_wakes_for_any(tmp_path: Path) -> None:
    bells = [tmp_path / "a", tmp_path / "b"]
    with wake.Listener(bells) as listener:
        wake.ring(bells[1])
        assert listener.wait(NEVER) is True


def test_clear_forgets_the_rings_of_every_bell_it_listens_to(tmp_path: Path) -> None:
    bells = [tmp_path / name for name in "abcd"]
    with wake.Listener(bells) as listener:
        for bell in (bells[0], bells[2], bells[2]):
            wake.ring(bell)
        listener.clear()
        assert listener.wait(0.01) is False  # nothing left over in any pipe
        wake.ring(bells[3])
        assert listener.wait(NEVER) is True  # and each still rings


def test_stop_ends_a_wait(tmp_path: Path) -> None:
    stop = threading.Event()
    with wake.Listener([tmp_path / "bell"]) as listener:
        threading.Timer(0.05, stop.set).start()
        assert listener.wait(NEVER, stop) is False
    assert wake.Poll().wait(NEVER, stop) is False


def test_a_deleted_bell_is_made_again_after_a_poll(tmp_path: Path) -> None:
    bell = tmp_path / "bell"
    with wake.Listener([bell]) as listener:
        bell.unlink()
        assert listener.wait(0.01) is False  # the poll notices and opens a new one
        wake.ring(bell)
        assert listener.wait(NEVER) is True


def test_which_databases_have_a_doorbell(tmp_path: Path) -> None:
    assert wake.outbox_bell(f"sqlite:///{tmp_path}/review.db") == tmp_path / "review.db-relay"
    assert wake.outbox_bell("sqlite://") is None
    assert wake.outbox_bell("sqlite:///:memory:") is None
    assert wake.outbox_bell("postgresql+psycopg://postgres@127.0.0.1/titles_review") is None


def test_rung_names_the_bells_whose_rings_were_read_once(tmp_path: Path) -> None:
    bells = [tmp_path / name for name in "abc"]
    with wake.Listener(bells) as listener:
        wake.ring(bells[0])
        wake.ring(bells[2])
        listener.clear()
        assert listener.rung() == {bells[0], bells[2]}
        assert listener.rung() == set()  # told once
        wake.ring(bells[1])
        assert listener.wait(NEVER) is True
        assert listener.rung() == {bells[1]}
        assert listener.listening == frozenset(bells)
