"""Instructions a review step costs, counted by valgrind: a figure the host's speed does not move.

    .venv/bin/python bench/instructions.py                                 # needs valgrind (apt-get install valgrind)
    PYTHONPATH=/tmp/before .venv/bin/python bench/instructions.py          # another checkout's code

On this project's hosts the same code runs a third faster or slower from one minute to the next, and a
change worth a few percent hides in that (bench/results.md). The instructions a piece of work executes hardly
move: each workload below runs under valgrind's cachegrind (no cache simulation) twice, at two sizes, in a
process of its own (the collector settled first, as in a service), and the difference of the two counts over
the difference of the sizes is the work's own, start-up and imports cancelled out. Reported, in millions of
instructions:

- the raw engine: SpiffWorkflow alone, in memory, a completion of the five-task chain of
  ``bench/review_engine.py`` (instances made, started and run through);
- an instance started through the runtime on SQLite (``runtime.start``: the first task projected, the state
  saved, in one transaction for all);
- a completion through the review API on SQLite: ``POST /api/v1/tasks/<id>/complete`` through the Flask test
  client, as ``bench/review_engine.py`` times it (token, lock, load, run, project, audit, save, commit): the
  difference of instances started and completed and instances started alone, over their five tasks;
- a claim through the review API on SQLite: ``POST /api/v1/tasks/<id>/claim`` of each started instance's first
  task (token, lock, the task claimed, its message), less the instances' start;

and the completion against the raw engine, the ratio goal 1 of issue 16 puts at 20 or less in time. Beside them,
what every request and every delivery pays, in the review's app and in a consumer:

- a request: ``GET /api/v1/clock`` through the review's Flask app in this process (``bench/web_request.py``: a
  token checked, a read-only unit of work, a view that reads nothing), no server around it;
- a delivery: a review's stage change through the notify service's consumer and handler
  (``bench/consumer.py``: the inbox, the replica, the applicant's notice, the commit), no transport around it.

Instructions are not time (a cache miss or a wait costs time and few instructions, and the kernel's work, the files
written, is not counted); they tell whether a change made the work smaller. Two counts of the same code agree
within about half a per cent, a delivery's within 1.5% (the hash seed is fixed and the development issuer's key
made once; uuids and the clock still differ). Nothing in the tests depends on these figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(ROOT))

# The two sizes of each workload: instances (raw, started, completed), requests, or deliveries a round (six rounds).
SIZES = {
    "raw": (20, 60),
    "started": (30, 90),
    "completed": (30, 90),
    "claimed": (30, 90),
    "request": (200, 1200),
    "delivery": (50, 250),
}
ROUNDS = 6  # bench/consumer.py's rounds of deliveries
_REFS = re.compile(r"I\s+refs:\s+([\d,]+)")


def child(workload: str, instances: int, keys: Path) -> None:
    """The workload itself, run under valgrind by ``count``; the development issuer's key is read from ``keys``
    (made once by ``main``: a key made in each process, a search for random primes, counted a different
    number of instructions each time)."""
    from bench import review_engine
    from bench.scratch import data_dir
    from services.review import bootstrap  # noqa: F401 - imported before the collector settles, as in a service
    from shared import gc_tuning

    gc_tuning.settle()
    work = data_dir("titles-bench-instructions-")
    if workload == "raw":
        review_engine.raw_spiff(review_engine.linear_bpmn(), instances)
    elif workload == "request":
        from bench import web_request

        db, app, headers = web_request.review_app(work, keys)
        for environ in web_request.environs_of("/api/v1/clock", headers, instances):
            b"".join(app(environ, web_request.start_response))
        db.dispose()
    elif workload == "claimed":
        from bench import web_request

        url = f"sqlite:///{work / 'review.db'}"
        review_engine.through_api(url, keys, instances, complete=False)
        _claim_every_task(*web_request.review_app(work, keys))
    elif workload == "delivery":
        from bench import consumer

        consumer.notify_rounds(f"sqlite:///{work / 'notify.db'}", instances)
    else:
        url = f"sqlite:///{work / 'review.db'}"
        review_engine.through_api(url, keys, instances, complete=workload == "completed")
    shutil.rmtree(work, ignore_errors=True)


def _claim_every_task(db: Any, app: Any, headers: dict[str, str]) -> None:
    """``POST /api/v1/tasks/<id>/claim`` of every ready task, as a unit reviewer, through the Flask test client."""
    from sqlalchemy import select

    from services.review.models import Task

    with db.uow(readonly=True) as uow:
        ready = list(uow.session.scalars(select(Task.id).where(Task.status == "ready")))
    client = app.test_client()
    for task_id in ready:
        response = client.post(f"/api/v1/tasks/{task_id}/claim", headers=headers)
        assert response.status_code == 200, response.get_json()
    db.dispose()


def count(workload: str, instances: int, keys: Path) -> int:
    """Instructions of a process that runs ``workload`` over ``instances``."""
    command = [
        "valgrind",
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        workload,
        str(instances),
        str(keys),
    ]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    found = instructions_in(done.stderr)
    if done.returncode != 0 or found is None:
        raise SystemExit(f"{workload} under valgrind failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return found


def instructions_in(report: str) -> int | None:
    """The instructions executed, from cachegrind's summary (``==123== I   refs:   7,062,557,103``)."""
    found = _REFS.search(report)
    return int(found.group(1).replace(",", "")) if found else None


def per_instance(workload: str, keys: Path) -> float:
    small, large = SIZES[workload]
    return (count(workload, large, keys) - count(workload, small, keys)) / (large - small)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("WORKLOAD", "INSTANCES", "KEYS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), Path(args.child[2]))
        return 0
    if shutil.which("valgrind") is None:
        raise SystemExit("valgrind is not installed: apt-get install valgrind")
    from bench import review_engine
    from shared.identity import dev_issuer

    print(f"code: {Path(review_engine.__file__).resolve().parents[1]}", flush=True)
    keys = Path(tempfile.mkdtemp(prefix="titles-bench-keys-"))
    try:
        dev_issuer.signing_key(data_dir=keys)
        raw = per_instance("raw", keys) / 5
        print(f"raw SpiffWorkflow, in memory:           {raw / 1e6:7.3f} M instructions a completion", flush=True)
        started = per_instance("started", keys)
        print(f"an instance started, SQLite:            {started / 1e6:7.3f} M instructions", flush=True)
        completion = (per_instance("completed", keys) - started) / 5
        print(
            f"a completion through the API, SQLite:   {completion / 1e6:7.3f} M instructions "
            f"({completion / raw:.1f}x the raw engine)",
            flush=True,
        )
        claim = per_instance("claimed", keys) - started
        print(f"a claim through the API, SQLite:        {claim / 1e6:7.3f} M instructions", flush=True)
        request = per_instance("request", keys)
        print(f"a request, GET /api/v1/clock (review):  {request / 1e6:7.3f} M instructions", flush=True)
        delivery = per_instance("delivery", keys) / ROUNDS
        print(f"a delivery, a stage change to notify:   {delivery / 1e6:7.3f} M instructions")
    finally:
        shutil.rmtree(keys, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
