"""The write locks' probe (bench/lock_probe): a process it is put on the path of records who held each SQLite
database's write lock and how long, and the report reads it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "bench" / "lock_probe"

WORK = """
import sys, threading
from sqlalchemy import text
from shared.db import make_engine
engine = make_engine("sqlite:///" + sys.argv[1])
with engine.begin() as conn:
    conn.execute(text("CREATE TABLE t (n INTEGER)"))
def write(times):
    for n in range(times):
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
threading.Thread(target=write, args=(5,), name="writer-1").start()
"""


def _probed(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(PROBE), str(ROOT)]),
        "TITLES_LOCK_PROBE_DIR": str(tmp_path / "probe"),
    }


def test_the_probe_names_who_held_the_write_lock_and_the_report_reads_it(tmp_path):
    subprocess.run(
        [sys.executable, "-c", WORK, str(tmp_path / "scratch.db")],
        env=_probed(tmp_path),
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    (found,) = [json.loads(p.read_text()) for p in (tmp_path / "probe").glob("*.json")]
    writes = {key: values for key, values in found["held"].items() if key.startswith("scratch | writer ")}
    assert sum(values[0] for values in writes.values()) == 5  # the thread's five transactions, by its name
    assert all(values[1] > 0 for values in writes.values())
    assert found["begins"]["scratch | writer"][0] == 5
    report = subprocess.run(
        [sys.executable, str(PROBE / "report.py"), str(tmp_path / "probe")], capture_output=True, text=True, check=True
    )
    assert "scratch: held" in report.stdout and "BEGIN IMMEDIATE" in report.stdout


def test_without_a_folder_the_probe_does_nothing(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROBE), str(ROOT)])}
    env.pop("TITLES_LOCK_PROBE_DIR", None)
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, shared.db, sitecustomize; print(len(sys.meta_path), shared.db._begin_immediate.__name__, sitecustomize.__file__)",
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split()[1:] == ["_begin_immediate", str(PROBE / "sitecustomize.py")]
