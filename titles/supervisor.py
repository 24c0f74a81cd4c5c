"""``titles run``: the whole system as local processes on the embedded default.

Migrates, deploys the diagrams, loads the demonstration data (in a child process, so this one stays
small), then starts the development identity issuer, the HTTP services and the web console under
one gunicorn server, the review's under one of its own, each
other service's consumer and outbox relay and the notify dispatcher as threads of one process, and the review's
consumer, relay and scheduler as threads of another (``SERVED_APART``; ``titles/groups.py``; ``commands()``
lists the same processes one by one, as production runs them). Ctrl-C (or
SIGTERM) stops every process it started, and a child ends by itself when
``titles run`` ends however it ends (killed too: the kernel tells it), so no
orphan keeps a port. A child that dies is restarted with a growing delay and
the restart is logged; one that keeps dying stops everything with a non-zero
exit, naming it. A port already taken is named with the process holding it
before anything starts.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shared import config
from shared.config import PORTED, SERVICES

ROOT = Path(__file__).resolve().parents[1]
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


# A child that ran this long without dying is healthy again: its next death restarts it at once.
STABLE_AFTER_S = 60.0
# Consecutive deaths (none lasting STABLE_AFTER_S) after which the supervisor gives up.
MAX_QUICK_DEATHS = 5
MAX_BACKOFF_S = 30.0
PR_SET_PDEATHSIG = 1


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path = ROOT
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    deaths: int = 0  # in a row, without a stable run between
    restart_at: float | None = None
    parent: int = field(default_factory=os.getpid)
    batch: bool = False  # scheduled as a batch process: woken, it does not preempt a running one (BATCH)


def _in_child(parent: int, batch: bool = False) -> Callable[[], None]:
    """Run in the child before exec: with ``batch`` it asks Linux's batch scheduling (``SCHED_BATCH``; any user
    may), which the threads and processes it starts inherit; and the kernel sends it SIGTERM when ``titles run``
    dies, even by SIGKILL (Linux's parent-death signal), so no process outlives the supervisor."""

    def arm() -> None:
        if batch and hasattr(os, "SCHED_BATCH"):  # (not Linux: the default policy)
            try:
                os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
            except OSError:  # refused (a sandbox's system-call filter, say): the default policy, as elsewhere
                pass
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):  # not Linux: Ctrl-C and SIGTERM still stop every child
            return
        if os.getppid() != parent:  # the parent died before the signal was armed
            os.kill(os.getpid(), signal.SIGTERM)

    return arm


def spawn(child: Child) -> subprocess.Popen[bytes]:
    with open(child.log_path, "ab") as log_file:  # the child keeps its own descriptor
        process = subprocess.Popen(
            child.argv,
            env=child.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=child.cwd,
            start_new_session=True,
            preexec_fn=_in_child(child.parent, child.batch),
        )
    child.process, child.started_at, child.restart_at = process, time.monotonic(), None
    return process


def supervise(
    children: list[Child],
    stopping: Callable[[], bool],
    say: Callable[[str], None],
    poll: float = 0.5,
    stable_after: float = STABLE_AFTER_S,
    max_deaths: int = MAX_QUICK_DEATHS,
    max_backoff: float = MAX_BACKOFF_S,
) -> int:
    """Keep the children running until ``stopping()``: a child that dies is restarted after 1, 2,
    4 ... seconds (at most ``max_backoff``); returns 1 once one died ``max_deaths`` times in a row."""
    while not stopping():
        now = time.monotonic()
        for child in children:
            if child.process is None:
                if child.restart_at is not None and now >= child.restart_at:
                    process = spawn(child)
                    say(f"process {child.name} restarted (pid {process.pid})")
                continue
            code = child.process.poll()
            if code is None:
                if child.deaths and now - child.started_at >= stable_after:
                    child.deaths = 0
                continue
            child.deaths += 1
            child.process = None
            if child.deaths >= max_deaths:
                say(
                    f"process {child.name} exited with {code}, {child.deaths} times in a row: stopping "
                    f"everything; see {child.log_path}"
                )
                return 1
            delay = min(max_backoff, 2.0 ** (child.deaths - 1))
            child.restart_at = now + delay
            say(
                f"process {child.name} exited with {code}; restarting it in {delay:g} s "
                f"(death {child.deaths} of {max_deaths} in a row); see {child.log_path}"
            )
        time.sleep(poll)
    return 0


def port_holder(port: int, host: str = "127.0.0.1") -> str | None:
    """None if ``port`` can be listened on; else who holds it ("pid 123: gunicorn -c ..." when the
    process can be found through /proc, else a plain "in use")."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
            return None
        except OSError:
            pass
    for pid, cmdline in _listeners(port):
        return f"pid {pid}: {cmdline}"
    return "in use by a process this user cannot see"


def _listeners(port: int) -> list[tuple[int, str]]:
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])  # state 0A: LISTEN
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            descriptors = list((proc / "fd").iterdir())
        except OSError:
            continue  # gone, or another user's
        sockets = set()
        for fd in descriptors:
            try:
                sockets.add(os.readlink(fd))
            except OSError:
                continue  # closed meanwhile (the listing's own descriptor among them)
        if any(f"socket:[{inode}]" in sockets for inode in inodes):
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
            found.append((int(proc.name), cmdline[:200]))
    return found


def _bin(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def _env(service: str, data: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The workers' metrics beside the web server's, so /metrics shows them too.
    metrics_dir = data / "metrics" / "web"
    env.update(TITLES_DATA_DIR=str(data), TITLES_SERVICE=service, PROMETHEUS_MULTIPROC_DIR=str(metrics_dir))
    env.setdefault("WEB_CONCURRENCY", "1")  # SQLite and two cores: one worker, several threads
    env.setdefault("WEB_THREADS", "8")
    env.setdefault("PYTHONUNBUFFERED", "1")
    # The demonstration's test clock runs into years the holiday calendar does not know yet.
    env.setdefault("TITLES_WORKDAYS_PROVISIONAL", "1")
    return env


def commands() -> list[tuple[str, str, list[str]]]:
    """(name, service, argv) of every long-running process, one by one, as production runs them
    (deploy/kubernetes and docker-compose.yml have one of each; ``titles run`` groups them, see
    ``grouped()``)."""
    from titles.groups import WEB_APPS

    gunicorn = [_bin("gunicorn"), "-c", str(GUNICORN_CONF)]
    titles = [_bin("titles")]

    def web(name: str) -> list[str]:
        return gunicorn + [f"{WEB_APPS[name]}()"]

    procs = [
        ("issuer", "issuer", web("issuer")),
        # The certificates' timestamps and the development CA's CRL (services/certificate/dev_tsa.py).
        ("tsa", "tsa", web("tsa")),
    ]
    for service in SERVICES:
        procs.append((f"{service}-http", service, web(service)))
        procs.append((f"{service}-consumer", service, titles + ["consume", service]))
        procs.append((f"{service}-relay", service, titles + ["relay", service]))
    procs.append(("review-scheduler", "review", titles + ["scheduler"]))
    procs.append(("notify-dispatcher", "notify", titles + ["dispatch"]))
    procs.append(("console", "console", web("console")))
    return procs


# Services with processes of their own under ``titles run``: the review's, whose task completions are the hot
# path. Its HTTP app has a server of its own, so a completion never waits for the interpreter lock behind another
# app's request; its consumer, relay and scheduler run in ``<service>-work`` beside ``work``, so while one of them
# holds the review's write lock (an instance started, a timer fired: an engine step each) it waits for no
# certificate drawn or declaration event handled in the same interpreter. Together with those, one held the
# review database's lock 15 ms a write transaction for 5 ms of CPU; apart, 9-10 ms. Six pairs of `make bench`
# against its parent gave 1.17 times the lifecycles a second on 0.88 times the CPU a lifecycle, for about 85 MiB
# more in all; ten later pairs of both that session's changes against its start gave 1.00, and eight pairs of this
# change alone, measured again the next session, 1.06 (seven of eight above 1) on 0.98 times the CPU
# (bench/results.md, nineteenth and twentieth sessions).
SERVED_APART = ("review",)

# Every process ``titles run`` starts is scheduled as a batch process (Linux's ``SCHED_BATCH``): one that wakes
# (a request arrived, a message rung, a lock given back) waits for the running one to block or use up its slice,
# instead of preempting it at once. Sixteen clients keep some forty threads of four processes waking on two cores;
# the thread preempted may hold its interpreter's lock (its process's other threads wait) or the review's write
# lock (every writer waits), and each switch costs the caches. Involuntary context switches fell from about 1,460
# to 660 a lifecycle; ten pairs of `make bench` against its parent gave 1.16 times the lifecycles a second on 0.87
# times the CPU a lifecycle embedded, eight on PostgreSQL + RabbitMQ 1.06 on 0.97 (bench/results.md, twentieth
# session). A nice value for the other apps' server, kept a session, was dropped then: each child leads a session
# of its own, hence an autogroup of its own where the kernel has them, and a nice value weighs only within its
# group; given to the group instead, it gave 0.99.
BATCH = True


def grouped() -> list[tuple[str, str, list[str]]]:
    """(name, service, argv) of what ``titles run`` starts: the processes of ``commands()`` grouped, every
    HTTP app but those ``SERVED_APART`` in one gunicorn server (a port each), every worker but theirs as a
    thread of one process (``work``), and theirs as threads of one process a service (``<service>-work``)."""
    by_name = {name: argv for name, _, argv in commands()}
    together = [name for name in PORTED if name not in SERVED_APART]
    binds = [arg for name in together for arg in ("-b", f"127.0.0.1:{config.port(name)}")]
    workers = [name for name, argv in by_name.items() if Path(argv[0]).name == "titles"]
    web = [_bin("gunicorn"), "-c", str(GUNICORN_CONF), *binds, f"titles.groups:create_app({','.join(together)!r})"]
    apart = [(f"{name}-http", name, by_name[f"{name}-http"]) for name in SERVED_APART]
    theirs = {service: [w for w in workers if w.startswith(f"{service}-")] for service in SERVED_APART}
    rest = [w for w in workers if not any(w in mine for mine in theirs.values())]
    work = [(f"{service}-work", "work", [_bin("titles"), "work", *mine]) for service, mine in theirs.items()]
    return [("web", "web", web), *apart, ("work", "work", [_bin("titles"), "work", *rest]), *work]


def children_of(data: Path, logs: Path) -> list[Child]:
    """What ``titles run`` starts (``grouped()``), each with its environment, log file and scheduling policy."""
    return [Child(name, argv, _env(group, data), logs / f"{name}.log", batch=BATCH) for name, group, argv in grouped()]


_GIVEN: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, never one this process handed out before (the kernel may give the same
    free port to two asks in a row): for harnesses that start ``titles run`` on ports of their own."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port: int = s.getsockname()[1]
        if port not in _GIVEN:
            _GIVEN.add(port)
            return port


def taken_ports() -> list[str]:
    """What holds each port ``titles run`` needs, for the ports that are taken, and ports given twice."""
    taken = []
    first: dict[int, str] = {}
    for name in PORTED:
        port = config.port(name)
        if port in first:
            taken.append(
                f"port {port} is given to both {first[port]} ({first[port].upper()}_PORT) and {name} ({name.upper()}_PORT)"
            )
        first.setdefault(port, name)
    for name in PORTED:
        holder = port_holder(config.port(name))
        if holder:
            taken.append(f"port {config.port(name)} ({name}, {name.upper()}_PORT) is taken by {holder}")
    return taken


def announce_test_clock() -> str:
    """Switch the test clock on for the demonstration, unless TITLES_TEST_CLOCK says otherwise, and say
    which: every child process inherits the setting."""
    if "TITLES_TEST_CLOCK" not in os.environ:
        os.environ["TITLES_TEST_CLOCK"] = "1"
    config.from_environment()  # this process's own steps (migrate, deploy, seed) see what its children will
    if os.environ["TITLES_TEST_CLOCK"] == "1":
        return (
            "The test clock is ON for this demonstration (TITLES_TEST_CLOCK=1): only the title office may move "
            "it, forwards, with POST /api/v1/clock/advance on the review service; production never sets it."
        )
    return "The test clock is off (TITLES_TEST_CLOCK is not 1): every service runs on real time."


def run_all(seed_demo: bool = True) -> int:
    taken = taken_ports()
    if taken:
        print(
            "titles run cannot start:\n  "
            + "\n  ".join(taken)
            + "\nstop that process, or choose other ports (e.g. PROFILE_PORT=9001 make run).",
            flush=True,
        )
        return 1
    data = config.data_dir()
    data.mkdir(parents=True, exist_ok=True)
    os.environ["TITLES_DATA_DIR"] = str(data)
    clock_notice = announce_test_clock()
    # In a child: what provisioning imports (every service, the engine, the diagrams) would otherwise
    # stay in this process's memory for as long as the system runs.
    provisioned = subprocess.run([_bin("titles"), "provision", *([] if seed_demo else ["--no-seed"])], cwd=ROOT)
    if provisioned.returncode != 0:
        print("titles run cannot start: migrating, deploying or seeding failed (above)", flush=True)
        return 1
    metrics_root = data / "metrics"
    shutil.rmtree(metrics_root, ignore_errors=True)  # multiprocess files of a previous run
    (metrics_root / "web").mkdir(parents=True, exist_ok=True)

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    logs = data / "logs"
    logs.mkdir(exist_ok=True)
    children = children_of(data, logs)
    for child in children:
        spawn(child)

    print(f"\ntitles is starting on the embedded default (data in {data}, logs in {logs}):", flush=True)
    labels = {
        "issuer": "identity issuer (development)",
        "tsa": "timestamp authority (development)",
        "console": "web console (open this)",
    }
    for service in PORTED:
        label = labels.get(service, f"{service} service")
        print(f"  {label:32} {config.service_url(service)}", flush=True)
    print(clock_notice, flush=True)
    print("Press Ctrl-C to stop everything.\n", flush=True)

    def say(line: str) -> None:
        print(line, flush=True)
        with open(logs / "supervisor.log", "a", encoding="utf-8") as log_file:
            log_file.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {line}\n")

    exit_code = supervise(children, lambda: stopping, say)
    _stop(children)
    print("stopped.", flush=True)
    return exit_code


def _stop(children: list[Child], grace: float = 10.0) -> None:
    running = [c.process for c in children if c.process is not None]
    for process in running:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in running:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            process.wait(remaining)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
