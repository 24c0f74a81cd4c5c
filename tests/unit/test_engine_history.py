"""engine/history.py on shapes the review's own diagrams do not have: a parallel split and join, and
an embedded sub-process, each inside a loop. Pruned and saved after every step, the instance keeps
working (the join waits for both branches, the sub-process hands its data back), and a round adds
to its saved state only what is kept of each finished sub-process run."""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from services.review.engine import definitions, history
from services.review.engine.runtime import SERIALIZER

BPMN = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="t">
  <bpmn:process id="loops" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:exclusiveGateway id="again"><bpmn:incoming>f0</bpmn:incoming><bpmn:incoming>f9</bpmn:incoming>
      <bpmn:outgoing>f1</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:parallelGateway id="split"><bpmn:incoming>f1</bpmn:incoming>
      <bpmn:outgoing>f2</bpmn:outgoing><bpmn:outgoing>f3</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:userTask id="left"><bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing></bpmn:userTask>
    <bpmn:userTask id="right"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:userTask>
    <bpmn:parallelGateway id="join"><bpmn:incoming>f4</bpmn:incoming><bpmn:incoming>f5</bpmn:incoming>
      <bpmn:outgoing>f6</bpmn:outgoing></bpmn:parallelGateway>
    <bpmn:subProcess id="inner"><bpmn:incoming>f6</bpmn:incoming><bpmn:outgoing>f7</bpmn:outgoing>
      <bpmn:startEvent id="inner_start"><bpmn:outgoing>g0</bpmn:outgoing></bpmn:startEvent>
      <bpmn:userTask id="inner_check"><bpmn:incoming>g0</bpmn:incoming><bpmn:outgoing>g1</bpmn:outgoing></bpmn:userTask>
      <bpmn:scriptTask id="count"><bpmn:incoming>g1</bpmn:incoming><bpmn:outgoing>g2</bpmn:outgoing>
        <bpmn:script>rounds = rounds + 1</bpmn:script></bpmn:scriptTask>
      <bpmn:endEvent id="inner_end"><bpmn:incoming>g2</bpmn:incoming></bpmn:endEvent>
      <bpmn:sequenceFlow id="g0" sourceRef="inner_start" targetRef="inner_check" />
      <bpmn:sequenceFlow id="g1" sourceRef="inner_check" targetRef="count" />
      <bpmn:sequenceFlow id="g2" sourceRef="count" targetRef="inner_end" />
    </bpmn:subProcess>
    <bpmn:exclusiveGateway id="more" default="f8"><bpmn:incoming>f7</bpmn:incoming>
      <bpmn:outgoing>f8</bpmn:outgoing><bpmn:outgoing>f9</bpmn:outgoing></bpmn:exclusiveGateway>
    <bpmn:endEvent id="done"><bpmn:incoming>f8</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="again" />
    <bpmn:sequenceFlow id="f1" sourceRef="again" targetRef="split" />
    <bpmn:sequenceFlow id="f2" sourceRef="split" targetRef="left" />
    <bpmn:sequenceFlow id="f3" sourceRef="split" targetRef="right" />
    <bpmn:sequenceFlow id="f4" sourceRef="left" targetRef="join" />
    <bpmn:sequenceFlow id="f5" sourceRef="right" targetRef="join" />
    <bpmn:sequenceFlow id="f6" sourceRef="join" targetRef="inner" />
    <bpmn:sequenceFlow id="f7" sourceRef="inner" targetRef="more" />
    <bpmn:sequenceFlow id="f8" sourceRef="more" targetRef="done" />
    <bpmn:sequenceFlow id="f9" sourceRef="more" targetRef="again">
      <bpmn:conditionExpression>rounds &lt; target</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"""


def saved(workflow: Any) -> tuple[Any, int]:
    """Pruned, saved and loaded again, as every step of the runtime ends and the next begins."""
    history.prune(workflow)
    state = SERIALIZER.serialize_json(workflow)
    return SERIALIZER.deserialize_json(state), len(state)


def ready(workflow: Any) -> list[str]:
    return sorted(t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.READY, manual=True))


def run(workflow: Any, element: str) -> Any:
    [task] = [t for t in workflow.get_tasks(state=TaskState.READY, manual=True) if t.task_spec.bpmn_id == element]
    task.run()
    workflow.do_engine_steps()
    return workflow


def test_a_parallel_join_and_a_sub_process_in_a_loop_work_pruned_and_stay_the_same_size():
    spec, subprocess_specs = definitions.specs("history-test", BPMN, "loops")
    workflow = BpmnWorkflow(spec, subprocess_specs)
    workflow.task_tree.data.update({"rounds": 0, "target": 12})
    workflow.do_engine_steps()
    sizes = []
    for round_ in range(1, 13):
        workflow, _ = saved(workflow)
        assert ready(workflow) == ["left", "right"]
        workflow, _ = saved(run(workflow, "right"))
        assert ready(workflow) == ["left"]  # the join waits for the other branch, across a save
        workflow, _ = saved(run(workflow, "left"))
        assert ready(workflow) == ["inner_check"]
        workflow, size = saved(run(workflow, "inner_check"))
        sizes.append(size)
        if round_ < 12:
            assert ready(workflow) == ["left", "right"]
    assert workflow.is_completed()
    assert workflow.last_task.data["rounds"] == 12  # the sub-process's count came back each round
    assert history.pruned(workflow)["loops"] >= {"start", "split", "left", "right", "join", "inner", "more"}
    assert history.pruned(workflow)["inner"] >= {"inner_check", "count", "inner_end"}
    # What a round leaves behind is its finished sub-process's root and calling task, under 1 KiB
    # (whatever the round did inside: unpruned, each round added its every task and data delta).
    assert all(later - earlier < 1024 for earlier, later in zip(sizes, sizes[1:-1], strict=False)), sizes
