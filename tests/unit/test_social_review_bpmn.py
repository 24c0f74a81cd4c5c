"""Walking-skeleton tests for bpmn/social_review.bpmn.

The diagram is parsed with the spiff parser (schema validation on) and run in
memory with a stub script engine, the way the review service's runtime drives
it: seed the start task's data, complete READY user tasks by setting
``decision``/``reason``/``decided_by``/``decided_at`` (plus ``vote`` for the
expert vote), then ``run()`` and ``do_engine_steps()``.
"""

import json
from pathlib import Path

import pytest
from lxml import etree

from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.util.task import TaskState

BPMN_FILE = Path(__file__).resolve().parents[2] / "bpmn" / "social_review.bpmn"
PROCESS_ID = "social_review"
PANEL = ["e1", "e2", "e3"]
FILED_AT = "2024-05-06T10:30:00+08:00"

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

class StubServiceEngine(PythonScriptEngine):
    """Script engine whose service calls are answered in memory.

    ``call_service`` is overridden on the engine itself: in 3.2.0 the base
    implementation's error path references an undefined name (pitfall 7).
    """

    def __init__(self, panel=None):
        super().__init__()
        self.panel = list(PANEL if panel is None else panel)
        self.calls = []

    def call_service(self, task, operation_name=None, operation_params=None, **kwargs):
        self.calls.append((operation_name, operation_params))
        if operation_name == "review.draw_panel":
            return json.dumps(self.panel)
        raise WorkflowTaskException(f"unknown service operation {operation_name!r}", task=task)


def start_data(department_chain=("D-L1", "D-L2"), panel_size=3):
    return {
        "declaration_id": "decl-0001",
        "applicant": "subject-applicant",
        "applicant_name": "张三",
        "id_number": "110101199001011234",
        "unit_code": "UNIT-01",
        "department_chain": list(department_chain),
        "committee_code": "COM-ENG",
        "committee_name": "工程系列高级评委会",
        "title_office_code": "TITLE-OFFICE",
        "activity_id": "act-2024",
        "mode": "review",
        "series": "engineering",
        "level": "senior",
        "specialty": "civil",
        "qualification_name": "高级工程师",
        "category": "normal",
        "panel_size": panel_size,
    }


@pytest.fixture(scope="module")
def specs():
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_file(str(BPMN_FILE))
    return parser.get_spec(PROCESS_ID), parser.get_subprocess_specs(PROCESS_ID)


def start_workflow(specs, engine=None, **data_overrides):
    spec, subprocess_specs = specs
    engine = engine or StubServiceEngine()
    wf = BpmnWorkflow(spec, subprocess_specs, script_engine=engine)
    # workflow.data is invisible to scripts: seed the start task (pitfall 5).
    data = start_data()
    data.update(data_overrides)
    wf.task_tree.data.update(data)
    wf.do_engine_steps()
    return wf


def ready_user_tasks(wf):
    return wf.get_tasks(state=TaskState.READY, manual=True)


def properties(task):
    return task.task_spec.extensions.get("properties", {})


def organisation(wf, task):
    """Evaluate the task's ``organisation`` expression the way the runtime does."""
    return wf.script_engine.evaluate(task, properties(task)["organisation"])


def describe(wf, task):
    return task.task_spec.bpmn_id, task.task_spec.lane, organisation(wf, task)


def single_ready(wf, bpmn_id):
    tasks = ready_user_tasks(wf)
    assert [t.task_spec.bpmn_id for t in tasks] == [bpmn_id]
    return tasks[0]


def complete(wf, task, decision="approve", who="subject-reviewer", at=FILED_AT, reason=None, vote=None):
    data = {"decision": decision, "reason": reason, "decided_by": who, "decided_at": at}
    if vote is not None:
        data["vote"] = vote
    task.set_data(**data)
    task.run()
    wf.do_engine_steps()


def pass_checks_until_votes(wf):
    """Approve unit, every department level and the committee acceptance."""
    complete(wf, single_ready(wf, "unit_check"))
    while ready_user_tasks(wf)[0].task_spec.bpmn_id == "department_check":
        complete(wf, single_ready(wf, "department_check"))
    complete(wf, single_ready(wf, "committee_acceptance"))


def cast_votes(wf, choices):
    tasks = ready_user_tasks(wf)
    assert [t.task_spec.bpmn_id for t in tasks] == ["expert_vote"] * len(choices)
    for task, choice in zip(sorted(tasks, key=lambda t: t.data["expert"]), choices):
        expert = task.data["expert"]
        complete(wf, task, decision=choice, who=expert, vote={"expert": expert, "choice": choice})


def reached(wf, bpmn_id):
    return any(t.task_spec.bpmn_id == bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED))


def roundtrip(wf):
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))
    dumped = serializer.serialize_json(wf)
    assert json.loads(dumped)["serializer_version"] == "1.5"
    restored = serializer.deserialize_json(dumped)
    # The script engine is not serialized.
    restored.script_engine = wf.script_engine
    return restored


# --------------------------------------------------------------------------
# tests
# --------------------------------------------------------------------------

def test_happy_path_with_two_department_levels_and_restore(specs):
    engine = StubServiceEngine()
    wf = start_workflow(specs, engine)

    task = single_ready(wf, "unit_check")
    assert describe(wf, task) == ("unit_check", "unit", "UNIT-01")
    assert properties(task) == {"organisation": "unit_code", "decisions": "approve", "stage": "unit_check"}
    complete(wf, task, who="subject-unit")

    task = single_ready(wf, "department_check")
    assert describe(wf, task) == ("department_check", "department", "D-L1")
    assert properties(task)["stage"] == "department_check"
    assert properties(task)["decisions"] == "approve"
    complete(wf, task, who="subject-dept-1")

    # Persist and continue from the restored copy, as the service does.
    wf = roundtrip(wf)

    task = single_ready(wf, "department_check")
    assert describe(wf, task) == ("department_check", "department", "D-L2")
    complete(wf, task, who="subject-dept-2")

    task = single_ready(wf, "committee_acceptance")
    # The department postScript removes the loop item so the next level can start.
    assert "department" not in task.data
    assert task.data["decided_by"] == "subject-dept-2"
    assert describe(wf, task) == ("committee_acceptance", "committee", "COM-ENG")
    assert engine.calls == []
    complete(wf, task, who="subject-committee")

    assert engine.calls == [(
        "review.draw_panel",
        {"committee": {"value": "COM-ENG", "type": "str"}, "size": {"value": 3, "type": "int"}},
    )]
    votes = ready_user_tasks(wf)
    assert [describe(wf, t) for t in votes] == [("expert_vote", "expert", "COM-ENG")] * 3
    assert sorted(t.data["expert"] for t in votes) == PANEL
    for t in votes:
        assert properties(t)["assignee"] == "expert"
        assert wf.script_engine.evaluate(t, properties(t)["assignee"]) == t.data["expert"]
        assert properties(t)["decisions"] == "agree,disagree,abstain"

    wf = roundtrip(wf)
    cast_votes(wf, ["agree", "agree", "agree"])

    task = single_ready(wf, "title_office_filing")
    assert describe(wf, task) == ("title_office_filing", "title_office", "TITLE-OFFICE")
    assert task.data["panel"] == PANEL
    assert task.data["present"] == 3 and task.data["agree"] == 3 and task.data["passed"] is True
    assert wf.get_events() == []
    complete(wf, task, who="subject-title-office", at="2024-06-01T09:00:00+08:00")

    events = wf.get_events()
    assert len(events) == 1
    assert events[0].event_definition.name == "certificate.issue"
    assert events[0].payload == {
        "declaration_id": "decl-0001",
        "holder": "subject-applicant",
        "holder_name": "张三",
        "id_number": "110101199001011234",
        "series": "engineering",
        "level": "senior",
        "specialty": "civil",
        "qualification_name": "高级工程师",
        "mode": "review",
        "committee_name": "工程系列高级评委会",
        "approved_on": "2024-06-01",
    }
    assert wf.get_events() == []  # drained

    waiting = wf.waiting_events()
    assert [(w.name, w.event_type) for w in waiting] == [("certificate.issued", "MessageEventDefinition")]
    assert not wf.is_completed()

    wf = roundtrip(wf)
    catch = wf.get_next_task(state=TaskState.WAITING, spec_name="certificate_issued")
    assert catch is not None and catch.task_spec.lane == "title_office"
    wf.send_event(BpmnEvent(catch.task_spec.event_definition, {"number": "X"}))
    wf.do_engine_steps()

    assert wf.is_completed()
    assert reached(wf, "certified") and not reached(wf, "not_passed")
    assert wf.data["certificate"] == {"number": "X"}
    assert wf.last_task.data["certificate"] == {"number": "X"}


def test_vote_fails_ends_not_passed(specs):
    wf = start_workflow(specs)
    pass_checks_until_votes(wf)
    cast_votes(wf, ["agree", "disagree", "disagree"])

    assert wf.is_completed()
    assert ready_user_tasks(wf) == []
    assert reached(wf, "not_passed")
    assert not reached(wf, "title_office_filing") and not reached(wf, "certified")
    assert wf.data["present"] == 3 and wf.data["agree"] == 1 and wf.data["passed"] is False
    assert wf.get_events() == []
    assert wf.waiting_events() == []


def test_one_level_chain_creates_exactly_one_department_task(specs):
    wf = start_workflow(specs, department_chain=["D-ONLY"])
    complete(wf, single_ready(wf, "unit_check"))

    task = single_ready(wf, "department_check")
    assert describe(wf, task) == ("department_check", "department", "D-ONLY")
    complete(wf, task)

    task = single_ready(wf, "committee_acceptance")
    department_tasks = [t for t in wf.get_tasks() if t.task_spec.name == "department_check [child]"]
    assert len(department_tasks) == 1
    assert department_tasks[0].state == TaskState.COMPLETED


def test_two_thirds_is_enough_to_pass(specs):
    wf = start_workflow(specs)
    pass_checks_until_votes(wf)
    cast_votes(wf, ["agree", "agree", "disagree"])

    task = single_ready(wf, "title_office_filing")
    assert task.data["present"] == 3 and task.data["agree"] == 2 and task.data["passed"] is True
    assert sorted(v["expert"] for v in task.data["votes"]) == PANEL


def test_diagram_interchange_is_complete():
    """Every pool, lane, flow node and sequence flow is drawn; each node sits in one lane."""
    root = etree.parse(str(BPMN_FILE)).getroot()
    process = root.find("bpmn:process", NS)
    assert process.get("id") == PROCESS_ID and process.get("isExecutable") == "true"

    participant = root.find("bpmn:collaboration/bpmn:participant", NS)
    assert participant.get("processRef") == PROCESS_ID

    lanes = process.findall("bpmn:laneSet/bpmn:lane", NS)
    assert [(lane.get("id"), lane.get("name")) for lane in lanes] == [
        ("lane_unit", "unit"),
        ("lane_department", "department"),
        ("lane_committee", "committee"),
        ("lane_expert", "expert"),
        ("lane_title_office", "title_office"),
    ]

    flows = process.findall("bpmn:sequenceFlow", NS)
    nodes = [
        el for el in process
        if isinstance(el.tag, str)
        and etree.QName(el).localname not in ("laneSet", "sequenceFlow", "extensionElements")
    ]
    node_ids = [n.get("id") for n in nodes]
    for n in nodes:
        assert n.get("name"), f"{n.get('id')} has no name"
        assert "(" in n.get("name") and n.get("name").endswith(")"), n.get("name")

    lane_refs = [ref.text for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)]
    assert sorted(lane_refs) == sorted(node_ids)  # each node exactly once

    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    shapes = {s.get("bpmnElement"): s for s in plane.findall("bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in plane.findall("bpmndi:BPMNEdge", NS)}
    expected_shapes = [participant.get("id")] + [lane.get("id") for lane in lanes] + node_ids
    assert sorted(shapes) == sorted(expected_shapes)
    assert sorted(edges) == sorted(f.get("id") for f in flows)
    for flow_id, edge in edges.items():
        assert len(edge.findall("di:waypoint", NS)) >= 2, flow_id

    # Lanes stacked vertically, and every node drawn inside its lane.
    def bounds(element_id):
        b = shapes[element_id].find("dc:Bounds", NS)
        return tuple(float(b.get(k)) for k in ("x", "y", "width", "height"))

    lane_tops = [bounds(lane.get("id"))[1] for lane in lanes]
    assert lane_tops == sorted(lane_tops)
    for lane in lanes:
        lx, ly, lw, lh = bounds(lane.get("id"))
        for ref in lane.findall("bpmn:flowNodeRef", NS):
            x, y, w, h = bounds(ref.text)
            assert lx <= x and x + w <= lx + lw and ly <= y and y + h <= ly + lh, ref.text
