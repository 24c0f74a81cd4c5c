"""The collector's settings of a long-running process (shared/gc_tuning.py): each kind of process settles
once its start is over, and cycles made later are still collected.

Each check runs in an interpreter of its own: freezing the test run's own heap would keep its garbage."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from shared import gc_tuning
from tests.conftest import wait_for
from titles import supervisor

ROOT = Path(__file__).resolve().parents[2]
SETTLED = (gc_tuning.YOUNG, gc_tuning.MIDDLE, gc_tuning.OLD)


def _run(code: str, timeout: float = 120) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, cwd=ROOT, check=True
    )
    return done.stdout.strip()


def test_settling_freezes_the_start_and_still_collects_later_cycles():
    out = _run(
        "import gc, weakref\n"
        "from shared import gc_tuning\n"
        "class Node: pass\n"
        "left_by_start = Node(); left_by_start.me = left_by_start; start = weakref.ref(left_by_start)\n"
        "del left_by_start\n"
        "gc_tuning.settle()\n"
        "print(start() is None, gc.get_freeze_count() > 0, gc.get_threshold())\n"
        "later = Node(); later.me = later; probe = weakref.ref(later); del later\n"
        "gc.collect(); print(probe() is None)\n"
    )
    # the start's own cycle collected before the freeze, not frozen for good; a later cycle collected as ever
    assert out.splitlines() == [f"True True {SETTLED}", "True"]


def test_a_worker_process_settles_before_it_works():
    out = _run(
        "import gc\n"
        "from shared.process import until_signalled\n"
        "until_signalled('review', lambda stop: print(gc.get_freeze_count() > 0, gc.get_threshold()))\n"
    )
    assert out == f"True {SETTLED}"


def test_a_web_worker_settles_once_its_app_is_loaded(tmp_path):
    # A real gunicorn with the project's settings, serving an app that reports the collector's state.
    (tmp_path / "probe_app.py").write_text(
        "import gc\n"
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [f'{gc.get_freeze_count() > 0} {gc.get_threshold()}'.encode()]\n"
    )
    port = supervisor.free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "1",
        "PROMETHEUS_MULTIPROC_DIR": "",
    }
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("gunicorn")), "-c", "deploy/gunicorn.conf.py", "-b", f"127.0.0.1:{port}"]
        + ["probe_app:app"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answer() -> str | None:
        assert server.poll() is None, "gunicorn ended before it answered"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                return str(response.read().decode())
        except OSError:
            return None  # not listening yet

    try:
        body = wait_for("the probe app's answer", answer, timeout=60, interval=0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert body == f"True {SETTLED}"
