"""What ``bench/lock_probe`` recorded, summed over the processes: who held each SQLite database's write lock.

    .venv/bin/python bench/lock_probe/report.py /tmp/locks [--lifecycles 64] [--top 12]

Per database, its busiest call sites by the time they held the lock (a lifecycle's share where ``--lifecycles``
is given, else the whole run's): transactions, held ms, the mean hold and the holding thread's CPU meanwhile;
then each thread's BEGIN IMMEDIATEs and the time they waited for another process's transaction.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path


def totals(folder: Path) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    held: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    begins: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for path in sorted(folder.glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        for table, into in ((body["held"], held), (body["begins"], begins)):
            for key, values in table.items():
                for index, value in enumerate(values):
                    into[key][index] += value
    return held, begins


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--lifecycles", type=float, default=0, help="divide by this many lifecycles")
    parser.add_argument("--top", type=int, default=12, help="call sites shown a database")
    args = parser.parse_args()
    held, begins = totals(args.folder)
    if not held:
        print(f"nothing recorded in {args.folder}", file=sys.stderr)
        return 1
    per = args.lifecycles or 1.0
    unit = "a lifecycle" if args.lifecycles else "in all"
    databases = sorted(
        {key.split(" | ")[0] for key in held},
        key=lambda d: -sum(v[1] for k, v in held.items() if k.startswith(d + " | ")),
    )
    for database in databases:
        rows = sorted(((k, v) for k, v in held.items() if k.startswith(database + " | ")), key=lambda kv: -kv[1][1])
        print(f"\n{database}: held {sum(v[1] for _, v in rows) * 1000 / per:.1f} ms {unit}")
        print(
            f"  {'transactions':>12} {'held ms':>9} {'mean ms':>8} {'CPU ms':>7}  call site (thread, outermost project frames)"
        )
        for key, (count, seconds, cpu) in rows[: args.top]:
            print(
                f"  {count / per:12.2f} {seconds * 1000 / per:9.1f} {seconds * 1000 / count:8.2f} {cpu * 1000 / count:7.2f}"
                f"  {key.split(' | ', 1)[1]}"
            )
    print(f"\nBEGIN IMMEDIATE, by database and thread ({unit}): how many, the ms in them, the share that waited")
    for key, (count, seconds, waited) in sorted(begins.items(), key=lambda kv: -kv[1][1]):
        print(f"  {count / per:9.2f} {seconds * 1000 / per:9.1f} ms {waited / count:6.1%}  {key}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
