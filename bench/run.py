"""``make bench``: the whole system's throughput and latency, beside the raw engine.

    .venv/bin/python bench/run.py [--clients 1,4,16] [--lifecycles N] [--poll SECONDS]

Starts ``titles run`` itself (free ports, a scratch data directory; PostgreSQL and
RabbitMQ when BENCH_POSTGRES_URL / BENCH_BROKER_URL are set, else the embedded
default), waits for every service, then for each client count runs complete
social-review lifecycles over HTTP with scenario/social_review.py (each lifecycle
as a fresh applicant, reviewers as the demo users, publicities fast-forwarded by
the review service's test clock). Writes bench/results.md and bench/results.json,
then stops the system with Ctrl-C (SIGINT) as a user would.
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
import socket
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

SERVICES = ("profile", "declaration", "review", "certificate", "notify")
DEMO_APPLICANT_ID = "120101198806120032"  # its register records are the template for every bench applicant

# Which requests the latency table reports: (label, method, service, path pattern).
MEASURED = [
    ("task completion", "POST", "review", re.compile(r"^/api/v1/tasks/[^/]+/complete$")),
    ("task-queue listing", "GET", "review", re.compile(r"^/api/v1/tasks$")),
    ("declaration submission", "POST", "declaration", re.compile(r"^/api/v1/declarations/[^/]+/submit$")),
]


# ---------------------------------------------------------------- the system

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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

    def __init__(self, work: Path, postgres: str | None, broker: str | None, applicants: int):
        self.work = work
        self.postgres = postgres
        self.databases: list[str] = []
        env = {k: v for k, v in os.environ.items()
               if not k.endswith("_DATABASE_URL") and k not in ("BROKER_URL", "TITLES_NAMESPACE", "OIDC_ISSUER")}
        env.update(TITLES_DATA_DIR=str(work / "data"), TITLES_TEST_CLOCK="1", TITLES_WORKDAYS_PROVISIONAL="1",
                   PROFILE_REGISTER_FILE=str(work / "register.json"))
        for name in ("issuer", *SERVICES):
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
        titles = str(Path(sys.executable).with_name("titles"))
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - a file, not a pipe: a long run must not block on it
        self.process = subprocess.Popen([titles, "run"], env=self.env, cwd=ROOT, stdout=self.log,
                                        stderr=subprocess.STDOUT, start_new_session=True)

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


# ---------------------------------------------------------------- clients

CLOCK = threading.Lock()


class Recorder:
    """Latency samples (ms) by label, and counts of the human steps taken over HTTP."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {label: [] for label, *_ in MEASURED}
        self.steps = 0  # task completions, publicity starts, attendance, defence: what a reviewer does
        self.lock = threading.Lock()

    def record(self, method: str, service: str, path: str, ms: float) -> None:
        for label, m, s, pattern in MEASURED:
            if method == m and service == s and pattern.match(path):
                with self.lock:
                    self.samples[label].append(ms)
        if method == "POST" and service == "review" and path != "/api/v1/clock/advance":
            if not path.endswith("/claim"):
                with self.lock:
                    self.steps += 1


def make_client(recorder: Recorder):
    from scenario.client import Client

    class TimedClient(Client):
        def call(self, user: str, method: str, service: str, path: str, *args: Any, **kwargs: Any) -> Any:
            if user not in self.tokens:
                self.login(user)  # logging in is not what is measured
            if service == "review" and (path == "/api/v1/clock/advance" or path.endswith("/defence")):
                # Concurrent lifecycles share review's test clock: the scenario reads "today" and then
                # schedules the defence ten days on; another client moving the clock in between would
                # put that date in the past. Clock moves and defence scheduling take turns here.
                with CLOCK:
                    if path.endswith("/defence"):
                        today = super().call(user, "POST", "review", "/api/v1/clock/advance", json={"days": 0})
                        at = dt.date.fromisoformat(today["today"]) + dt.timedelta(days=10)
                        kwargs["json"] = {**kwargs["json"], "at": f"{at}T09:00:00+08:00"}
                    return self._timed(user, method, service, path, *args, **kwargs)
            return self._timed(user, method, service, path, *args, **kwargs)

        def _timed(self, user: str, method: str, service: str, path: str, *args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            result = super().call(user, method, service, path, *args, **kwargs)
            recorder.record(method, service, path, (time.perf_counter() - started) * 1000)
            return result

    return TimedClient()


class Applicants:
    """Fresh applicants: the demo user has one live declaration per activity, so each lifecycle needs its own."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.serials = itertools.count()
        self.lock = threading.Lock()

    def token(self) -> str:
        import jwt

        from shared import config
        from shared.identity import dev_issuer

        with self.lock:
            serial = next(self.serials)
        kid, key = dev_issuer.signing_key(self.data_dir)
        now = int(time.time())
        claims = {"iss": config.oidc().issuer, "aud": "titles", "sub": f"bench-applicant-{serial}",
                  "name": f"测试申报人{serial}", "id_number": resident_id(serial), "role": "applicant",
                  "iat": now, "exp": now + 8 * 3600}
        return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


def lifecycle(client: Any, applicants: Applicants) -> str:
    from scenario import social_review

    client.tokens["applicant"] = applicants.token()
    return social_review.run(client, ready_timeout=10)


def run_level(clients: int, lifecycles: int, applicants: Applicants) -> dict[str, Any]:
    """``lifecycles`` complete social reviews by ``clients`` concurrent clients."""
    recorder = Recorder()
    counter = itertools.count()
    failures: list[str] = []
    done: list[float] = []

    def worker() -> None:
        client = make_client(recorder)
        while next(counter) < lifecycles:
            started = time.perf_counter()
            try:
                lifecycle(client, applicants)
                done.append(time.perf_counter() - started)
            except Exception as exc:  # noqa: BLE001 - a failed lifecycle is reported, the run goes on
                failures.append(f"{type(exc).__name__}: {str(exc)[:300]}")

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
        "latency_ms": {label: percentiles(values) for label, values in recorder.samples.items()},
    }


def percentiles(values: list[float]) -> dict[str, float | int | None]:
    if len(values) < 2:
        return {"n": len(values), "p50": values[0] if values else None, "p95": None, "p99": None}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"n": len(values), "p50": cuts[49], "p95": cuts[94], "p99": cuts[98]}


# ---------------------------------------------------------------- report

def machine() -> dict[str, Any]:
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"MemTotal:\s+(\d+) kB", meminfo)
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"model name\s*:\s*(.+)", cpuinfo)
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip()
    except OSError:
        commit = ""
    return {"cores": os.cpu_count(), "memory_gib": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
            "cpu": model.group(1).strip() if model else platform.processor(), "python": platform.python_version(),
            "commit": commit}


def fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# Benchmark results",
        "",
        f"- date: {report['date']}",
        f"- backend: {report['backend']}",
        f"- machine: {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB memory, Python {m['python']}, "
        f"commit {m['commit']}",
        f"- command: `{report['command']}`; system ready after {report['ready_seconds']:.1f} s; "
        f"scenario polling interval {report['poll_seconds']} s",
        "",
        "## End-to-end throughput (complete social-review lifecycles over HTTP)",
        "",
        "A lifecycle: fresh applicant's profile filled, declaration drafted, filled and submitted, every review "
        "step completed by the demo reviewers, three experts voting, two publicities fast-forwarded by the test "
        "clock, certificate issued, the applicant's notification stored.",
        "",
        "| clients | lifecycles | failed | seconds | lifecycles/s | median lifecycle (s) | reviewer steps/s |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for level in report["levels"]:
        lines.append(f"| {level['clients']} | {level['lifecycles']} | {len(level['failures'])} | "
                     f"{level['seconds']:.1f} | {level['lifecycles_per_second']:.3f} | "
                     f"{fmt(level['lifecycle_seconds_median'])} | {level['human_steps_per_second']:.2f} |")
    lines += ["", "## Latency during those runs (ms)", "",
              "| clients | request | n | p50 | p95 | p99 |", "|---:|---|---:|---:|---:|---:|"]
    for level in report["levels"]:
        for label, p in level["latency_ms"].items():
            lines.append(f"| {level['clients']} | {label} | {p['n']} | {fmt(p['p50'])} | {fmt(p['p95'])} | "
                         f"{fmt(p['p99'])} |")
    engine = report["engine"]
    lines += ["", "## The engine's ceiling, side by side", "",
              f"Raw SpiffWorkflow in memory (bench/review_engine.py, linear five-user-task diagram, this process): "
              f"**{engine['raw_task_completions_per_second']:.0f}** task completions/s.", "",
              "| clients | system reviewer steps/s | raw engine / system |", "|---:|---:|---:|"]
    for level in report["levels"]:
        rate = level["human_steps_per_second"]
        ratio = engine["raw_task_completions_per_second"] / rate if rate else None
        lines.append(f"| {level['clients']} | {rate:.2f} | {fmt(ratio, 0)}× |")
    failures = [f for level in report["levels"] for f in level["failures"]]
    if failures:
        lines += ["", "## Failures", ""] + [f"- {f}" for f in failures[:20]]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="1,4,16", help="comma-separated concurrent client counts")
    parser.add_argument("--lifecycles", type=int, default=0,
                        help="lifecycles per client count (default: 8, or 2 per client if more)")
    parser.add_argument("--poll", type=float, default=0.05,
                        help="the scenario's polling interval in seconds while it waits for asynchronous steps")
    parser.add_argument("--engine-runs", type=int, default=300, help="instances of the raw engine measurement")
    parser.add_argument("--out", default=str(ROOT / "bench"), help="directory for results.md and results.json")
    args = parser.parse_args()
    levels = [int(c) for c in args.clients.split(",") if c.strip()]
    postgres = os.environ.get("BENCH_POSTGRES_URL")
    broker = os.environ.get("BENCH_BROKER_URL")
    backend = " + ".join([f"PostgreSQL ({postgres.split('@')[-1]})" if postgres else "SQLite (embedded)",
                          "RabbitMQ" if broker else "embedded broker"])
    per_level = {c: args.lifecycles or max(8, 2 * c) for c in levels}

    import logging

    logging.disable(logging.WARNING)
    from scenario import client as scenario_client
    from scenario import social_review

    # The scenario polls for asynchronous steps; its 0.2 s default would dominate one client's lifecycle.
    scenario_client.wait_for.__defaults__ = (60.0, args.poll)
    social_review.step = lambda message: None  # quiet: the scenario prints every step otherwise

    work = Path(tempfile.mkdtemp(prefix="titles-bench-"))
    system = System(work, postgres, broker, applicants=sum(per_level.values()) + 8)
    print(f"bench: starting the system on {backend} (data and log in {work})", flush=True)
    system.start()
    report: dict[str, Any] = {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                              "backend": backend, "machine": machine(), "poll_seconds": args.poll,
                              "command": " ".join(["bench/run.py", *sys.argv[1:]]), "levels": []}
    code = None
    try:
        report["ready_seconds"] = system.wait_ready()
        applicants = Applicants(work / "data")
        print("bench: ready; one warm-up lifecycle (not counted)", flush=True)
        warm = run_level(1, 1, applicants)
        if warm["failures"]:
            raise RuntimeError(f"the warm-up lifecycle failed: {warm['failures'][0]}")
        for clients in levels:
            print(f"bench: {per_level[clients]} lifecycles with {clients} concurrent clients", flush=True)
            level = run_level(clients, per_level[clients], applicants)
            report["levels"].append(level)
            print(f"  {level['lifecycles_per_second']:.3f} lifecycles/s, {len(level['failures'])} failed", flush=True)
    finally:
        code = system.stop()
        print(f"bench: system stopped (exit {code})", flush=True)

    from bench.review_engine import linear_bpmn, raw_spiff

    report["engine"] = {"raw_task_completions_per_second": raw_spiff(linear_bpmn(), args.engine_runs),
                        "diagram": "linear five user tasks", "runs": args.engine_runs}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", "utf-8")
    (out / "results.md").write_text(markdown(report), "utf-8")
    print(markdown(report))
    failed = sum(len(level["failures"]) for level in report["levels"])
    return 1 if failed or code not in (0, None) else 0


if __name__ == "__main__":
    sys.exit(main())
