"""``titles run``'s supervision: restarts with backoff, gives up loudly, leaves no orphan, names a
port's holder. Real processes throughout."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import wait_for
from titles import supervisor


def child(tmp_path: Path, name: str, code: str) -> supervisor.Child:
    return supervisor.Child(name, [sys.executable, "-c", code], dict(os.environ), tmp_path / f"{name}.log")


def test_a_child_that_dies_is_restarted_with_growing_delays_then_given_up_on(tmp_path):
    dying = child(tmp_path, "dying", "import sys; print('started', flush=True); sys.exit(3)")
    said: list[str] = []
    supervisor.spawn(dying)
    code = supervisor.supervise([dying], lambda: False, said.append, poll=0.02, max_deaths=3, max_backoff=0.2)
    assert code == 1
    restarts = [line for line in said if "restarting it in" in line]
    assert [line.split("restarting it in ")[1].split(" s")[0] for line in restarts] == ["0.2", "0.2"]
    assert "exited with 3, 3 times in a row: stopping everything" in said[-1]
    assert (tmp_path / "dying.log").read_text().count("started") == 3  # started, restarted twice


def test_the_backoff_doubles_from_one_second_up_to_its_bound(tmp_path):
    dying = child(tmp_path, "dying", "import sys; sys.exit(1)")
    said: list[str] = []
    supervisor.spawn(dying)
    deaths = iter(range(100))
    supervisor.supervise([dying], lambda: next(deaths) > 40, said.append, poll=0.02, max_deaths=99, max_backoff=30)
    assert said[0].startswith("process dying exited with 1; restarting it in 1 s")


def test_a_child_that_keeps_running_is_left_alone_and_stopping_ends_supervision(tmp_path):
    steady = child(tmp_path, "steady", "import time; time.sleep(30)")
    said: list[str] = []
    supervisor.spawn(steady)
    polls = iter(range(100))
    try:
        assert supervisor.supervise([steady], lambda: next(polls) >= 10, said.append, poll=0.01) == 0
        assert said == [] and steady.process.poll() is None
    finally:
        supervisor._stop([steady])
    assert steady.process.poll() is not None


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_children_end_when_the_supervisor_is_killed_outright(tmp_path):
    pid_file = tmp_path / "child.pid"
    script = textwrap.dedent(f"""
        import os, sys, time
        from pathlib import Path
        from titles import supervisor
        sleeper = supervisor.Child("sleeper", [sys.executable, "-c", "import time; time.sleep(60)"],
                                   dict(os.environ), Path({str(tmp_path / "sleeper.log")!r}))
        supervisor.spawn(sleeper)
        Path({str(pid_file)!r}).write_text(str(sleeper.process.pid))
        time.sleep(60)
    """)
    boss = subprocess.Popen([sys.executable, "-c", script], cwd=supervisor.ROOT)
    try:
        child_pid = int(wait_for("the child's pid", lambda: pid_file.exists() and pid_file.read_text()))
        assert _alive(child_pid)
        boss.send_signal(signal.SIGKILL)
        boss.wait(10)
        wait_for("the orphan to end", lambda: not _alive(child_pid), timeout=10)
    finally:
        if boss.poll() is None:
            boss.kill()


POLICY = "import os; print('policy', os.sched_getscheduler(0), flush=True)"


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux's scheduling policies")
def test_a_batch_child_runs_under_batch_scheduling_and_its_threads_too(tmp_path):
    threaded = (
        "import os, threading; seen = []; "
        "t = threading.Thread(target=lambda: seen.append(os.sched_getscheduler(0))); t.start(); t.join(); "
        "print('policy', os.sched_getscheduler(0), seen[0], flush=True)"
    )
    batch = child(tmp_path, "batch", threaded)
    batch.batch = True
    plain = child(tmp_path, "plain", POLICY)
    for started in (batch, plain):
        supervisor.spawn(started).wait(10)
    assert (tmp_path / "batch.log").read_text().split() == ["policy", str(os.SCHED_BATCH), str(os.SCHED_BATCH)]
    assert (tmp_path / "plain.log").read_text().split() == ["policy", str(os.sched_getscheduler(0))]


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="Linux's scheduling policies")
def test_a_batch_child_the_system_refuses_the_policy_still_starts_under_the_default_one(tmp_path, monkeypatch):
    def refused(*_: object) -> None:
        raise PermissionError("sched_setscheduler refused")

    monkeypatch.setattr(os, "sched_setscheduler", refused)  # the forked child runs the hook with it
    batch = child(tmp_path, "batch", POLICY)
    batch.batch = True
    assert supervisor.spawn(batch).wait(10) == 0
    assert (tmp_path / "batch.log").read_text().split() == ["policy", str(os.sched_getscheduler(0))]


def test_titles_run_schedules_every_process_it_starts_as_a_batch_process(tmp_path):
    started = supervisor.children_of(tmp_path, tmp_path)
    assert {child.name: child.batch for child in started} == {
        "web": True,
        "review-http": True,
        "work": True,
        "review-work": True,
    }


def test_a_taken_port_is_named_with_the_process_holding_it():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        holder = supervisor.port_holder(port)
        assert holder is not None and holder.startswith(f"pid {os.getpid()}:")
        assert "python" in holder or "pytest" in holder
    assert supervisor.port_holder(port) is None


def test_free_ports_handed_out_are_never_the_same_twice():
    # Plain binds to port 0 give the same port twice within a few hundred asks here.
    ports = [supervisor.free_port() for _ in range(1000)]
    assert len(set(ports)) == len(ports)


def test_a_port_given_to_two_services_is_named_before_anything_starts(monkeypatch):
    from shared import config

    for name in config.PORTED:
        monkeypatch.setenv(f"{name.upper()}_PORT", str(supervisor.free_port()))
    monkeypatch.setenv("CONSOLE_PORT", os.environ["NOTIFY_PORT"])
    port = os.environ["NOTIFY_PORT"]
    assert supervisor.taken_ports() == [f"port {port} is given to both notify (NOTIFY_PORT) and console (CONSOLE_PORT)"]
