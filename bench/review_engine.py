"""Benchmark of the review runtime.

    .venv/bin/python bench/review_engine.py [--instances N] [--postgres URL]

1. Human-task completions per second through the review API (Flask test client,
   token check, row locks, load -> run -> project -> audit -> save, commit), on
   SQLite and, when a PostgreSQL URL is given (``--postgres`` or
   ``TEST_POSTGRES_URL``), on PostgreSQL (a scratch database, dropped after);
2. beside it, the raw SpiffWorkflow run of the same diagram in memory;
3. the time to load an instance (fetch + deserialise) and to save it (prune +
   serialise + UPDATE + commit) after 1, 10 and 50 returns for revision, with the
   size of its saved state: the real social review (bpmn/social_review.bpmn with the
   return_and_resubmit.bpmn it calls) returned at the unit check and resubmitted
   through the runtime, as the service does,
   and, for comparison with earlier reports, a small check -> return -> amend loop.

The diagrams of 1 and 2 are a linear chain of five user tasks, and the small loop
(both generated below). Single process, one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import create_engine, select, text  # noqa: E402
from sqlalchemy.orm.attributes import flag_modified  # noqa: E402

HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_{pid}" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="{pid}" isExecutable="true">
    <bpmn:laneSet id="lanes"><bpmn:lane id="lane_unit" name="unit">{refs}</bpmn:lane></bpmn:laneSet>
"""
TASK = """    <bpmn:userTask id="{id}" name="{id}">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="unit_code" />
        <spiffworkflow:property name="decisions" value="{decisions}" />
        <spiffworkflow:property name="stage" value="{id}" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>{incoming}</bpmn:incoming><bpmn:outgoing>{outgoing}</bpmn:outgoing>
    </bpmn:userTask>
"""
OUTCOME = (
    "<bpmn:extensionElements><spiffworkflow:properties>"
    '<spiffworkflow:property name="outcome" value="certified" />'
    "</spiffworkflow:properties></bpmn:extensionElements>"
)


def linear_bpmn(n: int = 5) -> bytes:
    ids = [f"check_{i}" for i in range(1, n + 1)]
    body = HEAD.format(pid="bench_linear", refs="".join(f"<bpmn:flowNodeRef>{i}</bpmn:flowNodeRef>" for i in ids))
    body += '    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>\n'
    for k, task_id in enumerate(ids):
        body += TASK.format(id=task_id, decisions="approve", incoming=f"f{k}", outgoing=f"f{k + 1}")
    body += f'    <bpmn:endEvent id="done">{OUTCOME}<bpmn:incoming>f{n}</bpmn:incoming></bpmn:endEvent>\n'
    body += "".join(
        f'    <bpmn:sequenceFlow id="f{k}" sourceRef="{a}" targetRef="{b}" />\n'
        for k, (a, b) in enumerate(zip(["start"] + ids, ids + ["done"]))
    )
    return (body + "  </bpmn:process>\n</bpmn:definitions>\n").encode()


def loop_bpmn() -> bytes:
    """check -> (return: amend -> check again | approve: end): the return-and-resubmit loop."""
    body = HEAD.format(
        pid="bench_loop", refs="<bpmn:flowNodeRef>check</bpmn:flowNodeRef><bpmn:flowNodeRef>amend</bpmn:flowNodeRef>"
    )
    body += '    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>\n'
    body += (
        '    <bpmn:exclusiveGateway id="again"><bpmn:incoming>f0</bpmn:incoming><bpmn:incoming>f4</bpmn:incoming>'
        "<bpmn:outgoing>f1</bpmn:outgoing></bpmn:exclusiveGateway>\n"
    )
    body += TASK.format(id="check", decisions="approve,return", incoming="f1", outgoing="f2")
    body += (
        '    <bpmn:exclusiveGateway id="returned" default="f5"><bpmn:incoming>f2</bpmn:incoming>'
        "<bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f5</bpmn:outgoing></bpmn:exclusiveGateway>\n"
    )
    body += TASK.format(id="amend", decisions="approve", incoming="f3", outgoing="f4")
    body += f'    <bpmn:endEvent id="done">{OUTCOME}<bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>\n'
    body += """    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="again" />
    <bpmn:sequenceFlow id="f1" sourceRef="again" targetRef="check" />
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="returned" />
    <bpmn:sequenceFlow id="f3" sourceRef="returned" targetRef="amend">
      <bpmn:conditionExpression>decision == "return"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f4" sourceRef="amend" targetRef="again" />
    <bpmn:sequenceFlow id="f5" sourceRef="returned" targetRef="done" />
"""
    return (body + "  </bpmn:process>\n</bpmn:definitions>\n").encode()


UNIT = "91120101MA05K1XT13"


def raw_spiff(bpmn: bytes, runs: int) -> float:
    """Human-task completions per second, SpiffWorkflow alone, in memory."""
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    from services.review.engine import definitions

    spec, subs = definitions.specs("bench-raw", bpmn.decode(), "bench_linear")
    done = 0
    started = time.perf_counter()
    for _ in range(runs):
        workflow = BpmnWorkflow(spec, subs)
        workflow.task_tree.data.update({"unit_code": UNIT})
        workflow.do_engine_steps()
        while True:
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            ready[0].set_data(decision="approve")
            ready[0].run()
            workflow.do_engine_steps()
            done += 1
    return done / (time.perf_counter() - started)


class StatementCounter:
    """SQL statements sent through the engine while ``counting`` (an executemany is one), with the
    transactions' BEGIN (SQLite's BEGIN IMMEDIATE, sent as a statement) counted apart."""

    def __init__(self, engine: Any):
        from sqlalchemy import event

        self.counting, self.statements, self.begins = False, 0, 0
        event.listen(engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if self.counting:
            if statement.lstrip().upper().startswith("BEGIN"):
                self.begins += 1
            else:
                self.statements += 1


def through_api(url: str, data_dir: Path, instances: int, complete: bool = True) -> tuple[float, int, float]:
    """Completions per second through POST /api/v1/tasks/<id>/complete, with persistence, and the SQL
    statements per completion. ``complete=False`` only starts the instances (bench/instructions.py counts
    that apart)."""
    from services.review import bootstrap
    from services.review.engine import definitions, runtime
    from services.review.models import Organisation, Task
    from shared.identity import dev_issuer
    from shared.identity.tokens import TokenVerifier
    from shared.migrations import upgrade

    upgrade("review", url)
    db = bootstrap.database(url)
    jwks = dev_issuer.write_jwks_file(data_dir / "jwks.json", data_dir=data_dir)
    app = bootstrap.create_app(db, TokenVerifier(dev_issuer.default_issuer(), "titles", jwks.as_uri()))
    client = app.test_client()
    headers = {"Authorization": f"Bearer {dev_issuer.issue_token('unit', data_dir=data_dir)}"}
    with db.uow() as uow:
        # the unit is in the directory replica, as in the service (stage notices name it); a later round finds it
        if uow.session.get(Organisation, UNIT) is None:
            uow.session.add(Organisation(code=UNIT, name="基准测试单位", kind="unit", parent_code=None))
        definition, _ = definitions.deploy(uow, "bench_linear.bpmn", linear_bpmn())
        for _ in range(instances):
            declaration_id = str(uuid.uuid4())
            runtime.start(
                uow,
                definition,
                declaration_id,
                "applicant",
                {"declaration_id": declaration_id, "applicant": "applicant", "unit_code": UNIT},
            )
        uow.commit()
    if not complete:
        db.dispose()
        return 0.0, 0, 0.0
    completed = 0
    elapsed = 0.0
    counter = StatementCounter(db.engine)
    warm = True  # the first round pays for lazy imports and caches: not timed
    while True:
        with db.uow(readonly=True) as uow:  # finding the work is not timed
            open_ids = list(uow.session.scalars(select(Task.id).where(Task.status == "ready")))
        if not open_ids:
            break
        counter.counting = not warm
        started = time.perf_counter()
        for task_id in open_ids:
            response = client.post(f"/api/v1/tasks/{task_id}/complete", headers=headers, json={"decision": "approve"})
            assert response.status_code == 200, response.get_json()
        if not warm:
            elapsed += time.perf_counter() - started
            completed += len(open_ids)
        counter.counting = warm = False
    db.dispose()
    return completed / elapsed, completed, counter.statements / completed


def _timed_load_and_save(db, declaration_id: str, reps: int) -> dict[str, float]:
    """Median ms over ``reps`` rounds: load (fetch + deserialise), save (prune + serialise + UPDATE + commit),
    and within them the engine's own deserialise and serialise. One untimed round first."""
    return _timed_interleaved(db, [declaration_id], reps)[0]


def _timed_interleaved(db, declaration_ids: list[str], reps: int) -> list[dict[str, float]]:
    """``_timed_load_and_save`` for several instances, one round of each in turn, so that what else
    the machine runs meanwhile weighs on all of them alike (their ratio is the figure)."""
    from services.review.engine import history
    from services.review.engine import state as stored
    from services.review.models import Instance

    timed: dict[str, dict[str, list[float]]] = {}
    states: dict[str, str] = {}
    for rep in range(reps + 1):
        for declaration_id in declaration_ids:
            with db.uow(readonly=True) as uow:
                started = time.perf_counter()
                row = uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))
                state = row.state
                fetched = time.perf_counter()
                workflow = stored.load(uow, row)  # as runtime.locked does (the version's specs parsed once)
                done = time.perf_counter()
            with db.uow() as uow:
                instance = uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))
                saving = time.perf_counter()
                history.prune(workflow)  # as runtime.advance does before it saves
                instance.state = stored.dump(workflow)
                serialised = time.perf_counter()
                flag_modified(instance, "state")  # written even though the text is the same
                uow.commit()
                saved = time.perf_counter()
            states[declaration_id] = state
            if rep == 0:  # warm-up: not counted
                continue
            figures = timed.setdefault(declaration_id, {"load": [], "read": [], "save": [], "write": []})
            figures["load"].append((done - started) * 1000)
            figures["read"].append((done - fetched) * 1000)
            figures["save"].append((saved - saving) * 1000)
            figures["write"].append((serialised - saving) * 1000)
    return [
        {
            "load_ms": statistics.median(timed[d]["load"]),
            "deserialise_ms": statistics.median(timed[d]["read"]),
            "save_ms": statistics.median(timed[d]["save"]),
            "serialise_ms": statistics.median(timed[d]["write"]),
            "state_bytes": len(states[d].encode("utf-8")),
        }
        for d in declaration_ids
    ]


def _snapshot(db, declaration_id: str) -> str:
    """A copy of the instance's row as it is now (another declaration id), to be timed later."""
    from services.review.models import Instance

    with db.uow() as uow:
        row = uow.session.scalar(select(Instance).where(Instance.declaration_id == declaration_id))
        copy = str(uuid.uuid4())
        uow.session.add(
            Instance(
                id=str(uuid.uuid4()),
                declaration_id=copy,
                definition_id=row.definition_id,
                process_id=row.process_id,
                applicant=row.applicant,
                state=row.state,
                serializer_version=row.serializer_version,
                mode=row.mode,
            )
        )
        uow.commit()
    return copy


def resubmission_of(start: dict[str, Any]) -> dict[str, Any]:
    """A ``declaration.resubmitted.v1`` body for a declaration started with ``start``, when no real
    one is at hand: the submitted fields the review keeps, no declaration content."""
    from services.review.service import START_KEYS

    return {
        **{key: start.get(key) for key in START_KEYS},
        "submitted_at": "2026-06-01T09:00:00+08:00",
        "content": None,
        "settings": start.get("settings"),
    }


def submitted_in(declaration_url: str, declaration_id: str | None = None) -> dict[str, Any] | None:
    """The body of a ``declaration.submitted.v1`` the system sent (from the declaration service's
    outbox; that declaration's if given and found, else the latest social-review one)."""
    from sqlalchemy import create_engine

    engine = create_engine(declaration_url)
    try:
        with engine.connect() as conn:
            rows = (
                conn.execute(text("SELECT body FROM outbox WHERE type = 'declaration.submitted.v1' ORDER BY seq DESC"))
                .scalars()
                .all()
            )
    finally:
        engine.dispose()
    found = [json.loads(body)["data"] for body in rows]
    found = [d for d in found if d.get("mode") == "social_review"]
    return next((d for d in found if d["declaration_id"] == declaration_id), found[0] if found else None)


def social_review_after_loops(
    url: str,
    loops: tuple[int, ...] = (1, 10, 50),
    reps: int = 30,
    start: dict[str, Any] | None = None,
    resubmission: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The real social review after N returns at the unit check: bpmn/social_review.bpmn and the
    return_and_resubmit.bpmn it calls, deployed in a scratch review database and run through the
    runtime as the service runs it, each step in its own unit of work, committed: started
    (``runtime.start``), the unit returns the declaration (``runtime.locked`` + ``run_task`` with the
    data ``service.complete`` sets), the called process throws ``declaration.return_for_revision``
    and waits; ``declaration.resubmitted`` arrives (``service.apply_message``, as the consumer
    delivers it) and the unit check is open again. So the state timed is exactly what the service
    stores. After 1, 10 and 50 returns the row is copied; then the copies are timed, a round of each
    in turn: median ms to load it (fetch + deserialise) and to save it (prune + serialise + UPDATE +
    commit), and its size."""
    from bench.ceiling import demo_start_data
    from services.review import bootstrap, service
    from services.review.engine import definitions, runtime
    from services.review.models import Task

    upgrade_review(url)
    db = bootstrap.database(url)
    declaration_id = str(uuid.uuid4())
    start = {**(start or demo_start_data()), "declaration_id": declaration_id, "modification_deadline": None}
    payload = {
        **(resubmission or resubmission_of(start)),
        "declaration_id": declaration_id,
        "modification_deadline": None,
    }
    snapshots: list[str] = []
    with db.uow() as uow:
        definition, _ = definitions.deploy(
            uow, "social_review.bpmn", (definitions.bpmn_dir() / "social_review.bpmn").read_bytes()
        )
        calls = sorted(d.file_name for d in definitions.called_versions(uow, definition))
        runtime.start(uow, definition, declaration_id, start.get("applicant") or "applicant", start)
        uow.commit()

    def unit_check(uow: Any) -> str:
        task_id: str = uow.session.scalar(
            select(Task.id).where(
                Task.declaration_id == declaration_id, Task.bpmn_id == "unit_check", Task.status == "ready"
            )
        )
        return task_id

    for count in range(1, max(loops) + 1):
        with db.uow() as uow:
            task_id = unit_check(uow)
            with runtime.locked(uow, declaration_id=declaration_id) as (instance, workflow):
                runtime.run_task(
                    uow,
                    instance,
                    workflow,
                    task_id,
                    {
                        "decision": "return",
                        "reason": f"附件不清晰 ({count})",
                        "decided_by": "unit",
                        "decided_at": "2026-06-01T09:00:00+08:00",
                        "decided_stage": "unit_check",
                        "decided_stage_name": "unit_check",
                        "decided_organisation": start["unit_code"],
                    },
                )
            uow.commit()
        with db.uow() as uow:
            assert unit_check(uow) is None  # returned: waiting for the applicant
            with runtime.locked(uow, declaration_id=declaration_id) as (instance, workflow):
                delivered = service.apply_message(
                    uow, instance, workflow, "declaration.resubmitted.v1", payload, str(uuid.uuid4())
                )
                assert delivered
            uow.commit()
        with db.uow(readonly=True) as uow:
            assert unit_check(uow) is not None  # back at the unit
        if count in loops:
            snapshots.append(_snapshot(db, declaration_id))
    rows = [
        {"loops": count, **figures}
        for count, figures in zip(sorted(set(loops)), _timed_interleaved(db, snapshots, reps), strict=True)
    ]
    db.dispose()
    return {
        "diagram": f"bpmn/social_review.bpmn (calls {', '.join(calls)})",
        "content_bytes": len(json.dumps(payload.get("content"), ensure_ascii=False).encode("utf-8"))
        if payload.get("content")
        else 0,
        "rows": rows,
    }


def upgrade_review(url: str) -> None:
    from shared.migrations import upgrade

    upgrade("review", url)


def load_after_loops(url: str, loops: tuple[int, ...] = (1, 10, 50), reps: int = 30) -> list[dict[str, float]]:
    """The small hand-written loop diagram (check -> return -> amend -> check), kept for comparison
    with earlier reports: after N return loops through the runtime, the same timings as above."""
    from services.review import bootstrap
    from services.review.engine import definitions, runtime
    from services.review.models import Task

    upgrade_review(url)
    db = bootstrap.database(url)
    with db.uow() as uow:
        definition, _ = definitions.deploy(uow, "bench_loop.bpmn", loop_bpmn())
        uow.commit()
    out = []
    for count in loops:
        declaration_id = str(uuid.uuid4())
        with db.uow() as uow:
            runtime.start(
                uow,
                definition,
                declaration_id,
                "applicant",
                {"declaration_id": declaration_id, "applicant": "applicant", "unit_code": UNIT},
            )
            uow.commit()
        for _ in range(count):
            for stage, decision in (("check", "return"), ("amend", "approve")):
                with db.uow() as uow:
                    task_id = uow.session.scalar(
                        select(Task.id).where(
                            Task.declaration_id == declaration_id, Task.bpmn_id == stage, Task.status == "ready"
                        )
                    )
                    with runtime.locked(uow, declaration_id=declaration_id) as (instance, workflow):
                        runtime.run_task(uow, instance, workflow, task_id, {"decision": decision, "decided_by": "unit"})
                    uow.commit()
        out.append({"loops": count, **_timed_load_and_save(db, declaration_id, reps)})
    db.dispose()
    return out


def print_loops(rows: list[dict[str, float]]) -> None:
    for row in rows:
        print(
            f"    after {row['loops']:>2} returns: load {row['load_ms']:7.2f} ms (deserialise "
            f"{row['deserialise_ms']:7.2f}), save {row['save_ms']:7.2f} ms (serialise {row['serialise_ms']:7.2f}), "
            f"state {row['state_bytes'] / 1024:7.1f} KiB"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=60, help="instances of the 5-task diagram per backend")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("TEST_POSTGRES_URL"),
        help="admin URL of a PostgreSQL server (a scratch database is created and dropped)",
    )
    args = parser.parse_args()
    from bench.scratch import data_dir
    from services.review import bootstrap  # noqa: F401 - imported before the collector settles, as in a service
    from shared import gc_tuning

    # Every service process settles its collector once started (shared/gc_tuning.py); so does this one, before
    # anything is measured, the raw engine included.
    gc_tuning.settle()
    work = data_dir("titles-bench-")
    backends = [("sqlite", f"sqlite:///{work / 'review.db'}", None)]
    if args.postgres:
        name = f"titles_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.postgres, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        backends.append(("postgresql", f"{args.postgres.rsplit('/', 1)[0]}/{name}", (admin, name)))
    # The median of five rounds: one round of 300 completions takes some 40 ms, which one hiccup of the
    # machine's scheduler can halve, and the ratios below divide by this figure.
    raw = statistics.median(raw_spiff(linear_bpmn(), args.instances * 5) for _ in range(5))
    print(f"raw SpiffWorkflow, in memory            {raw:10.0f} task completions/s")
    try:
        for label, url, _ in backends:
            # The median of three rounds (each its own instances): one round's timed part is under a second,
            # and the machine's other work moved single rounds by 15% either way. Each round is divided by the
            # raw engine measured just before it (three short rounds, their median): the host's speed moved
            # by a third within an hour, so a ratio to a figure taken minutes earlier said more of the host
            # than of the code.
            rounds, ratios = [], []
            for _ in range(3):
                beside = statistics.median(raw_spiff(linear_bpmn(), args.instances * 5) for _ in range(3))
                rounds.append(through_api(url, work, args.instances))
                ratios.append(beside / rounds[-1][0])
            rate = statistics.median(r[0] for r in rounds)
            count, statements = rounds[0][1], max(r[2] for r in rounds)
            each = " / ".join(f"{r[0]:.0f}" for r in rounds)
            print(
                f"review API + persistence, {label:<12}  {rate:10.1f} task completions/s (median of {each}; {count} "
                f"tasks a round, {statistics.median(ratios):.1f}x the raw engine measured beside each round "
                f"({' / '.join(f'{x:.1f}' for x in ratios)}), {statements:.2f} SQL statements per completion)"
            )
            real = social_review_after_loops(url)
            print(f"  {label}: {real['diagram']}, returned at the unit check and resubmitted:")
            print_loops(real["rows"])
            print(f"  {label}: the small check -> return -> amend loop diagram (for comparison):")
            print_loops(load_after_loops(url))
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        for _, _, cleanup in backends:
            if cleanup:
                admin, name = cleanup
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
