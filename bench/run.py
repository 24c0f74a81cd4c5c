"""``make bench``: the whole system's throughput, latency, event lag, growth and profile, beside the raw engine.

    .venv/bin/python bench/run.py [--quick] [--parts social,appointment,openloop,profile,growth,engine]
                                  [--clients 1,4,16] [--lifecycles N] [--growth 1000,10000,100000] ...

Starts ``titles run`` itself (free ports, a scratch data directory; PostgreSQL and RabbitMQ when
BENCH_POSTGRES_URL / BENCH_BROKER_URL are set, else the embedded default), waits for every service,
then runs the parts in order (bench/README.md says what each figure means):

- social: complete social-review lifecycles at each client count (closed loop);
- appointment: complete independent-appointment lifecycles at each client count (closed loop);
- openloop: social-review lifecycles started at a fixed rate (a fraction of the measured capacity),
  with p50/p95/p99 of task completion, task-queue listing and declaration submission, and the event lag
  (outbox row to the consumer's commit) of the messages of that window;
- profile: pyinstrument on a review HTTP front in this process while a few lifecycles run;
- growth: declarations bulk-loaded by SQL to each size, then the task-queue listing and "my
  declarations" over HTTP, with the query plans at the largest size;
- engine: the social-review lifecycle in SpiffWorkflow alone (the ceiling), the review API in one
  process, instance load and save after 1, 10 and 50 returns of the real social review (and of a
  small loop diagram, for comparison).

Writes results.md and results.json (to bench/, or --out), stops the system with Ctrl-C (SIGINT) as a
user would, drops its databases and its RabbitMQ namespace and removes the scratch directory.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import cpu, locks, scrape, work_cpu  # noqa: E402
from bench.stats import percentiles  # noqa: E402
from bench.turns import Turns  # noqa: E402
from titles.supervisor import free_port  # noqa: E402

READY_TIMEOUT = 10.0  # a lifecycle first checks that every service answers /ready, this long at most

SERVICES = ("profile", "declaration", "review", "certificate", "notify")
DEMO_APPLICANT_ID = "120101198806120032"  # its register records are the template for every bench applicant

# Which requests the latency table reports: (label, method, service, path pattern).
MEASURED = [
    ("task completion", "POST", "review", re.compile(r"^/api/v1/tasks/[^/]+/complete$")),
    ("task-queue listing", "GET", "review", re.compile(r"^/api/v1/tasks$")),
    ("declaration submission", "POST", "declaration", re.compile(r"^/api/v1/declarations/[^/]+/submit$")),
]


# ---------------------------------------------------------------- the system


def resident_id(serial: int) -> str:
    """A valid GB 11643 number, distinct per serial (born 1988-06-12 in 和平区, 天津)."""
    from shared.identifiers import resident_id_check_char

    # Sequence digits 001..999 with the birth day moving on every thousand applicants.
    birth = dt.date(1988, 6, 12) + dt.timedelta(days=serial // 999)
    first17 = f"120101{birth:%Y%m%d}{serial % 999 + 1:03d}"
    return first17 + resident_id_check_char(first17)


def write_register(path: Path, count: int) -> None:
    """The fake higher-education register (学信网) with the demo applicant's records for each applicant."""
    from services.profile.register import DEMO_FILE

    template = json.loads(DEMO_FILE.read_text("utf-8"))["records"][DEMO_APPLICANT_ID]
    records = {DEMO_APPLICANT_ID: template}
    for serial in range(count):
        records[resident_id(serial)] = [{**r, "register_id": f"{r['register_id']}-{serial}"} for r in template]
    path.write_text(json.dumps({"records": records}, ensure_ascii=False), "utf-8")


class System:
    """``titles run`` as a subprocess on free ports with its own data directory."""

    def __init__(self, work: Path, postgres: str | None, broker: str | None, applicants: int, code: Path = ROOT):
        self.work = work
        self.code = code  # the checkout whose code the system runs (--system)
        self.postgres = postgres
        self.databases: list[str] = []
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.endswith("_DATABASE_URL") and k not in ("BROKER_URL", "TITLES_NAMESPACE", "OIDC_ISSUER")
        }
        # The system runs this checkout's code (the editable install may point at another one).
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
        env.update(
            TITLES_DATA_DIR=str(work / "data"),
            TITLES_TEST_CLOCK="1",
            TITLES_WORKDAYS_PROVISIONAL="1",
            PROFILE_REGISTER_FILE=str(work / "register.json"),
            # Every client calls from 127.0.0.1, where a city's verifiers come from many addresses: the
            # per-address limit of the public verification page (30 a minute) is not what is measured.
            CERTIFICATE_VERIFY_RATE_LIMIT="100000/60",
        )
        from shared.config import PORTED

        for name in PORTED:  # every port of its own: two runs side by side never meet
            env[f"{name.upper()}_PORT"] = str(free_port())
        if postgres:
            from sqlalchemy import create_engine, text

            run = uuid.uuid4().hex[:8]
            admin = create_engine(postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for service in SERVICES:
                    self.databases.append(f"titles_b{run}_{service}")
                    conn.execute(text(f'CREATE DATABASE "{self.databases[-1]}"'))
            admin.dispose()
            env["DATABASE_URL"] = postgres.rsplit("/", 1)[0] + f"/titles_b{run}_{{service}}"
        if broker:
            env["BROKER_URL"] = broker
            env["TITLES_NAMESPACE"] = f"b{uuid.uuid4().hex[:8]}."
        self.env = env
        write_register(work / "register.json", applicants)
        self.log_path = work / "titles-run.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        # This process reads the same settings (service URLs, data directory) to drive the system.
        os.environ.clear()
        os.environ.update(self.env)
        from shared import config  # this process reads the environment it just set

        config.from_environment()
        titles = str(Path(sys.executable).with_name("titles"))
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - a file, not a pipe: a long run must not block on it
        self.process = subprocess.Popen(
            [titles, "run"],
            env=self.env,
            cwd=self.code,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def memory(self) -> dict[str, Any]:
        from bench import memory

        assert self.process is not None
        return memory.measure(self.process.pid)

    def wait_ready(self, timeout: float = 180.0) -> float:
        from scenario.client import Client
        from scenario.social_review import wait_until_ready

        started = time.monotonic()
        wait_until_ready(Client(), timeout)
        return time.monotonic() - started

    def stop(self) -> int | None:
        code = None
        if self.process is not None:
            self.process.send_signal(signal.SIGINT)  # Ctrl-C stops every process it started
            try:
                code = self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                code = self.process.wait()
            self.log.close()
        if self.env.get("BROKER_URL", "").startswith("amqp"):
            # This process's environment is the system's (start() copied it): same namespace.
            from kombu import Connection

            from shared.messaging import topology

            with Connection(self.env["BROKER_URL"]) as conn:
                topology.delete_namespace(conn)
        if self.postgres and self.databases:
            from sqlalchemy import create_engine, text

            admin = create_engine(self.postgres, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for name in self.databases:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return code

    def scratch_database(self, name: str) -> str:
        """A database of the run's own for measurements outside the system (dropped with the others)."""
        if not self.postgres:
            return f"sqlite:///{self.work / f'{name}.db'}"
        from sqlalchemy import create_engine, text

        database = f"{self.databases[0].rsplit('_', 1)[0]}_{name}"
        admin = create_engine(self.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{database}"'))
        admin.dispose()
        self.databases.append(database)
        return self.postgres.rsplit("/", 1)[0] + f"/{database}"


# ---------------------------------------------------------------- clients


class Recorder:
    """Latency samples (ms) by label, and counts of the requests and of the human steps taken over HTTP."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {label: [] for label, *_ in MEASURED}
        self.steps = 0  # task completions, publicity starts, attendance, defence: what a reviewer does
        self.requests = 0
        self.retries = 0  # requests sent again on a fresh connection (see make_client)
        self.endpoints: dict[str, int] = {}  # "METHOD service /path/{id}" -> requests
        self.lock = threading.Lock()

    def retried(self) -> None:
        with self.lock:
            self.retries += 1

    def record(self, method: str, service: str, path: str, ms: float) -> None:
        endpoint = f"{method} {service} " + re.sub(r"/[0-9a-fA-F-]{8,}|/\d+(?=/|$)", "/{id}", path)
        with self.lock:
            self.requests += 1
            self.endpoints[endpoint] = self.endpoints.get(endpoint, 0) + 1
            for label, m, s, pattern in MEASURED:
                if method == m and service == s and pattern.match(path):
                    self.samples[label].append(ms)
            if (
                method == "POST"
                and service == "review"
                and path != "/api/v1/clock/advance"
                and not path.endswith("/claim")
            ):
                self.steps += 1


def make_client(recorder: Recorder):
    """A scenario client that times its requests and takes turns on review's one test clock with the
    other clients (bench/turns.py): ``client.turns.declaring()`` around a lifecycle."""
    from scenario.client import Client

    class TimedClient(Client):
        def call(self, user: str, method: str, service: str, path: str, *args: Any, **kwargs: Any) -> Any:
            if user not in self.tokens:
                self._again_if_dropped(lambda: self.login(user))  # logging in is not what is measured
            if service == "review" and path.endswith("/defence"):
                # Ten days on from the test clock's today (a defence is a span: no move in between).
                today = self._again_if_dropped(
                    lambda: super(TimedClient, self).call(user, "GET", "review", "/api/v1/clock")
                )
                at = dt.date.fromisoformat(today["today"]) + dt.timedelta(days=10)
                kwargs["json"] = {**kwargs["json"], "at": f"{at}T09:00:00+08:00"}
            return self._timed(user, method, service, path, *args, **kwargs)

        def _timed(self, user: str, method: str, service: str, path: str, *args: Any, **kwargs: Any) -> Any:
            started = [0.0]

            def send() -> Any:
                started[0] = time.perf_counter()
                return super(TimedClient, self).call(user, method, service, path, *args, **kwargs)

            result = self._again_if_dropped(send)
            recorder.record(method, service, path, (time.perf_counter() - started[0]) * 1000)
            return result

        @staticmethod
        def _again_if_dropped(send: Any) -> Any:
            from scenario.client import TRANSPORT_ERRORS

            for attempt in (1, 2):
                try:
                    return send()
                except TRANSPORT_ERRORS as exc:
                    # A kept-alive connection the server closed (gunicorn's keep-alive is 2 s) just as
                    # the client reused it: the request never reached the service, send it once more.
                    if attempt == 2 or "Connection aborted" not in str(exc):
                        raise
                    recorder.retried()
            raise AssertionError("unreachable")

    client = TimedClient()
    client.turns = Turns(client.call)
    client.call = client.turns  # every call takes its turn (the bound method is what it wraps)
    return client


class Applicants:
    """Fresh applicants: the demo user has one live declaration per activity, so each lifecycle needs its own."""

    def __init__(self, data_dir: Path, limit: int):
        self.data_dir = data_dir
        self.used = 0
        self.limit = limit  # the register holds records for this many
        self.lock = threading.Lock()

    def left(self) -> int:
        return self.limit - self.used

    def token(self, subject: str | None = None) -> str:
        import jwt

        from shared import config
        from shared.identity import dev_issuer

        with self.lock:
            serial, self.used = self.used, self.used + 1
        kid, key = dev_issuer.signing_key(self.data_dir)
        now = int(time.time())
        claims = {
            "iss": config.oidc().issuer,
            "aud": "titles",
            "sub": subject or f"bench-applicant-{serial}",
            "name": f"测试申报人{serial}",
            "id_number": resident_id(serial),
            "role": "applicant",
            "iat": now,
            "exp": now + 8 * 3600,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def social_lifecycle(client: Any, applicants: Applicants) -> str:
    from scenario import social_review

    client.tokens["applicant"] = applicants.token()
    with client.turns.declaring():
        return social_review.run(client, ready_timeout=READY_TIMEOUT)


def appointment_lifecycle(client: Any, applicants: Applicants) -> str:
    from bench import appointment

    client.tokens["applicant"] = applicants.token()
    with client.turns.declaring():
        return appointment.run(client)


LIFECYCLES = {"social": social_lifecycle, "appointment": appointment_lifecycle}


def run_level(clients: int, lifecycles: int, applicants: Applicants, kind: str = "social") -> dict[str, Any]:
    """``lifecycles`` complete lifecycles of ``kind`` by ``clients`` concurrent clients (closed loop)."""
    recorder = Recorder()
    counter = itertools.count()
    failures: list[str] = []
    done: list[float] = []

    def worker() -> None:
        client = make_client(recorder)
        while next(counter) < lifecycles:
            started = time.perf_counter()
            try:
                LIFECYCLES[kind](client, applicants)
                done.append(time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - a failed lifecycle is reported, the run goes on
                failures.append(f"{kind}: {type(exc).__name__}: {str(exc)[:300]}")

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    wall = time.perf_counter() - started
    return {
        "clients": clients,
        "lifecycles": len(done),
        "failures": failures,
        "seconds": wall,
        "lifecycles_per_second": len(done) / wall,
        "lifecycle_seconds_median": statistics.median(done) if done else None,
        "human_steps": recorder.steps,
        "human_steps_per_second": recorder.steps / wall,
        "requests_per_second": recorder.requests / wall,
        "connection_retries": recorder.retries,
        "latency_ms": {label: percentiles(values) for label, values in recorder.samples.items()},
        "requests_per_lifecycle": {
            endpoint: round(count / max(len(done), 1), 2)
            for endpoint, count in sorted(recorder.endpoints.items(), key=lambda item: -item[1])
        },
    }


def open_loop(rate: float, seconds: float, applicants: Applicants) -> dict[str, Any]:
    """Social-review lifecycles started every 1/rate seconds for ``seconds``, whether or not earlier ones
    have finished (open loop), each on a client of its own thread; waits for all to end."""
    recorder = Recorder()
    local = threading.local()
    failures: list[str] = []
    done: list[float] = []
    arrivals = min(max(1, int(rate * seconds)), applicants.left())

    def one() -> None:
        if not hasattr(local, "client"):
            local.client = make_client(recorder)
        started = time.perf_counter()
        try:
            social_lifecycle(local.client, applicants)
            done.append(time.perf_counter() - started)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"open loop: {type(exc).__name__}: {str(exc)[:300]}")

    from shared import clock

    # On the system's clock, as the outbox and inbox stamp their rows (the test clock, moved by each publicity).
    since = clock.now()
    started = time.perf_counter()
    futures = []
    with ThreadPoolExecutor(64) as pool:
        for n in range(arrivals):
            delay = started + n / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            futures.append(pool.submit(one))
        offered = time.perf_counter() - started
        for future in futures:
            future.result()
    wall = time.perf_counter() - started
    until = clock.now()
    return {
        "lifecycles_per_second_offered": rate,
        "arrivals": arrivals,
        "arrival_seconds": offered,
        "seconds": wall,
        "lifecycles": len(done),
        "failures": failures,
        "lifecycle_seconds_median": statistics.median(done) if done else None,
        "requests": recorder.requests,
        "requests_per_second": recorder.requests / wall,
        "connection_retries": recorder.retries,
        "measured_requests_per_second": {label: len(v) / wall for label, v in recorder.samples.items()},
        "latency_ms": {label: percentiles(values) for label, values in recorder.samples.items()},
        "window": (since, until),
    }


# ---------------------------------------------------------------- parts


def part_profile(lifecycles: int, applicants: Applicants, out: Path) -> dict[str, Any]:
    from bench import profiling

    with profiling.ProfiledReview(free_port()) as server:
        level = run_level(2, lifecycles, applicants)
    summary = profiling.summarise(server.profiler, server.requests)
    summary["endpoints"] = profiling.endpoints(server)
    (out / "profile-review.txt").write_text(profiling.text_report(server.profiler), "utf-8")
    summary.update(
        lifecycles=level["lifecycles"],
        failures=level["failures"],
        clients=2,
        text=str((out / "profile-review.txt").relative_to(ROOT))
        if out.is_relative_to(ROOT)
        else str(out / "profile-review.txt"),
    )
    return summary


def part_growth(sizes: list[int], requests: int, applicants: Applicants) -> dict[str, Any]:
    from bench import growth
    from scenario.client import Client
    from shared import config

    declaration_url, review_url = config.database_url("declaration"), config.database_url("review")
    demo_unit = json.loads((ROOT / "shared" / "demo" / "users.json").read_text("utf-8"))["users"]
    demo_unit = next(u["org"] for u in demo_unit if u["username"] == "unit")
    client = Client()
    client.tokens["applicant"] = applicants.token("bulk-applicant-0")
    loaded, rows = 0, []
    for size in sizes:
        seconds = growth.load(declaration_url, review_url, loaded, size, demo_unit)
        loaded = size
        queue = growth.timed(lambda: client.call("unit", "GET", "review", "/api/v1/tasks"), requests)
        queue_total = client.call("unit", "GET", "review", "/api/v1/tasks")["total"]
        mine = growth.timed(lambda: client.call("applicant", "GET", "declaration", "/api/v1/declarations"), requests)
        mine_total = client.call("applicant", "GET", "declaration", "/api/v1/declarations")["total"]
        rows.append(
            {
                "declarations": size,
                "load_seconds": seconds,
                "queue_open_tasks": queue_total,
                "task_queue_ms": percentiles(queue),
                "my_declarations": mine_total,
                "my_declarations_ms": percentiles(mine),
            }
        )
        print(
            f"  {size} declarations: queue p50 {rows[-1]['task_queue_ms']['p50']:.1f} ms, "
            f"mine p50 {rows[-1]['my_declarations_ms']['p50']:.1f} ms",
            flush=True,
        )
    return {
        "sizes": rows,
        "plans": growth.explain(declaration_url, review_url, demo_unit),
        "population": growth.__doc__.split("\n\n", 2)[2].strip(),
    }


def part_engine(system: System, ceiling_runs: int, api_instances: int, loops: tuple[int, ...]) -> dict[str, Any]:
    from bench import ceiling
    from bench.review_engine import load_after_loops, social_review_after_loops, submitted_in, through_api
    from shared import config

    result: dict[str, Any] = {"ceiling": ceiling.measure(config.database_url("review"), ceiling_runs)}
    url = system.scratch_database("engine")
    rate, count, statements = through_api(url, system.work / "engine", api_instances)
    result["api_one_process"] = {
        "task_completions_per_second": rate,
        "tasks": count,
        "statements_per_completion": statements,
    }
    # The returns start from a lifecycle the system ran: its start data, and its submitted declaration
    # (content included) as what the applicant resubmits.
    found = ceiling.from_system(config.database_url("review"))
    start = found[2] if found else None
    resubmission = submitted_in(config.database_url("declaration"), start["declaration_id"] if start else None)
    result["returns"] = social_review_after_loops(url, loops, start=start, resubmission=resubmission)
    result["returns"]["data"] = (
        "start data and submitted declaration of a lifecycle the system ran"
        if start and resubmission
        else "demo start data, no declaration content"
    )
    result["loops"] = load_after_loops(url, loops)
    return result


# ---------------------------------------------------------------- report


def machine(code: Path = ROOT) -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=code, capture_output=True, text=True
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "cpu": model.group(1).strip() if model else platform.processor(),
        "python": platform.python_version(),
        "commit": commit,
    }


# ---------------------------------------------------------------- main

PARTS = ("social", "appointment", "openloop", "profile", "growth", "engine")


def options() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes for development: clients 1,4; 2 lifecycles each; 15 s open loop; "
        "growth 200,1000; 2 profiled lifecycles",
    )
    parser.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated, of {', '.join(PARTS)}")
    parser.add_argument("--clients", help="comma-separated concurrent client counts (default 1,4,16)")
    parser.add_argument(
        "--lifecycles",
        type=int,
        default=0,
        help="closed-loop lifecycles per client count (default: 8, or 2 per client if more)",
    )
    parser.add_argument(
        "--poll",
        type=float,
        default=0.05,
        help="the scenario's polling interval in seconds while it waits for asynchronous steps",
    )
    parser.add_argument(
        "--open-fraction",
        type=float,
        default=0.5,
        help="open-loop arrival rate as a fraction of the measured social-review capacity",
    )
    parser.add_argument("--open-seconds", type=float, help="how long lifecycles keep arriving (default 60)")
    parser.add_argument("--profile-lifecycles", type=int, help="lifecycles run against the profiled review (6)")
    parser.add_argument("--growth", help="declaration counts to bulk-load (default 1000,10000,100000)")
    parser.add_argument("--growth-requests", type=int, help="timed requests per listing and size (default 30)")
    parser.add_argument("--ceiling-runs", type=int, help="in-memory social-review lifecycles (default 200)")
    parser.add_argument("--out", default=str(ROOT / "bench"), help="directory for results.md and results.json")
    parser.add_argument("--keep", action="store_true", help="keep the scratch directory (data and logs)")
    parser.add_argument(
        "--system",
        type=Path,
        default=ROOT,
        help="a checkout (a git worktree of another commit) whose code the system runs, driven by this "
        "checkout's clients: a before/after with the same measurement (social, appointment, openloop)",
    )
    args = parser.parse_args()
    quick = args.quick
    args.clients = args.clients or ("1,4" if quick else "1,4,16")
    args.open_seconds = args.open_seconds or (15.0 if quick else 60.0)
    args.profile_lifecycles = args.profile_lifecycles or (2 if quick else 6)
    args.growth = args.growth or ("200,1000" if quick else "1000,10000,100000")
    args.growth_requests = args.growth_requests or (10 if quick else 30)
    args.ceiling_runs = args.ceiling_runs or (20 if quick else 200)
    args.api_instances = 10 if quick else 40
    args.loops = (1, 10) if quick else (1, 10, 50)
    if quick and not args.lifecycles:
        args.lifecycles = 2
    unknown = set(args.parts.split(",")) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    return args


def main() -> int:
    args = options()
    parts = args.parts.split(",")
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    postgres = os.environ.get("BENCH_POSTGRES_URL")
    broker = os.environ.get("BENCH_BROKER_URL")
    backend = " + ".join(
        [
            f"PostgreSQL ({postgres.split('@')[-1]})" if postgres else "SQLite (embedded)",
            "RabbitMQ" if broker else "embedded broker",
        ]
    )
    per_level = {c: args.lifecycles or max(8, 2 * c) for c in levels}
    closed = sum(per_level.values()) * (("social" in parts) + ("appointment" in parts))

    import logging

    logging.disable(logging.WARNING)
    from scenario import client as scenario_client
    from scenario import social_review

    # The scenario polls for asynchronous steps; its 0.2 s default would dominate one client's lifecycle.
    scenario_client.wait_for.__defaults__ = (60.0, args.poll)
    social_review.step = lambda message: None  # quiet: the scenario prints every step otherwise

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="titles-bench-"))
    applicants_limit = closed + args.profile_lifecycles * 2 + int(args.open_seconds * 10) + 50
    system = System(work, postgres, broker, applicants=applicants_limit, code=args.system.resolve())
    print(f"bench: starting the system on {backend} (data and log in {work})", flush=True)
    began = time.monotonic()
    system.start()
    report: dict[str, Any] = {
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "backend": backend,
        "machine": machine(args.system.resolve()),
        "poll_seconds": args.poll,
        "load_average_at_start": os.getloadavg(),
        "parts": parts,
        "quick": args.quick,
        "command": " ".join(["bench/run.py", *sys.argv[1:]]),
    }
    code, failed = None, 0
    try:
        report["ready_seconds"] = system.wait_ready()
        applicants = Applicants(work / "data", applicants_limit)
        print("bench: ready; one warm-up lifecycle (not counted)", flush=True)
        warm = run_level(1, 1, applicants)
        if warm["failures"]:
            raise RuntimeError(f"the warm-up lifecycle failed: {warm['failures'][0]}")
        report["memory"] = {"after the warm-up lifecycle": system.memory()}
        for kind in ("social", "appointment"):
            if kind not in parts:
                continue
            report[kind] = []
            for clients in levels:
                print(f"bench: {per_level[clients]} {kind} lifecycles with {clients} concurrent clients", flush=True)
                before, counted = cpu.snapshot(system.process.pid), scrape.metrics_text()
                level = run_level(clients, per_level[clients], applicants, kind)
                level["cpu"] = cpu.difference(before, cpu.snapshot(system.process.pid), level["lifecycles"])
                counted_after = scrape.metrics_text()  # one scrape each side serves both tables
                level["work_cpu"] = work_cpu.difference(
                    work_cpu.parse(counted), work_cpu.parse(counted_after), level["lifecycles"]
                )
                level["write_locks"] = locks.difference(
                    locks.parse(counted), locks.parse(counted_after), level["seconds"], level["lifecycles"]
                )
                report[kind].append(level)
                print(
                    f"  {level['lifecycles_per_second']:.3f} lifecycles/s, {len(level['failures'])} failed", flush=True
                )

        def attempt(name: str, run: Any) -> None:
            """One part; a part that breaks is reported and the others still run."""
            try:
                run()
            except Exception as exc:  # noqa: BLE001
                import traceback

                report.setdefault("errors", []).append(f"{name}: {type(exc).__name__}: {exc}"[:1000])
                traceback.print_exc()

        def openloop() -> None:
            from bench import lag
            from shared import config

            capacity = max((lv["lifecycles_per_second"] for lv in report.get("social", [])), default=0.0)
            if not capacity:
                capacity = run_level(4, 8, applicants)["lifecycles_per_second"]
            rate = args.open_fraction * capacity
            # The saturated closed loop leaves messages behind: the open loop starts on a system that has
            # caught up, so its latencies are its own.
            report["settled_seconds"] = lag.settle({s: config.database_url(s) for s in SERVICES})
            print(
                f"bench: open loop, a social-review lifecycle every {1 / rate:.2f} s for {args.open_seconds:.0f} s "
                f"({args.open_fraction:.0%} of {capacity:.3f}/s)",
                flush=True,
            )
            result = open_loop(rate, args.open_seconds, applicants)
            result.update(capacity=capacity, fraction=args.open_fraction)
            report["openloop"] = result
            since, until = result.pop("window")
            time.sleep(2)  # the last messages of the window reach their consumers
            urls = {s: config.database_url(s) for s in SERVICES}
            report["lag"] = {
                "open_loop": lag.measure(urls, since, until),
                "whole_run": lag.measure(
                    urls, dt.datetime.min.replace(tzinfo=dt.UTC), dt.datetime.max.replace(tzinfo=dt.UTC)
                ),
            }

        def profile() -> None:
            print(f"bench: profiling the review service over {args.profile_lifecycles} lifecycles", flush=True)
            report["profile"] = part_profile(args.profile_lifecycles, applicants, out)

        def growth() -> None:
            print(f"bench: growth at {args.growth} declarations", flush=True)
            report["growth"] = part_growth([int(n) for n in args.growth.split(",")], args.growth_requests, applicants)

        def engine() -> None:
            print("bench: the engine alone (ceiling, one-process API, load and save after return loops)", flush=True)
            report["engine"] = part_engine(system, args.ceiling_runs, args.api_instances, args.loops)

        for name, run in (("openloop", openloop), ("profile", profile), ("growth", growth), ("engine", engine)):
            if name in parts:
                attempt(name, run)
            if name == "openloop":
                report["memory"]["after the closed and open loops"] = system.memory()
        report["memory"]["at the end"] = system.memory()
    finally:
        code = system.stop()
        print(f"bench: system stopped (exit {code})", flush=True)
    report["load_average_at_end"] = os.getloadavg()
    report["minutes"] = (time.monotonic() - began) / 60
    (out / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n", "utf-8")
    from bench.report import markdown

    (out / "results.md").write_text(markdown(report), "utf-8")
    print(markdown(report))
    failed = sum(len(level["failures"]) for kind in ("social", "appointment") for level in report.get(kind, []))
    failed += len(report.get("openloop", {}).get("failures", [])) + len(report.get("profile", {}).get("failures", []))
    ok = not failed and not report.get("errors") and code in (0, None)
    if ok and not args.keep:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"bench: scratch directory kept: {work}", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
