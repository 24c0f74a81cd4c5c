"""Before and after in turn: `bench/run.py` against two checkouts, alternated, and the pairs side by side.

    .venv/bin/python bench/pairs.py --before /tmp/wt-before [--before-python /tmp/venv-old/bin/python] \\
        [--pairs 4] [--out /tmp/pairs] -- --parts social --clients 16 --lifecycles 64

This machine's speed drifts by ten per cent and more within minutes (bench/results.md), as much as most changes
are worth: one run of each says nothing. Each pair runs the before checkout's `bench/run.py` (its own clients,
its own system, on ``--before-python``, by default this interpreter) and then this checkout's, with the same
arguments; the order flips every other pair so neither side always runs second. Each run starts its own system
(`BENCH_POSTGRES_URL` and `BENCH_BROKER_URL` choose the backend, as for `bench/run.py`). The table gives every
pair's closed-loop lifecycles a second and CPU seconds a lifecycle (the system's three process groups, and the
benchmark's clients), each pair's ratio and their median: quote the median ratio, and the spread beside it.
Below the table, each pair's system CPU a lifecycle against the clients' CPU a lifecycle of the same run: the
clients do the same work every lifecycle, so the host's speed in that run cancels out, and a change of a few per
cent shows where the throughput's ratios scatter by a third.

`git worktree add /tmp/wt-before <commit>` makes a before checkout; `ln -s /work/main/.venv /tmp/wt-before/.venv`
lends it this venv. Nothing in the tests depends on these figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cpu import SYSTEM_GROUPS  # noqa: E402

CLIENTS = "benchmark clients (this process)"


def figures(results: dict[str, Any]) -> dict[str, float]:
    """What a pair compares, from one run's results.json: its first closed-loop level's throughput and CPU."""
    kind = "social" if results.get("social") else "appointment"
    level = results[kind][0]
    spent = level["cpu"]["seconds_per_lifecycle"]
    return {
        "lifecycles_per_second": level["lifecycles_per_second"],
        "system_cpu": sum(spent.get(group, 0.0) for group in SYSTEM_GROUPS),
        "clients_cpu": spent.get(CLIENTS, 0.0),
        "failed": float(len(level["failures"])),
    }


def table(pairs: list[tuple[dict[str, float], dict[str, float]]]) -> str:
    """The pairs as a Markdown table, with each row's after/before ratio and the median ratio."""
    lines = [
        "| pair | lifecycles/s before | after | ratio | system CPU s a lifecycle before | after | ratio "
        "| clients' CPU s before | after |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    speed, cost = [], []
    for number, (before, after) in enumerate(pairs, 1):
        speed.append(after["lifecycles_per_second"] / before["lifecycles_per_second"])
        cost.append(after["system_cpu"] / before["system_cpu"])
        lines.append(
            f"| {number} | {before['lifecycles_per_second']:.3f} | {after['lifecycles_per_second']:.3f} "
            f"| {speed[-1]:.3f} | {before['system_cpu']:.3f} | {after['system_cpu']:.3f} | {cost[-1]:.3f} "
            f"| {before['clients_cpu']:.3f} | {after['clients_cpu']:.3f} |"
        )
    lines.append(
        f"| median | | | **{statistics.median(speed):.3f}** ({min(speed):.3f}-{max(speed):.3f}) | | "
        f"| **{statistics.median(cost):.3f}** ({min(cost):.3f}-{max(cost):.3f}) | | |"
    )
    if all(b["clients_cpu"] > 0 and a["clients_cpu"] > 0 for b, a in pairs):
        # The clients do the same work every lifecycle, so their CPU a lifecycle gauges the host's speed in
        # that run: the system's against it moves by a few per cent where the throughput moves by a third.
        relative = [(a["system_cpu"] / a["clients_cpu"]) / (b["system_cpu"] / b["clients_cpu"]) for b, a in pairs]
        lines.append(
            "\nThe system's CPU a lifecycle against the clients' in the same run (the host's speed cancels out), "
            f"after/before: {', '.join(f'{r:.3f}' for r in relative)}; median "
            f"**{statistics.median(relative):.3f}** ({min(relative):.3f}-{max(relative):.3f})."
        )
    failed = sum(b["failed"] + a["failed"] for b, a in pairs)
    if failed:
        lines.append(f"\n{failed:.0f} lifecycles failed in these runs: their figures are not comparable.")
    return "\n".join(lines) + "\n"


def run(python: str, checkout: Path, arguments: list[str], out: Path) -> dict[str, float]:
    command = [python, str(checkout / "bench" / "run.py"), *arguments, "--out", str(out)]
    log = out.with_suffix(".log")
    with open(log, "wb") as sink:
        finished = subprocess.run(command, cwd=checkout, stdout=sink, stderr=subprocess.STDOUT, check=False)
    results = out / "results.json"
    if not results.exists():
        raise RuntimeError(f"{' '.join(command)} exited {finished.returncode} without results: see {log}")
    found = figures(json.loads(results.read_text()))
    # bench/run.py exits 1 when a lifecycle failed (the table says so) or when a part broke (nothing to compare).
    if finished.returncode != 0 and not found["failed"]:
        raise RuntimeError(f"{' '.join(command)} exited {finished.returncode}: see {log}")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True, help="the before checkout (a git worktree)")
    parser.add_argument("--before-python", default=sys.executable, help="the interpreter that runs the before side")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--out", type=Path, help="where each run's results go (default: a new scratch folder)")
    parser.add_argument("arguments", nargs=argparse.REMAINDER, help="-- and then bench/run.py's arguments")
    args = parser.parse_args()
    arguments = [a for a in args.arguments if a != "--"] or ["--parts", "social", "--clients", "16"]
    if "--out" in arguments:
        parser.error("--out is this script's (each run gets a folder of its own under it)")
    out = args.out or Path(tempfile.mkdtemp(prefix="titles-pairs-"))
    out.mkdir(parents=True, exist_ok=True)
    sides = {"before": (args.before_python, args.before.resolve()), "after": (sys.executable, ROOT)}
    pairs = []
    for number in range(1, args.pairs + 1):
        order = ("before", "after") if number % 2 else ("after", "before")
        got = {}
        for side in order:
            python, checkout = sides[side]
            got[side] = run(python, checkout, arguments, out / f"{number}-{side}")
            print(f"pair {number} {side}: {got[side]['lifecycles_per_second']:.3f} lifecycles/s", flush=True)
        pairs.append((got["before"], got["after"]))
    print()
    print(
        f"before: {args.before} ({args.before_python}); after: {ROOT} ({sys.executable}); bench/run.py {' '.join(arguments)}"
    )
    print(table(pairs), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
