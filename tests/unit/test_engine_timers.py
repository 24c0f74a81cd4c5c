"""SpiffWorkflow's timers judged by the system's clock (services/review/engine/timers.py): they fire when
``shared.clock`` says so, whatever the wall clock says (docs/engine.md E13); instances keep saving and loading;
and a timer behind an event-based gateway has its due time found (docs/engine.md E12)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.util.task import TaskState

from services.review.engine import definitions, runtime, timers
from shared import clock

UTC = dt.UTC
PROCESS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_clocked" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="msg_resubmitted" name="declaration.resubmitted" />
  <bpmn:process id="clocked" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    BODY
  </bpmn:process>
</bpmn:definitions>
"""
CATCH = """<bpmn:intermediateCatchEvent id="wait">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer"><bpmn:KIND>EXPRESSION</bpmn:KIND></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="done" />"""
# The race of return_and_resubmit.bpmn in small: a message or a timer, whichever comes first.
RACE = """<bpmn:eventBasedGateway id="race">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:eventBasedGateway>
    <bpmn:intermediateCatchEvent id="resubmitted">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:messageEventDefinition id="resubmitted_def" messageRef="msg_resubmitted">
        <bpmn:extensionElements><spiffworkflow:messageVariable>resubmission</spiffworkflow:messageVariable></bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="deadline_passed">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:timerEventDefinition id="deadline_timer"><bpmn:timeDate>end_of_day(modification_deadline)</bpmn:timeDate></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="resubmitted_end"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="not_accepted"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="not_accepted" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="race" />
    <bpmn:sequenceFlow id="f2" sourceRef="race" targetRef="resubmitted" />
    <bpmn:sequenceFlow id="f3" sourceRef="race" targetRef="deadline_passed" />
    <bpmn:sequenceFlow id="f4" sourceRef="resubmitted" targetRef="resubmitted_end" />
    <bpmn:sequenceFlow id="f5" sourceRef="deadline_passed" targetRef="not_accepted" />"""


@pytest.fixture(autouse=True)
def test_clock(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")
    monkeypatch.setenv("TITLES_TEST_CLOCK_FILE", str(tmp_path / "test-clock.json"))


def started(body: str, **data: Any) -> BpmnWorkflow:
    bpmn = PROCESS.replace("BODY", body)
    spec, subprocess_specs = definitions.specs(f"clocked-{hash(bpmn)}", bpmn, "clocked")
    workflow = BpmnWorkflow(spec, subprocess_specs)
    workflow.script_engine = runtime.ScriptEngine(None, "d-1")  # type: ignore[arg-type]
    workflow.task_tree.data.update(data)
    workflow.do_engine_steps()
    return workflow


def tick(workflow: BpmnWorkflow) -> BpmnWorkflow:
    """What the scheduler does to a due instance."""
    workflow.refresh_timers()
    workflow.do_engine_steps()
    return workflow


def ended_at(workflow: BpmnWorkflow) -> list[str]:
    return [
        t.task_spec.bpmn_id
        for t in workflow.get_tasks(state=TaskState.COMPLETED)
        if t.task_spec.bpmn_id in ("done", "resubmitted_end", "not_accepted")
    ]


def test_a_date_timer_fires_by_the_systems_clock_not_the_wall_clock():
    due = dt.datetime.now(UTC).replace(microsecond=0) + dt.timedelta(days=400)  # the wall clock never gets there
    workflow = started(CATCH.replace("KIND", "timeDate").replace("EXPRESSION", f'"{due.isoformat()}"'))
    assert runtime.waiting_timers(workflow) == [("wait", "clocked", due)]
    clock.set_now_for_tests(due - dt.timedelta(seconds=1))
    assert ended_at(tick(workflow)) == []
    clock.set_now_for_tests(due + dt.timedelta(seconds=1))
    assert ended_at(tick(workflow)) == ["done"]
    # The other way round: a date the wall clock has passed does not fire while the system's clock is before it.
    past = dt.datetime(2020, 1, 1, tzinfo=UTC)
    clock.set_now_for_tests(past - dt.timedelta(days=1))
    workflow = started(CATCH.replace("KIND", "timeDate").replace("EXPRESSION", f'"{past.isoformat()}"'))
    assert ended_at(tick(workflow)) == []


def test_a_timer_that_falls_due_while_a_step_runs_is_run_by_that_step():
    due = dt.datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    clock.set_now_for_tests(due - dt.timedelta(hours=1))
    workflow = started(CATCH.replace("KIND", "timeDate").replace("EXPRESSION", f'"{due.isoformat()}"'))
    # The step began before the due time; by the engine's last look at its timers the time has passed.
    clock.set_now_for_tests(due + dt.timedelta(seconds=1))
    workflow.do_engine_steps()  # the engine alone: the timer is made READY at the end and left there
    [left] = [t for t in workflow.get_tasks(state=TaskState.READY) if t.task_spec.bpmn_id == "wait"]
    assert runtime.waiting_timers(workflow) == [] and ended_at(workflow) == []  # nothing would ever wake it
    runtime.run_engine(workflow)  # what a step runs: the engine until nothing automatic is left
    assert ended_at(workflow) == ["done"]


def test_a_duration_counts_from_the_systems_clock_when_the_process_reaches_it():
    reached = dt.datetime(2026, 9, 30, 12, 0, tzinfo=UTC)
    clock.set_now_for_tests(reached)
    workflow = started(CATCH.replace("KIND", "timeDuration").replace("EXPRESSION", '"P1M"'))
    [(_, _, due)] = runtime.waiting_timers(workflow)
    assert abs(due - dt.datetime(2026, 10, 30, 12, 0, tzinfo=UTC)) < dt.timedelta(seconds=5)
    clock.set_now_for_tests(due + dt.timedelta(seconds=1))
    assert ended_at(tick(workflow)) == ["done"]


def test_a_cycle_counts_from_the_systems_clock():
    clock.set_now_for_tests(dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    workflow = started(CATCH.replace("KIND", "timeCycle").replace("EXPRESSION", '"R1/PT1H"'))
    [(_, _, due)] = runtime.waiting_timers(workflow)
    assert abs(due - dt.datetime(2026, 1, 5, 10, 0, tzinfo=UTC)) < dt.timedelta(seconds=5)


def test_a_timer_behind_an_event_based_gateway_has_its_due_time_found_and_fires():
    clock.set_now_for_tests(dt.datetime(2026, 3, 2, 4, 0, tzinfo=UTC))
    workflow = started(RACE, modification_deadline="2026-03-20")
    closes = dt.datetime(2026, 3, 20, 23, 59, 59, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    # SpiffWorkflow's own list has no time for it (docs/engine.md E12); ours names the timer's element and its time.
    assert [(e.event_type, e.value) for e in workflow.waiting_events()] == [("MultipleEventDefinition", None)]
    assert runtime.waiting_timers(workflow) == [("deadline_passed", "clocked", closes)]
    clock.set_now_for_tests(closes - dt.timedelta(seconds=1))
    assert ended_at(tick(workflow)) == []
    clock.set_now_for_tests(closes + dt.timedelta(seconds=1))
    assert ended_at(tick(workflow)) == ["not_accepted"]


def test_a_timer_with_no_date_never_fires_and_the_other_event_decides():
    clock.set_now_for_tests(dt.datetime(2026, 3, 2, 4, 0, tzinfo=UTC))
    workflow = started(RACE, modification_deadline=None)
    assert runtime.waiting_timers(workflow) == []
    clock.set_now_for_tests(dt.datetime(2027, 3, 2, 4, 0, tzinfo=UTC))
    assert ended_at(tick(workflow)) == []
    [waiting] = workflow.get_tasks(state=TaskState.WAITING, spec_name="race")
    definition, element = runtime._waits_for(waiting.task_spec, "declaration.resubmitted")
    from SpiffWorkflow.bpmn import BpmnEvent

    workflow.send_event(BpmnEvent(definition, {"declaration_id": "d-1"}))
    workflow.do_engine_steps()
    assert (element, ended_at(workflow)) == ("resubmitted", ["resubmitted_end"])


def test_instances_with_our_timers_save_and_load_under_spiffworkflows_own_type_names():
    clock.set_now_for_tests(dt.datetime(2026, 3, 2, 4, 0, tzinfo=UTC))
    workflow = started(RACE, modification_deadline="2026-03-20")
    state = runtime.SERIALIZER.serialize_json(workflow)
    names = {d.get("typename") for d in _dicts(json.loads(state))}
    assert {"TimeDateEventDefinition", "MultipleEventDefinition"} <= names
    loaded = runtime.SERIALIZER.deserialize_json(state)
    [race] = loaded.get_tasks(state=TaskState.WAITING, spec_name="race")
    [timer] = [d for d in race.task_spec.event_definition.event_definitions if timers.is_timer(d)]
    assert type(timer) is timers.TimeDateEventDefinition
    # SpiffWorkflow's own serializer reads what we saved, and what it saves we read back as ours.
    plain = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
    again = runtime.SERIALIZER.deserialize_json(plain.serialize_json(plain.deserialize_json(state)))
    loaded.script_engine = again.script_engine = runtime.ScriptEngine(None, "d-1")  # type: ignore[arg-type]
    clock.set_now_for_tests(dt.datetime(2026, 3, 21, 4, 0, tzinfo=UTC))
    assert ended_at(tick(loaded)) == ended_at(tick(again)) == ["not_accepted"]


def _dicts(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value] + [d for v in value.values() for d in _dicts(v)]
    if isinstance(value, list):
        return [d for v in value for d in _dicts(v)]
    return []
