"""``make test-scale``: several review workers on a three-node RabbitMQ cluster, under faults.

    .venv/bin/python tests/scale/run.py [--lifecycles 100] [--clients 8] [--keep]

Needs PostgreSQL (SCALE_POSTGRES_URL, default the local server as postgres) and RabbitMQ's programs (the
Debian package); the machine's own RabbitMQ is left alone. It

1. starts a RabbitMQ cluster of its own: nodes titles-scale-<run>-{1,2,3}@localhost on free ports, their
   data, logs and Erlang cookie in a scratch folder, no plugins; every queue a quorum queue across the
   three (BROKER_QUORUM_QUEUES=1); each process gets the three addresses and fails over between them;
2. makes five scratch databases and starts the system process by process: three review consumers, two
   review HTTP processes (half the clients call each), two review schedulers, and one of each other
   process of ``titles run`` (the development issuer and TSA, the console, each service's HTTP API,
   consumer and relay, the notify dispatcher);
3. drives 100 social-review lifecycles (bench/run.py's client, scenario/social_review.py) with 8 clients,
   patient ones that take turns on the shared test clock (bench/turns.py), and meanwhile stops the RabbitMQ
   node the processes connected to first (and starts it again), kills one
   review consumer and one scheduler with SIGKILL (each started again five seconds later, as an
   orchestrator would);
4. asserts that all lifecycles completed, that no declaration has two certificates, no notice was stored
   twice (each stage notice matched with its own event: a stage entered again is not a double), no
   timer fired twice, no timer is left, and that no queue holds a dead letter; prints what each
   fault cost: the longest pause in reviewers' steps after it, beside the longest before any fault.

Exits non-zero on any failure. Everything it started is stopped (by its own pids) and its databases
dropped, on success, failure, Ctrl-C or SIGTERM, and its scratch folder removed: after a failure all but
the logs (the folder is named), with --keep nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from bench.run import SERVICES, Applicants, Recorder, System, free_port, make_client  # noqa: E402

RABBITMQ_BIN = Path(os.environ.get("RABBITMQ_BIN", "/usr/lib/rabbitmq/bin"))
NODES = 3
# Patience on a shared machine (load 4-8, or a node restarting): an HTTP call may take this long, and
# what the scenario waits for (a task, the certificate) may take this long to appear; both are ceilings,
# a healthy run never comes near them.
HTTP_TIMEOUT = 60.0
WAIT_TIMEOUT = 300.0
WARM_UPS = 2  # lifecycles before the load, one on each review HTTP process


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------- the RabbitMQ cluster


class RabbitNode:
    """One node, ``rabbitmq-server`` in the foreground as our child; its whole state under ``folder``."""

    def __init__(self, index: int, run: str, folder: Path, home: Path):
        # epmd is the machine's: a name of this run's own cannot meet the machine's node (rabbit@host),
        # nor a concurrent run's, nor a node a killed run left behind.
        self.name = f"titles-scale-{run}-{index}@localhost"
        self.port, self.dist_port = free_port(), free_port()
        self.folder = folder
        folder.mkdir(parents=True)
        (folder / "enabled_plugins").write_text("[].\n")
        (folder / "rabbitmq-env.conf").write_text("")  # not the machine's /etc/rabbitmq one
        (folder / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
            "cluster_partition_handling = pause_minority\n"
            "log.console = false\n"
        )
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")},
            "HOME": str(home),  # the Erlang cookie the three nodes and rabbitmqctl share
            "RABBITMQ_NODENAME": self.name,
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_MNESIA_BASE": str(folder / "mnesia"),
            "RABBITMQ_LOG_BASE": str(folder / "log"),
            "RABBITMQ_CONF_ENV_FILE": str(folder / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(folder / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(folder / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(folder / "rabbitmq.pid"),
            "RABBITMQ_USE_LONGNAME": "false",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            # No busy-waiting schedulers: three nodes beside the system on two shared cores.
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "+sbwt none +sbwtdcpu none +sbwtdio none",
        }
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.port}//"

    def start(self) -> None:
        self.output = open(self.folder / "server.out", "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [str(RABBITMQ_BIN / "rabbitmq-server")],
            env=self.env,
            cwd=self.folder,
            stdout=self.output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def ctl(self, *args: str, timeout: float = 180) -> str:
        done = subprocess.run(
            [str(RABBITMQ_BIN / "rabbitmqctl"), "-n", self.name, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.name} {' '.join(args)}: {done.stdout}{done.stderr}")
        return done.stdout

    def await_startup(self, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.process.returncode}); see {self.folder}")
            try:
                self.ctl("await_startup", "--timeout", "60", timeout=90)
                return
            except (RuntimeError, subprocess.TimeoutExpired):
                if time.monotonic() > deadline:
                    raise
                time.sleep(2)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        try:
            self.ctl("stop", timeout=120)
            self.process.wait(60)
        except (RuntimeError, subprocess.TimeoutExpired):
            os.killpg(self.process.pid, signal.SIGKILL)  # its own session: the node and its helpers
            self.process.wait(30)
        self.output.close()


class RabbitCluster:
    def __init__(self, folder: Path):
        home = folder / "home"
        home.mkdir(parents=True)
        run = uuid.uuid4().hex[:6]
        self.nodes = [RabbitNode(i, run, folder / f"node{i}", home) for i in range(1, NODES + 1)]

    @property
    def url(self) -> str:
        """Every node's address: kombu connects to the first that answers and fails over to the next."""
        return ";".join(node.url for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()
        for node in self.nodes:
            node.await_startup()
        first = self.nodes[0]
        for node in self.nodes[1:]:
            node.ctl("stop_app")
            node.ctl("join_cluster", first.name)
            node.ctl("start_app")
        running = first.ctl("cluster_status", "--formatter", "json")
        assert all(node.name in running for node in self.nodes), running

    def stop(self) -> None:
        for node in reversed(self.nodes):
            node.stop()


# ---------------------------------------------------------------- the system, process by process


class Processes:
    """The system's processes as our children, each with a log; some started several times."""

    def __init__(self, system: System, work: Path):
        self.system, self.logs = system, work / "logs"
        self.logs.mkdir()
        self.running: dict[str, subprocess.Popen] = {}
        self.argv: dict[str, tuple[str, list[str]]] = {}
        self.overrides: dict[str, dict[str, str]] = {}
        self.spent: dict[str, float] = {}
        self.second_review_port = free_port()

    def plan(self) -> None:
        from titles import supervisor

        copies = {"review-consumer": 3, "review-scheduler": 2, "review-http": 2}
        for name, service, argv in supervisor.commands():
            for copy in range(1, copies.get(name, 1) + 1):
                self.argv[f"{name}-{copy}"] = (service, argv)
        # The second review HTTP process on a port of its own; half the clients use it (drive()).
        self.overrides["review-http-2"] = {"REVIEW_PORT": str(self.second_review_port)}

    def start(self, name: str) -> None:
        from titles import supervisor

        service, argv = self.argv[name]
        env = supervisor._env(service, Path(self.system.env["TITLES_DATA_DIR"])) | self.overrides.get(name, {})
        (Path(env["PROMETHEUS_MULTIPROC_DIR"])).mkdir(parents=True, exist_ok=True)
        with open(self.logs / f"{name}.log", "ab") as output:
            self.running[name] = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT)

    def start_all(self) -> None:
        for name in self.argv:
            self.start(name)

    def cpu(self) -> dict[str, float]:
        """CPU seconds each process has used so far, its children (gunicorn's workers) included, and
        those of the copies killed before."""
        used = dict(self.spent)
        for name, process in self.running.items():
            used[name] = used.get(name, 0.0) + cpu_seconds(process.pid)
        return used

    def kill(self, name: str) -> None:
        self.spent[name] = self.spent.get(name, 0.0) + cpu_seconds(self.running[name].pid)
        self.running[name].send_signal(signal.SIGKILL)
        self.running[name].wait(30)

    def died(self) -> list[str]:
        return [n for n, p in self.running.items() if p.poll() is not None]

    def stop_all(self) -> None:
        for process in self.running.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)


def wait_http(port: int, path: str, timeout: float = 300) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}{path}", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing ready on port {port}")
        time.sleep(1)


def cpu_seconds(pid: int) -> float:
    """User and system CPU of a process and of its descendants alive now (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / tick)
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += stats.get(current, (0, 0.0))[1]
        todo += [child for child, (parent, _) in stats.items() if parent == current]
    return total


def database_writes(system: System) -> dict[str, tuple[int, int]]:
    """Per service database: (transactions committed, rows inserted + updated + deleted) so far."""
    from sqlalchemy import create_engine, text

    engine = create_engine(system.postgres)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT datname, xact_commit, tup_inserted + tup_updated + tup_deleted "
                    "FROM pg_stat_database WHERE datname = ANY(:names)"
                ),
                {"names": system.databases},
            ).all()
    finally:
        engine.dispose()
    return {name.rsplit("_", 1)[1]: (int(commits), int(writes)) for name, commits, writes in rows}


def capacity(
    before: tuple[dict[str, float], dict[str, tuple[int, int]]],
    after: tuple[dict[str, float], dict[str, tuple[int, int]]],
    lifecycles: int,
) -> None:
    """What one lifecycle costs each kind of process (CPU) and each database (commits, row writes)."""
    cpu: dict[str, list[float]] = {}
    for name, seconds in after[0].items():
        cpu.setdefault(name.rsplit("-", 1)[0], []).append(seconds - before[0].get(name, 0.0))
    log(f"cost of one social-review lifecycle ({lifecycles} lifecycles):")
    log("  process              copies  CPU s per lifecycle")
    for kind, spent in sorted(cpu.items(), key=lambda item: -sum(item[1])):
        log(f"  {kind:20} {len(spent):6}  {sum(spent) / lifecycles:8.3f}")
    review = sum(cpu["review-consumer"]) / lifecycles
    log(f"  => one review worker on one core carries at most {1 / review:.2f} lifecycles/s")
    log("  database       commits per lifecycle  rows written per lifecycle")
    for service in SERVICES:
        commits = after[1][service][0] - before[1][service][0]
        writes = after[1][service][1] - before[1][service][1]
        log(f"  {service:14} {commits / lifecycles:21.1f}  {writes / lifecycles:26.1f}")


def titles(*args: str) -> None:
    subprocess.run(
        [str(Path(sys.executable).with_name("titles")), *args],
        env=os.environ.copy(),
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )


# ---------------------------------------------------------------- load and faults


class StepClock(Recorder):
    """Bench's recorder, keeping the moment of every reviewer's step (what a fault may hold up)."""

    def __init__(self) -> None:
        super().__init__()
        self.at: list[float] = []

    def record(self, method: str, service: str, path: str, ms: float) -> None:
        steps = self.steps
        super().record(method, service, path, ms)
        if self.steps != steps:
            with self.lock:
                self.at.append(time.monotonic())


def longest_pause(moments: list[float], start: float, end: float) -> float:
    inside = sorted(m for m in moments if start <= m <= end)
    points = [start, *inside, end]
    return max(b - a for a, b in zip(points, points[1:]))


class Faults:
    """Each fault when enough lifecycles are done, so that it lands in the middle of the load."""

    def __init__(self, cluster: RabbitCluster, processes: Processes, done: Callable[[], int], total: int):
        self.cluster, self.processes, self.done, self.total = cluster, processes, done, total
        self.windows: list[tuple[str, float, float]] = []  # what, started, recovered
        self.errors: list[str] = []
        self.stop = threading.Event()

    def wait_done(self, count: int) -> bool:
        while self.done() < count:
            if self.stop.wait(0.5):
                return False
        return True

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # noqa: BLE001 - reported with the results
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def _run(self) -> None:
        node = self.cluster.nodes[0]  # the node every process tried first: the queues' leaders were there
        if not self.wait_done(self.total * 15 // 100):
            return
        log(f"fault: stopping RabbitMQ node {node.name}")
        started = time.monotonic()
        node.stop()
        # Down while a tenth of the lifecycles go on (two minutes at most), then back.
        deadline = time.monotonic() + 120
        while self.done() < self.total * 25 // 100 and time.monotonic() < deadline and not self.stop.wait(0.5):
            pass
        log(f"fault: starting {node.name} again")
        node.start()
        node.await_startup()
        self.windows.append((f"RabbitMQ node {node.name} stopped and started", started, time.monotonic()))
        log(f"{node.name} is back in the cluster")
        for name, share in (("review-consumer-1", 45), ("review-scheduler-1", 60)):
            if not self.wait_done(self.total * share // 100):
                return
            log(f"fault: SIGKILL {name}")
            started = time.monotonic()
            self.processes.kill(name)
            time.sleep(5)
            self.processes.start(name)
            self.windows.append((f"{name} killed (SIGKILL), started again 5 s later", started, time.monotonic()))


UNAVAILABLE = {"retried": 0}


def client_of(recorder: StepClock, review_port: int | None) -> Any:
    """Bench's client, patient (HTTP_TIMEOUT), taking turns on the test clock (bench/turns.py); with
    ``review_port``, one that calls the second review HTTP process. A 503 (the transaction was rolled
    back, e.g. a deadlock PostgreSQL broke: README, "a retry has the effect once") is sent again after a
    second, as a user's browser would, up to five times; the run counts them."""
    from scenario.client import ScenarioFailed

    client = make_client(recorder)
    client.timeout = HTTP_TIMEOUT
    call = client.turns.inner

    def patient(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(6):
            try:
                return call(*args, **kwargs)
            except ScenarioFailed as exc:
                if " answered 503" not in str(exc) or attempt == 5:
                    raise
                UNAVAILABLE["retried"] += 1
                time.sleep(1)

    client.turns.inner = patient  # a retry keeps the span its request took (bench/turns.py)
    if review_port:
        base = client.url
        client.url = lambda service, path: (
            f"http://127.0.0.1:{review_port}{path}" if service == "review" else base(service, path)
        )
    return client


def lifecycle(client: Any, applicants: Applicants) -> str:
    """bench's social lifecycle, patient: the scenario's waits last up to WAIT_TIMEOUT."""
    from scenario import client as scenario_client
    from scenario import social_review

    # The scenario's waits default to a minute (plenty for `make scenario` alone); its one wait_for
    # serves every step, so its default is what this run makes longer.
    scenario_client.wait_for.__defaults__ = (WAIT_TIMEOUT, *scenario_client.wait_for.__defaults__[1:])
    client.tokens["applicant"] = applicants.token()
    with client.turns.declaring():  # until the submission (bench/turns.py)
        return social_review.run(client, ready_timeout=WAIT_TIMEOUT)


def drive(
    lifecycles: int, clients: int, applicants: Applicants, recorder: StepClock, faults: Faults, second_review_port: int
) -> tuple[list[float], list[str]]:
    import itertools
    from concurrent.futures import ThreadPoolExecutor

    counter = itertools.count()
    done: list[float] = []
    failures: list[str] = []

    def worker(index: int) -> None:
        client = client_of(recorder, second_review_port if index % 2 else None)
        while next(counter) < lifecycles:
            started = time.monotonic()
            try:
                lifecycle(client, applicants)
                done.append(time.monotonic() - started)
            except Exception as exc:  # noqa: BLE001 - a failed lifecycle is reported, the run goes on
                failures.append(f"{type(exc).__name__}: {str(exc)[:300]}")

    faults.done = lambda: len(done) + len(failures)
    thread = threading.Thread(target=faults.run, daemon=True)
    thread.start()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker, index) for index in range(clients)]:
            future.result()
    faults.stop.set()
    thread.join(600)
    return done, failures


# ---------------------------------------------------------------- checks


def query(system: System, service: str, sql: str) -> list[Any]:
    from sqlalchemy import create_engine, text

    engine = create_engine(system.env["DATABASE_URL"].replace("{service}", service))
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)).all())
    finally:
        engine.dispose()


def settle(system: System, cluster_url: str, timeout: float = WAIT_TIMEOUT) -> None:
    """Wait until the last events of the last lifecycles are handled: every outbox published, no queue
    holding a message, the notices counted alike, twice in a row two seconds apart."""
    from kombu import Connection

    from shared.messaging import topology

    def snapshot() -> tuple[int, int, int]:
        pending = sum(
            query(system, s, "SELECT count(*) FROM outbox WHERE published_at IS NULL")[0][0] for s in SERVICES
        )
        with Connection(cluster_url) as connection, connection.channel() as channel:
            waiting = sum(
                channel.queue_declare(queue.name, passive=True).message_count
                for queue in topology.all_queues(on_rabbitmq=True)
                if not queue.name.endswith(".dead")
            )
        return pending, waiting, query(system, "notify", "SELECT count(*) FROM messages")[0][0]

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        now = snapshot()
        if now[:2] == (0, 0) and now == last:
            return
        last = now
        time.sleep(2)
    log(f"not settled after {timeout:.0f} s: (outbox rows, queued messages, notices) {last}")


def doubled_notices(system: System) -> list[str]:
    """A notice stored twice, told apart from a stage entered twice: text alone cannot (after a return,
    a redrawn panel or a second meeting the same stage comes again, with the same words), so each
    notice is matched with the event that caused it.

    - Other notices than stage changes come once per declaration, kind and text.
    - Stage changes: a declaration has as many notices as review published review.stage.changed
      events for it (its outbox keeps them, each with its own message id; notify's inbox takes each
      id once), and review announced a stage (with its organisation) no more often than it opened
      tasks there (one event for the tasks of one entry, e.g. every expert's vote).
    """
    problems = []
    doubled = query(
        system,
        "notify",
        "SELECT recipient, declaration_id, kind, title, count(*) FROM messages "
        "WHERE declaration_id IS NOT NULL AND kind <> 'stage_change' "
        "GROUP BY recipient, declaration_id, kind, title, body HAVING count(*) > 1",
    )
    if doubled:
        problems.append(f"notices stored twice: {doubled[:5]}")
    notices = dict(
        query(
            system,
            "notify",
            "SELECT declaration_id, count(*) FROM messages WHERE kind = 'stage_change' GROUP BY declaration_id",
        )
    )
    announced = query(
        system,
        "review",
        "SELECT body::json->'data'->>'declaration_id', body::json->'data'->>'stage', "
        "body::json->'data'->>'organisation' FROM outbox WHERE type = 'review.stage.changed.v1'",
    )
    events: dict[str, int] = {}
    entries: dict[tuple[str, str, str | None], int] = {}
    for declaration, stage, organisation in announced:
        events[declaration] = events.get(declaration, 0) + 1
        entries[(declaration, stage, organisation)] = entries.get((declaration, stage, organisation), 0) + 1
    unequal = {d: (notices.get(d, 0), events.get(d, 0)) for d in {*notices, *events} if notices.get(d) != events.get(d)}
    if unequal:
        problems.append(f"stage notices unlike review's stage events (notices, events): {list(unequal.items())[:5]}")
    opened = {
        (declaration, stage, organisation): count
        for declaration, stage, organisation, count in query(
            system,
            "review",
            "SELECT declaration_id, stage, organisation, count(*) FROM tasks GROUP BY declaration_id, stage, organisation",
        )
    }
    announced_twice = {key: n for key, n in entries.items() if n > opened.get(key, 0)}
    if announced_twice:
        problems.append(f"stages announced more often than entered: {list(announced_twice.items())[:5]}")
    repeats = sum(n - 1 for n in entries.values() if n > 1)
    log(f"stage notices: {sum(events.values())}, one per stage event; {repeats} of them a stage entered again")
    return problems


def check(system: System, cluster_url: str, lifecycles: int) -> list[str]:
    from kombu import Connection

    from shared.messaging import topology

    problems = []
    settle(system, cluster_url)
    declarations = query(system, "declaration", "SELECT count(*) FROM declarations WHERE status = 'completed'")[0][0]
    certificates = query(system, "certificate", "SELECT count(*), count(DISTINCT declaration_id) FROM certificates")[0]
    if certificates[0] != certificates[1] or certificates[0] != lifecycles:
        problems.append(f"certificates: {certificates[0]} for {certificates[1]} declarations, {lifecycles} expected")
    if declarations != lifecycles:
        problems.append(f"{declarations} declarations completed, {lifecycles} expected")
    problems += doubled_notices(system)
    # A timer fired twice: two timer steps of one declaration at one element.
    fired_twice = query(
        system,
        "review",
        "SELECT declaration_id, element, count(*) FROM audit_log "
        "WHERE source = 'timer' GROUP BY declaration_id, element HAVING count(*) > 1",
    )
    if fired_twice:
        problems.append(f"timers fired twice: {fired_twice[:5]}")
    timers = query(system, "review", "SELECT count(*) FROM audit_log WHERE source = 'timer'")[0][0]
    log(f"timers fired: {timers}")
    if not timers:
        problems.append("no timer fired: the schedulers were not exercised")
    left = query(
        system,
        "review",
        "SELECT count(*) FROM timers JOIN instances ON instances.id = timers.instance_id "
        "WHERE instances.status = 'completed'",
    )[0][0]
    if left:
        problems.append(f"{left} timer(s) left waiting")
    with Connection(cluster_url) as connection, connection.channel() as channel:
        for queue in topology.all_queues(on_rabbitmq=True):
            if queue.name.endswith(".dead"):
                count = channel.queue_declare(queue.name, passive=True).message_count
                if count:
                    problems.append(f"{count} dead letter(s) in {queue.name}")
    return problems


# ---------------------------------------------------------------- main


def remove_all_but_logs(work: Path) -> None:
    """After a failure: the processes' and the nodes' logs stay for a person to read, the data goes."""
    for path in sorted(work.rglob("*"), key=lambda p: -len(p.parts)):
        if path.is_dir() and not path.is_symlink():
            if not any(path.iterdir()):
                path.rmdir()
        elif not any(part in ("logs", "log") for part in path.relative_to(work).parts[:-1]):
            path.unlink(missing_ok=True)


def interrupted(*_: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up as Ctrl-C does


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lifecycles", type=int, default=100)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    return parser.parse_args()


def main() -> int:
    args = options()
    signal.signal(signal.SIGTERM, interrupted)
    postgres = os.environ.get("SCALE_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    work = Path(tempfile.mkdtemp(prefix="titles-scale-"))
    log(f"scratch folder {work}")
    cluster = RabbitCluster(work / "rabbitmq")
    system: System | None = None
    processes: Processes | None = None
    ok = False
    try:
        started = time.monotonic()
        cluster.start()
        log(f"RabbitMQ cluster of {NODES} nodes up in {time.monotonic() - started:.0f} s: {cluster.url}")
        system = System(work, postgres, cluster.url, args.lifecycles + 10)
        system.env.update(
            BROKER_QUORUM_QUEUES="1",
            CONSOLE_PORT=str(free_port()),
            # Every client calls from 127.0.0.1, where a city's verifiers come from many addresses: the
            # per-address limit of the public verification page (30 a minute) is not what is tested.
            CERTIFICATE_VERIFY_RATE_LIMIT="100000/60",
        )
        os.environ.clear()
        os.environ.update(system.env)
        from shared import config  # this process reads the environment it just set

        config.from_environment()
        titles("migrate")
        titles("deploy")
        titles("seed")
        processes = Processes(system, work)
        processes.plan()
        processes.start_all()
        log(f"{len(processes.running)} processes: {', '.join(processes.running)}")
        system.wait_ready(timeout=300)
        wait_http(processes.second_review_port, "/ready")
        from scenario import social_review

        social_review.step = lambda message: None  # the driver's progress lines, 30 per lifecycle
        applicants = Applicants(Path(system.env["TITLES_DATA_DIR"]), args.lifecycles + 10)
        for port in (None, processes.second_review_port)[:WARM_UPS]:  # not timed: first requests, diagram loads
            lifecycle(client_of(StepClock(), port), applicants)
        log(f"warm-up lifecycle done; load starts (machine's load average {os.getloadavg()[0]:.1f})")
        recorder = StepClock()
        faults = Faults(cluster, processes, lambda: 0, args.lifecycles)
        load_started = time.monotonic()
        before = processes.cpu(), database_writes(system)
        durations, failures = drive(
            args.lifecycles, args.clients, applicants, recorder, faults, processes.second_review_port
        )
        wall = time.monotonic() - load_started
        capacity(before, (processes.cpu(), database_writes(system)), len(durations) or 1)
        log(
            f"{len(durations)} lifecycles in {wall:.0f} s ({len(durations) / wall:.3f}/s with {args.clients} "
            f"clients), median {statistics.median(durations) if durations else 0:.1f} s each; "
            f"{len(failures)} failed; machine's load average over the last 5 and 15 minutes "
            f"{os.getloadavg()[1]:.1f}, {os.getloadavg()[2]:.1f} on {os.cpu_count()} cores"
        )
        log(f"503 answers sent again: {UNAVAILABLE['retried']}")
        for failure in failures[:10]:
            log(f"  failed: {failure}")
        first_fault = min((w[1] for w in faults.windows), default=time.monotonic())
        baseline = longest_pause(recorder.at, load_started, first_fault)
        log(f"longest pause in reviewers' steps before any fault: {baseline:.1f} s")
        for what, fault_started, recovered in faults.windows:
            pause = longest_pause(recorder.at, fault_started, min(recovered + 30, time.monotonic()))
            log(
                f"fault: {what}: recovered after {recovered - fault_started:.1f} s, "
                f"longest pause in reviewers' steps {pause:.1f} s"
            )
        problems = list(failures[:3]) + faults.errors
        if len(faults.windows) != 3:
            problems.append(f"only {len(faults.windows)} of the 3 faults happened")
        if len(durations) != args.lifecycles:
            problems.append(f"{len(durations)} of {args.lifecycles} lifecycles completed")
        died = [n for n in processes.died()]
        if died:
            problems.append(f"processes died by themselves: {died}")
        problems += check(system, cluster.url, args.lifecycles + WARM_UPS)  # the warm-ups' too
        for problem in problems:
            log(f"PROBLEM: {problem}")
        ok = not problems
        log("make test-scale: " + ("passed" if ok else "FAILED") + f" in {time.monotonic() - started:.0f} s")
    finally:
        for number in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C or TERM must not leave anything behind
            signal.signal(number, signal.SIG_IGN)
        for what, cleanup in (
            ("processes", processes.stop_all if processes else None),
            ("namespace and databases", system.stop if system else None),  # System.stop
            ("RabbitMQ cluster", cluster.stop),
        ):
            try:
                if cleanup:
                    cleanup()
            except Exception as exc:  # noqa: BLE001 - the rest is cleaned up all the same
                log(f"cleaning up the {what}: {exc!r}")
        if args.keep:
            log(f"kept {work}")
        elif ok:
            shutil.rmtree(work, ignore_errors=True)
        else:
            remove_all_but_logs(work)
            log(f"kept the logs in {work}")
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        code = main()
    except KeyboardInterrupt:
        code = 130  # cleaned up in main()'s finally
    sys.stdout.flush()
    # Not sys.exit: after an interruption the driver's threads may still be polling a system that is
    # gone, and the interpreter would wait for them.
    os._exit(code)
