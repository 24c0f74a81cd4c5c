"""``make fuzz``: schemathesis against the whole system as each demonstration role.

Starts ``titles run`` on free ports with a data folder of its own (the embedded default), then runs schemathesis with all
its default checks (settings in fuzz/schemathesis.toml) on each service's OpenAPI, once per role, a
bounded number of examples each. Exits non-zero if any run found a failure; each run's report is
kept under the output folder.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from titles.supervisor import free_port  # noqa: E402 - this checkout's, after the path above

SERVICES = ("profile", "declaration", "review", "certificate", "notify")
ROLES = ("applicant", "unit", "dept1", "committee", "expert1", "title_office")


def bin_path(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def start(work: Path) -> tuple[subprocess.Popen, dict[str, str]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith("_DATABASE_URL") and k not in ("BROKER_URL", "TITLES_NAMESPACE", "OIDC_ISSUER")
    }
    env.update(TITLES_DATA_DIR=str(work / "data"), TITLES_TEST_CLOCK="1", PYTHONPATH=str(ROOT))
    for name in ("issuer", *SERVICES, "console", "tsa"):
        env[f"{name.upper()}_PORT"] = str(free_port())
    log = open(work / "titles-run.log", "wb")  # noqa: SIM115 - the system's log, closed at exit
    process = subprocess.Popen(
        [bin_path("titles"), "run"], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    return process, env


def wait_ready(process: subprocess.Popen, env: dict[str, str], log: Path, timeout: float = 180.0) -> str | None:
    """None once every service is ready, else what went wrong with the end of every log."""
    import urllib.request

    deadline = time.monotonic() + timeout
    pending = [f"http://127.0.0.1:{env[f'{s.upper()}_PORT']}/ready" for s in SERVICES]
    while pending and time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(pending[0], timeout=3) as response:
                if response.status == 200:
                    pending.pop(0)
                    continue
        except OSError:
            pass
        time.sleep(1)
    if pending:
        # What the system and its processes printed is the only clue to why: show the end of each log.
        logs = [log, *sorted((log.parent / "data" / "logs").glob("*.log"))]
        tails = "".join(
            f"\n--- {path}:\n" + "\n".join(path.read_text("utf-8", errors="replace").splitlines()[-40:])
            for path in logs
            if path.exists()
        )
        state = f"it exited with {process.returncode}" if process.poll() is not None else "it still runs"
        return f"the system did not become ready ({state}): {pending[0]}{tails}"
    return None


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGINT)
    try:
        process.wait(60)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def token(env: dict[str, str], username: str) -> str:
    return subprocess.run(
        [bin_path("titles-dev-token"), username], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10, help="examples per operation and phase")
    parser.add_argument("--services", default=",".join(SERVICES))
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--out", type=Path, default=None, help="where the reports go (a temporary folder)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="titles-fuzz-"))
    out = args.out or work / "reports"
    out.mkdir(parents=True, exist_ok=True)
    for attempt in (1, 2):
        process, env = start(work)
        problem = wait_ready(process, env, work / "titles-run.log")
        if problem is None:
            break
        ended_by_itself = process.poll() is not None
        stop(process)
        print(problem, file=sys.stderr, flush=True)
        # Once more on other ports only if it ended by itself: a port chosen free can be taken before the
        # system binds it (titles run then refuses to start, naming the holder above).
        if attempt == 2 or not ended_by_itself:
            return 1
    failed: list[str] = []
    try:
        for service in args.services.split(","):
            url = f"http://127.0.0.1:{env[f'{service.upper()}_PORT']}/openapi.json"
            for role in args.roles.split(","):
                report = out / f"{service}-{role}.txt"
                # One worker: schemathesis's threads make CPython 3.11's ast module (hypothesis reads lambdas'
                # sources with it) raise "AST constructor recursion depth mismatch" (cpython gh-106905).
                command = [
                    bin_path("schemathesis"),
                    "--config-file",
                    str(ROOT / "fuzz" / "schemathesis.toml"),
                    "run",
                    url,
                    "-H",
                    f"Authorization: Bearer {token(env, role)}",
                    "--max-examples",
                    str(args.examples),
                    "--phases",
                    "examples,coverage,fuzzing",
                    "--workers",
                    "1",
                    "--seed",
                    "20261203",
                ]
                with open(report, "w", encoding="utf-8") as sink:
                    code = subprocess.run(command, stdout=sink, stderr=subprocess.STDOUT, cwd=work).returncode
                summary = [line for line in report.read_text("utf-8").splitlines() if line.startswith("===")]
                print(
                    f"{service:12} {role:13} {'ok' if code == 0 else 'FAILED'}  {summary[-1] if summary else ''}",
                    flush=True,
                )
                if code != 0:
                    failed.append(f"{service}/{role}: {report}")
    finally:
        stop(process)
    if failed:
        print("failures (reports):\n  " + "\n  ".join(failed))
        return 1
    print(f"no failure; reports in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
