"""The three evaluation-mode diagrams as files: they validate, every lane is a role, every
node has a readable name and sits in one lane, and every shape and edge is laid out (so
bpmn.io and Camunda Modeler show the same picture). The paths themselves run in
tests/integration/test_review_flow_*.py and test_review.py."""
from __future__ import annotations

from pathlib import Path

import pytest
from lxml import etree

from services.review.engine import definitions

BPMN_DIR = Path(__file__).resolve().parents[2] / "bpmn"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
      "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "di": "http://www.omg.org/spec/DD/20100524/DI"}
NODE_SKIP = ("laneSet", "sequenceFlow", "extensionElements", "dataObject", "incoming", "outgoing")
DIAGRAMS = {
    "social_review.bpmn": ["applicant", "unit", "department", "committee", "expert", "title_office"],
    "independent_review.bpmn": ["applicant", "unit", "department", "committee", "expert", "title_office"],
    "independent_appointment.bpmn": ["applicant", "unit", "department", "title_office"],
}


def flow_nodes(container):
    for el in container:
        if not isinstance(el.tag, str) or etree.QName(el).localname in NODE_SKIP:
            continue
        yield el
        if etree.QName(el).localname == "subProcess":
            yield from flow_nodes(el)


@pytest.mark.parametrize("file_name", sorted(DIAGRAMS))
def test_each_diagram_validates_as_its_mode(file_name):
    process_id = definitions.check(file_name, (BPMN_DIR / file_name).read_bytes())
    assert definitions.PROCESS_OF_MODE[process_id] == process_id == file_name.removesuffix(".bpmn")


@pytest.mark.parametrize("file_name", sorted(DIAGRAMS))
def test_diagram_interchange_is_complete(file_name):
    root = etree.parse(str(BPMN_DIR / file_name)).getroot()
    process = root.find("bpmn:process", NS)
    assert process.get("isExecutable") == "true"
    lanes = process.findall("bpmn:laneSet/bpmn:lane", NS)
    assert [lane.get("name") for lane in lanes] == DIAGRAMS[file_name]

    nodes = list(flow_nodes(process))
    node_ids = [n.get("id") for n in nodes]
    for n in nodes:
        name = n.get("name") or ""
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
    root = etree.parse(str(BPMN_DIR / "social_review.bpmn")).getroot()
    checks = root.findall(".//bpmn:userTask[@id='department_check']", NS)
    assert len(checks) == 1 and checks[0].getparent().tag.endswith("subProcess")
