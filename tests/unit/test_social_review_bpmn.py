"""The three evaluation-mode diagrams as files: they validate, every lane is a role (by its id), every
node has a readable name and sits in one lane, and every shape and edge is laid out (so
bpmn.io and Camunda Modeler show the same picture). The paths themselves run in
tests/integration/test_review_flow_*.py and test_review.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from services.review.engine import definitions

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
NODE_SKIP = (
    "laneSet",
    "sequenceFlow",
    "extensionElements",
    "dataObject",
    "incoming",
    "outgoing",
    "documentation",
    "ioSpecification",
)
MODES = {
    "social_review.bpmn": ["applicant", "unit", "department", "committee", "title_office"],
    "independent_appointment.bpmn": ["applicant", "unit", "department", "title_office"],
}
# Called by the modes (wherever a declaration is returned; the departments' level-by-level check); no modes
# themselves.
CALLED = {
    "return_and_resubmit.bpmn": ["applicant"],
    "department_chain.bpmn": ["department"],
    "expert_review.bpmn": ["committee", "expert"],
    "re_examination.bpmn": ["applicant", "committee"],
}
DIAGRAMS = {**MODES, **CALLED}


def merging(node) -> bool:
    """A gateway that only joins flows (several in, one out): drawn unnamed."""
    return (
        etree.QName(node).localname.endswith("Gateway")
        and len(node.findall("bpmn:outgoing", NS)) == 1
        and len(node.findall("bpmn:incoming", NS)) > 1
    )


def flow_nodes(container):
    for el in container:
        if not isinstance(el.tag, str) or etree.QName(el).localname in NODE_SKIP:
            continue
        yield el
        if etree.QName(el).localname == "subProcess":
            yield from flow_nodes(el)


def test_social_and_independent_review_are_one_process_differing_in_the_drawn_own_staff_check():
    assert (
        definitions.PROCESS_OF_MODE["independent_review"]
        == definitions.PROCESS_OF_MODE["social_review"]
        == ("social_review")
    )
    assert not (BPMN_DIR / "independent_review.bpmn").exists()
    root = etree.parse(str(BPMN_DIR / "social_review.bpmn")).getroot()
    flows = root.findall(".//bpmn:sequenceFlow", NS)

    def after(node):
        return {
            f.get("targetRef"): f.findtext("bpmn:conditionExpression", namespaces=NS) or "default"
            for f in flows
            if f.get("sourceRef") == node
        }

    # Forwarded by the departments: an independent review checks the applicant is the organisation's own staff
    # (a service task and a gateway), a social review goes straight to the committee's acceptance.
    assert after("independent_mode") == {
        "check_own_staff": 'mode == "independent_review"',
        "acceptance_merge": "default",
    }
    operator = root.find(
        ".//bpmn:serviceTask[@id='check_own_staff']//spiffworkflow:serviceTaskOperator",
        {**NS, "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"},
    )
    assert operator.get("id") == "review.own_staff"
    assert after("own_staff_result") == {"acceptance_merge": "default", "not_accepted_merge": "not own_staff"}
    assert after("acceptance_merge") == {"committee_acceptance": "default"}
    assert after("not_accepted_merge") == {"not_accepted": "default"}


@pytest.mark.parametrize("file_name", sorted(MODES))
def test_each_diagram_validates_as_its_mode(file_name):
    process_id = definitions.check(file_name, (BPMN_DIR / file_name).read_bytes())
    assert definitions.PROCESS_OF_MODE[process_id] == process_id == file_name.removesuffix(".bpmn")


def test_the_called_process_validates_and_is_no_mode():
    assert definitions.check("return_and_resubmit.bpmn", (BPMN_DIR / "return_and_resubmit.bpmn").read_bytes()) == (
        "return_and_resubmit"
    )
    assert "return_and_resubmit" not in definitions.PROCESS_OF_MODE


LOOP = (
    "check_modification_deadline",
    "can_resubmit_gateway",
    "return_to_applicant",
    "await_applicant",
    "resubmitted",
    "withdrawn_while_returned",
    "take_resubmission",
)


@pytest.mark.parametrize("file_name", sorted(MODES))
def test_every_mode_calls_the_return_and_resubmit_process_instead_of_a_copy(file_name):
    root = etree.parse(str(BPMN_DIR / file_name)).getroot()
    calls = root.findall(".//bpmn:callActivity", NS)
    assert [c.get("id") for c in calls if c.get("calledElement") == "return_and_resubmit"] == ["return_for_revision"]
    assert [e for e in LOOP if root.find(f".//*[@id='{e}']") is not None] == []
    # Every return reaches it through the one merge point; what it ends with decides where the caller goes.
    flows = root.findall(".//bpmn:sequenceFlow", NS)
    into_returned = [f.get("sourceRef") for f in flows if f.get("targetRef") == "returned"]
    assert len(into_returned) >= 3
    after = {
        f.get("targetRef"): (f.findtext("bpmn:conditionExpression", namespaces=NS) or "default")
        for f in flows
        if f.get("sourceRef") == "revision_result"
    }
    # (past the deadline: to the not_accepted end, through a merge where another path ends there too)
    past_deadline = "not_accepted_merge" if "not_accepted_merge" in after else "not_accepted"
    assert after == {
        "checks_begin": 'revision_outcome == "resubmitted"',
        "withdrawn_merge": 'revision_outcome == "withdrawn"',
        past_deadline: "default",
    }


def test_the_called_process_holds_the_loop_and_sets_its_outcome_on_every_path():
    root = etree.parse(str(BPMN_DIR / "return_and_resubmit.bpmn")).getroot()
    assert [e for e in LOOP if root.find(f".//*[@id='{e}']") is None] == []
    outcomes = {s.getparent().get("id"): s.text.splitlines()[-1] for s in root.iterfind(".//bpmn:script", NS)}
    assert outcomes == {
        "take_resubmission": 'revision_outcome = "resubmitted"',
        "record_withdrawal": 'revision_outcome = "withdrawn"',
        "record_past_deadline": 'revision_outcome = "not_accepted"',
    }
    assert sorted(e.get("id") for e in root.iterfind(".//bpmn:endEvent", NS)) == [
        "not_accepted",
        "resubmission_taken",
        "withdrawn",
    ]
    # Its interface: what it takes from the caller and what goes back (the outcome among it).
    io = root.find("bpmn:process/bpmn:ioSpecification", NS)
    inputs = [r.text for r in io.iterfind("bpmn:inputSet/bpmn:dataInputRefs", NS)]
    outputs = [r.text for r in io.iterfind("bpmn:outputSet/bpmn:dataOutputRefs", NS)]
    assert {"modification_deadline", "declaration_id", "reason", "decided_stage"} <= set(inputs)
    assert {"revision_outcome", "decision", "reason", "specialty", "modification_deadline"} <= set(outputs)


def test_re_examination_is_called_where_the_vote_fails_and_an_overturn_rejoins_the_pass():
    for file_name in ("social_review.bpmn",):  # (social and independent review are one process)
        root = etree.parse(str(BPMN_DIR / file_name)).getroot()
        flows = {f.get("id"): f for f in root.iterfind(".//bpmn:sequenceFlow", NS)}
        gateway = root.find(".//bpmn:exclusiveGateway[@id='review_passed']", NS)
        assert flows[gateway.get("default")].get("targetRef") == "re_examination"
        after = {
            f.get("targetRef"): (f.findtext("bpmn:conditionExpression", namespaces=NS) or "default")
            for f in flows.values()
            if f.get("sourceRef") == "re_examination_result"
        }
        assert after == {"passed_merge": 're_examination_outcome == "overturned"', "not_passed": "default"}
        into_publicity = [f.get("sourceRef") for f in flows.values() if f.get("targetRef") == "result_publicity"]
        assert into_publicity == ["passed_merge"]


def test_the_re_examination_process_decides_its_period_and_gives_back_its_outcome():
    assert definitions.check("re_examination.bpmn", (BPMN_DIR / "re_examination.bpmn").read_bytes()) == (
        "re_examination"
    )
    assert "re_examination" not in definitions.PROCESS_OF_MODE
    root = etree.parse(str(BPMN_DIR / "re_examination.bpmn")).getroot()
    [rule] = root.findall(".//bpmn:businessRuleTask", NS)
    assert rule.findtext(".//{http://spiffworkflow.org/bpmn/schema/1.0/core}calledDecisionId") == (
        "re_examination_period"
    )
    [task] = root.findall(".//bpmn:userTask", NS)
    properties = {
        p.get("name"): p.get("value")
        for p in task.iterfind(".//{http://spiffworkflow.org/bpmn/schema/1.0/core}property")
    }
    assert properties == {
        "organisation": "committee_code",
        "decisions": "uphold,overturn",
        "stage": "re_examination",
        "guard": "reason_required",
    }
    outcomes = sorted(s.text for s in root.iterfind(".//bpmn:script", NS) if "re_examination_outcome" in s.text)
    assert outcomes == [
        're_examination_outcome = "not_requested"',
        're_examination_outcome = "overturned"',
        're_examination_outcome = "upheld"',
    ]
    [gateway] = root.findall(".//bpmn:eventBasedGateway", NS)
    assert len(gateway.findall("bpmn:outgoing", NS)) == 2
    io = root.find("bpmn:process/bpmn:ioSpecification", NS)
    assert [r.text for r in io.iterfind("bpmn:outputSet/bpmn:dataOutputRefs", NS)] == [
        "re_examination_outcome",
        "re_examination_open_until",
    ]


@pytest.mark.parametrize("file_name", sorted(DIAGRAMS))
def test_diagram_interchange_is_complete(file_name):
    root = etree.parse(str(BPMN_DIR / file_name)).getroot()
    process = root.find("bpmn:process", NS)
    assert process.get("isExecutable") == "true"
    lanes = process.findall("bpmn:laneSet/bpmn:lane", NS)
    # a lane is a role by its id; its name is for people, bilingual
    assert [lane.get("id") for lane in lanes] == [f"lane_{role}" for role in DIAGRAMS[file_name]]
    for lane in lanes:
        assert "(" in lane.get("name") and lane.get("name").endswith(")"), lane.get("name")

    nodes = list(flow_nodes(process))
    node_ids = [n.get("id") for n in nodes]
    for n in nodes:
        name = n.get("name") or ""
        if merging(n):
            assert name == "", f"{n.get('id')} only merges flows: it stays unnamed, got {name!r}"
            continue
        assert "(" in name and name.endswith(")"), f"{n.get('id')} needs an English and Chinese name: {name!r}"
    lane_refs = [ref.text for lane in lanes for ref in lane.findall("bpmn:flowNodeRef", NS)]
    assert sorted(lane_refs) == sorted(node_ids)  # each node in exactly one lane

    plane = root.find("bpmndi:BPMNDiagram/bpmndi:BPMNPlane", NS)
    shapes = {s.get("bpmnElement") for s in plane.findall("bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in plane.findall("bpmndi:BPMNEdge", NS)}
    participant = root.find("bpmn:collaboration/bpmn:participant", NS)
    assert shapes == {participant.get("id"), *(lane.get("id") for lane in lanes), *node_ids}
    flows = [f.get("id") for f in process.iter(f"{{{NS['bpmn']}}}sequenceFlow")]
    assert sorted(edges) == sorted(flows)
    assert all(len(edge.findall("di:waypoint", NS)) >= 2 for edge in edges.values())


def test_the_department_chain_is_data_not_drawn_level_by_level():
    root = etree.parse(str(BPMN_DIR / "department_chain.bpmn")).getroot()
    checks = root.findall(".//bpmn:userTask", NS)
    assert [c.get("id") for c in checks] == ["department_check"]
    io = root.find("bpmn:process/bpmn:ioSpecification", NS)
    assert "departments" in [r.text for r in io.iterfind("bpmn:inputSet/bpmn:dataInputRefs", NS)]
    assert {"chain_outcome", "decision", "reason", "decided_stage", "decided_organisation"} <= {
        r.text for r in io.iterfind("bpmn:outputSet/bpmn:dataOutputRefs", NS)
    }


@pytest.mark.parametrize("file_name", sorted(MODES))
def test_every_mode_calls_the_department_chain_instead_of_a_copy(file_name):
    root = etree.parse(str(BPMN_DIR / file_name)).getroot()
    calls = root.findall(".//bpmn:callActivity[@calledElement='department_chain']", NS)
    assert len(calls) == 1
    assert root.findall(".//bpmn:userTask[@id='department_check']", NS) == []
    assert root.findall(".//bpmn:subProcess", NS) == []
