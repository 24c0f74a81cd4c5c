"""What the garbage collector cost each process the probe watched (bench/gc_probe/sitecustomize.py).

    .venv/bin/python bench/gc_probe/report.py /tmp/gc

One line a process that used at least a second of CPU: its CPU, and the collector's CPU, collections and longest
pause before and after it settled its collector (shared/gc_tuning.py). A forked child (a gunicorn worker) counts
from its fork.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def line(found: dict[str, Any]) -> str:
    parts = [f"{found['cpu_seconds']:7.2f} s CPU"]
    for phase in ("before", "after"):
        record = found[phase]
        seconds, collections = sum(record["seconds"]), sum(record["collections"])
        if collections:
            parts.append(
                f"{phase} settling: {seconds:6.3f} s ({seconds / found['cpu_seconds']:5.1%}) in {collections} "
                f"collections ({record['collections'][2]} full), longest {max(record['longest']) * 1000:5.1f} ms"
            )
    return " | ".join(parts) + f" | ...{found['argv'][-100:]}"  # a command line's end names the app


def main(folder: str) -> int:
    for path in sorted(Path(folder).glob("*.json")):
        found = json.loads(path.read_text(encoding="utf-8"))
        if found["cpu_seconds"] >= 1.0:
            print(line(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "."))
