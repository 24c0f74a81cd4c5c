"""The garbage collector's probe (bench/gc_probe): a process it is put on the path of records its collections,
apart before and after it settles its collector, and the report reads them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "bench" / "gc_probe"

WORK = """
import gc, time
from shared import gc_tuning
def churn():
    for _ in range(20000):
        a = []; a.append(a)  # a cycle: only the collector frees it
churn(); gc.collect()
gc_tuning.settle()
churn(); gc.collect()
end = time.process_time() + 1.1
while time.process_time() < end:  # a second of CPU: the report leaves out processes that used less
    churn()
"""


def test_the_probe_counts_collections_before_and_after_the_settle_and_the_report_reads_them(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROBE), str(ROOT)]), "TITLES_GC_PROBE_DIR": str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", WORK], env=env, cwd=ROOT, timeout=120, check=True)
    assert done.returncode == 0
    (found,) = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    assert found["settled"] is True
    for phase in ("before", "after"):
        assert found[phase]["collections"][2] >= 1, phase  # the explicit full collection at least
        assert sum(found[phase]["seconds"]) > 0
    assert found["after"]["collections"][0] >= 1  # the churn after the settle still gets collected
    report = subprocess.run(
        [sys.executable, str(PROBE / "report.py"), str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert "before settling:" in report.stdout and "after settling:" in report.stdout


def test_without_a_folder_the_probe_does_nothing(tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(PROBE), str(ROOT)])}
    env.pop("TITLES_GC_PROBE_DIR", None)
    out = subprocess.run(
        [sys.executable, "-c", "import gc, sitecustomize; print(len(gc.callbacks), sitecustomize.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.split() == ["0", str(PROBE / "sitecustomize.py")]
