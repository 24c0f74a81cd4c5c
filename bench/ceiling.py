"""The engine's ceiling: the social-review lifecycle's review steps run by SpiffWorkflow alone.

The same diagram the system deployed (``bpmn/social_review.bpmn``) and the same start data as a
lifecycle the system ran (read from the review database when given, else built from the demo
data), in memory in this process: every human step the bench's reviewers take over HTTP (unit
check, recommendation, unit publicity, recommend upward, two department checks, committee
acceptance, defence, attendance, three expert votes, result publicity, report, filing) and the
``certificate.issued`` message, with the service tasks (panel draw, deadline check, tally, the
publicity periods and their objections) answered in memory; a publicity's timer is given a due time
already past, so it fires as soon as the process reaches it (the system's scheduler fires it after
the test clock moved). Two figures:

- ``raw``: the engine only (``run`` + ``do_engine_steps``), the state never leaves memory;
- ``with state (de)serialisation``: as raw, plus the JSON round trip of the instance state at
  every step, which the system does on every step (load, run, save).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PANEL = ["expert1", "expert2", "expert3"]
# What each reviewer step sets on its task, as the review service does (service.complete and the actions).
STEP_DATA: dict[str, dict[str, Any]] = {
    "unit_check": {"decision": "approve"},
    "unit_recommendation": {"decision": "recommend"},
    "unit_publicity": {"decision": "start", "publicity_starts_on": "2026-11-27", "publicity_evidence": None},
    "unit_recommend": {"decision": "approve"},
    "department_check": {"decision": "approve"},
    "committee_acceptance": {"decision": "approve"},
    "schedule_defence": {"decision": "approve"},
    "record_attendance": {"decision": "approve", "present": PANEL, "members": PANEL},
    "expert_vote": {},  # the vote goes to the votes table, not the process data
    "result_publicity": {"decision": "start", "publicity_starts_on": "2026-11-27", "publicity_evidence": None},
    "report_results": {"decision": "approve"},
    "title_office_filing": {"decision": "approve"},
}


def demo_start_data() -> dict[str, Any]:
    """Start data as review's start_review builds it for the demo activity and demo directory (the
    yearly rules are decided in the diagram, from bpmn/*.dmn, with the activity's settings as inputs)."""
    from services.review.service import activity_settings

    activity = json.loads((ROOT / "shared" / "demo" / "activities.json").read_text("utf-8"))["activities"][0]
    users = {
        u["username"]: u for u in json.loads((ROOT / "shared" / "demo" / "users.json").read_text("utf-8"))["users"]
    }
    # The department chain is the demo departments' organisations, lowest level first.
    return {
        "declaration_id": "ceiling",
        "applicant": "applicant",
        "applicant_name": "张伟",
        "id_number": "120101198806120032",
        "unit_code": users["unit"]["org"],
        "activity_id": activity["id"],
        "committee_code": activity["committee_code"],
        "committee_name": activity["committee_name"],
        "mode": "social_review",
        "series": activity["series"],
        "level": activity["levels"][0],
        "specialty": activity["specialties"][0],
        "qualification_name": activity["qualification_names"][0],
        "category": "normal",
        "modification_deadline": None,
        "departments": [users["dept1"]["org"], users["dept2"]["org"]],
        "title_office_code": users["title_office"]["org"],
        "unit_name": "unit",
        "settings": {},
        **activity_settings(
            {
                "panel_size": activity["panel_size"],
                "settings": {
                    "defence_levels": activity.get("defence_levels"),
                    "service_levels": activity.get("service_levels"),
                    "publicity_working_days": activity.get("publicity_working_days"),
                    "vote_threshold_numerator": activity.get("vote_numerator"),
                    "vote_threshold_denominator": activity.get("vote_denominator"),
                },
            }
        ),
    }


Files = tuple[tuple[str, str], ...]  # (file name, text)


def from_system(review_url: str) -> tuple[str, str, dict[str, Any], Files, Files] | None:
    """(bpmn, process id, start data, called processes, decision tables) of a social-review instance the
    system ran, if any."""
    from sqlalchemy import create_engine, select

    from services.review.models import Definition, Instance

    engine = create_engine(review_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(Instance.state, Definition.bpmn, Definition.process_id, Definition.calls, Definition.decisions)
                .join(Definition, Definition.id == Instance.definition_id)
                .where(Instance.process_id == "social_review", Instance.status == "completed", Instance.state != "")
                .order_by(Instance.created_at.desc())
                .limit(1)
            ).first()
            called = (
                tuple(
                    conn.execute(
                        select(Definition.file_name, Definition.bpmn, Definition.decisions).where(
                            Definition.id.in_(row.calls or [])
                        )
                    ).all()
                )
                if row
                else ()
            )
    finally:
        engine.dispose()
    if row is None:
        return None
    # the root task's data, as stored (a stored state names its version instead of carrying its specs)
    saved = json.loads(row.state)
    data = dict(saved["tasks"][saved["root"]]["data"])
    tables = {
        decision: (table["file_name"], table["dmn"])
        for stored in [row.decisions, *(c.decisions for c in called)]
        for decision, table in (stored or {}).items()
    }
    return (
        row.bpmn,
        row.process_id,
        data,
        tuple((c.file_name, c.bpmn) for c in called),
        tuple(tables[decision] for decision in sorted(tables)),
    )


class MemoryScriptEngine:
    """SpiffWorkflow's Python script engine with the review operations answered in memory."""

    def __new__(cls) -> Any:
        from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

        from services.review.engine.functions import FUNCTIONS

        class Engine(PythonScriptEngine):
            def __init__(self) -> None:
                super().__init__(environment=TaskDataEnvironment(dict(FUNCTIONS)))

            def call_service(
                self,
                task: Any,
                operation_name: str | None = None,  # type: ignore[override]
                operation_params: dict[str, Any] | None = None,
                **_: Any,
            ) -> str:
                params = {name: spec["value"] for name, spec in (operation_params or {}).items()}
                if operation_name == "review.draw_panel":
                    panel = PANEL[: int(params.get("size") or 3)]
                    return json.dumps({"drawn": True, "panel": panel, "eligible": len(PANEL), "size": len(panel)})
                if operation_name == "review.before_deadline":
                    return json.dumps(True)
                if operation_name == "review.tally_votes":
                    return json.dumps(
                        {"members": 3, "present": 3, "agree": 3, "disagree": 0, "abstain": 0, "not_voted": 0}
                    )
                if operation_name == "review.open_publicity":  # a period already over: its timer fires at once
                    return json.dumps(
                        {
                            "id": 1,
                            "kind": params.get("kind"),
                            "starts_on": "2026-11-27",
                            "ends_on": "2026-12-03",
                            "working_days": 5,
                            "due_at": "2000-01-01T00:00:00+00:00",
                        }
                    )
                if operation_name == "review.publicity_objections":
                    return json.dumps({"open": 0, "upheld": 0})
                raise ValueError(f"unknown service operation {operation_name!r}")

        return Engine()


def lifecycles(
    bpmn: str,
    process_id: str,
    start: dict[str, Any],
    runs: int,
    persist: bool = False,
    called: Files = (),
    dmn: Files = (),
) -> dict[str, Any]:
    """Run ``runs`` social-review lifecycles; lifecycles and steps per second."""
    from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    from services.review.engine import definitions, runtime

    spec, subs = definitions.specs(f"ceiling-{process_id}", bpmn, process_id, called, dmn)
    script_engine = MemoryScriptEngine()
    steps = 0
    started = time.perf_counter()
    for _ in range(runs):
        workflow = BpmnWorkflow(spec, subs, script_engine=script_engine)
        workflow.task_tree.data.update(start)
        workflow.do_engine_steps()
        workflow.get_events()
        state = runtime.SERIALIZER.serialize_json(workflow) if persist else None
        while not workflow.is_completed():
            if persist:
                workflow = runtime.SERIALIZER.deserialize_json(state)
                workflow.script_engine = script_engine
            ready = workflow.get_tasks(state=TaskState.READY, manual=True)
            if ready:
                task = ready[0]
                task.set_data(
                    reason=None,
                    decided_by="bench",
                    decided_at="2026-11-27T09:00:00+08:00",
                    decided_stage=task.task_spec.bpmn_id,
                    decided_stage_name=task.task_spec.bpmn_name,
                    decided_organisation=None,
                    **STEP_DATA[task.task_spec.bpmn_id],
                )
                task.run()
            else:
                waiting = [
                    runtime._waits_for(t.task_spec, "certificate.issued")[0]
                    for t in workflow.get_tasks(state=TaskState.WAITING)
                ]
                waiting = [w for w in waiting if w is not None]
                if not waiting:
                    raise RuntimeError("the in-memory lifecycle is stuck: nothing ready, no certificate awaited")
                workflow.send_event(BpmnEvent(waiting[0], {"number": "TJZC2026000001"}))
            workflow.do_engine_steps()
            workflow.get_events()
            steps += 1
            if persist:
                state = runtime.SERIALIZER.serialize_json(workflow)
        if not any(t.task_spec.bpmn_id == "certified" for t in workflow.get_tasks(state=TaskState.COMPLETED)):
            raise RuntimeError("the in-memory lifecycle did not end certified")
    seconds = time.perf_counter() - started
    return {
        "runs": runs,
        "steps_per_lifecycle": steps / runs,
        "lifecycles_per_second": runs / seconds,
        "steps_per_second": steps / seconds,
    }


def measure(review_url: str | None, runs: int) -> dict[str, Any]:
    found = from_system(review_url) if review_url else None
    if found is None:
        from services.review.engine import definitions

        bpmn, process_id, start, source = (
            (ROOT / "bpmn" / "social_review.bpmn").read_text("utf-8"),
            "social_review",
            demo_start_data(),
            "demo data",
        )
        # The processes it calls (return_and_resubmit.bpmn) and the decision tables, from the same folder.
        result = definitions.checked("social_review.bpmn", bpmn.encode("utf-8"))
        called = tuple((name, content.decode("utf-8")) for name, content in result.calls.values())
        dmn = tuple((name, content.decode("utf-8")) for _, (name, content) in sorted(result.decides.items()))
    else:
        (bpmn, process_id, start, called, dmn), source = found, "a lifecycle the system ran"
    lifecycles(bpmn, process_id, start, 1, called=called, dmn=dmn)  # warm-up: parsing, imports
    return {
        "diagram": f"{process_id} (as deployed)",
        "start_data": source,
        "raw": lifecycles(bpmn, process_id, start, runs, called=called, dmn=dmn),
        "serialised": lifecycles(bpmn, process_id, start, max(1, runs // 4), persist=True, called=called, dmn=dmn),
    }
