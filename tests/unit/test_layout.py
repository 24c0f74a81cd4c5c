"""The layout checker and the auto-layouter on small hand-drawn diagrams: each variant breaks one
rule and is refused for that rule only; the auto-layouter draws what the checker accepts."""

from __future__ import annotations

import re

import pytest

from services.review.engine import layout, layout_auto

# start -> check -> approved? -(yes)-> archive -> done
#                            \-(no)--> refused
DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI"
  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="defs" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="small" isExecutable="true">
    <bpmn:startEvent id="start" name="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="check" name="Check (审核)"><bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>
    <bpmn:exclusiveGateway id="approved" name="Approved?" default="f3">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:scriptTask id="archive" name="Archive"><bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:scriptTask>
    <bpmn:endEvent id="done" name="Done"><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="refused" name="Refused"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="approved" />
    <bpmn:sequenceFlow id="f3" name="Yes" sourceRef="approved" targetRef="archive" />
    <bpmn:sequenceFlow id="f4" name="No" sourceRef="approved" targetRef="refused">
      <bpmn:conditionExpression>decision == "reject"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="archive" targetRef="done" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="diagram">
    <bpmndi:BPMNPlane id="plane" bpmnElement="small">
      <bpmndi:BPMNShape id="start_di" bpmnElement="start">
        <dc:Bounds x="100" y="100" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="100" y="140" width="40" height="16" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="check_di" bpmnElement="check">
        <dc:Bounds x="180" y="78" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="approved_di" bpmnElement="approved" isMarkerVisible="true">
        <dc:Bounds x="330" y="93" width="50" height="50" />
        <bpmndi:BPMNLabel><dc:Bounds x="290" y="70" width="70" height="16" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="archive_di" bpmnElement="archive">
        <dc:Bounds x="450" y="78" width="100" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="done_di" bpmnElement="done">
        <dc:Bounds x="620" y="100" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="620" y="140" width="40" height="16" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="refused_di" bpmnElement="refused">
        <dc:Bounds x="450" y="220" width="36" height="36" />
        <bpmndi:BPMNLabel><dc:Bounds x="440" y="260" width="60" height="16" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1">
        <di:waypoint x="136" y="118" /><di:waypoint x="180" y="118" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f2_di" bpmnElement="f2">
        <di:waypoint x="280" y="118" /><di:waypoint x="330" y="118" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f3_di" bpmnElement="f3">
        <di:waypoint x="380" y="118" /><di:waypoint x="450" y="118" />
        <bpmndi:BPMNLabel><dc:Bounds x="390" y="122" width="30" height="16" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f4_di" bpmnElement="f4">
        <di:waypoint x="355" y="143" /><di:waypoint x="355" y="238" /><di:waypoint x="450" y="238" />
        <bpmndi:BPMNLabel><dc:Bounds x="320" y="150" width="30" height="16" /></bpmndi:BPMNLabel>
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="f5_di" bpmnElement="f5">
        <di:waypoint x="550" y="118" /><di:waypoint x="620" y="118" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
</bpmn:definitions>
"""


def rules(text: str) -> set[str]:
    return {problem.rule for problem in layout.problems("small.bpmn", text.encode())}


def changed(old: str, new: str, text: str = DIAGRAM) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


def test_the_small_diagram_reads_well():
    assert layout.problems("small.bpmn", DIAGRAM.encode()) == []


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # a flow without its path
        ('<di:waypoint x="136" y="118" /><di:waypoint x="180" y="118" />', ""),
        # a node without its shape
        (
            '<bpmndi:BPMNShape id="archive_di" bpmnElement="archive">',
            '<bpmndi:BPMNShape id="archive_di" bpmnElement="elsewhere">',
        ),
    ],
)
def test_everything_is_drawn(old, new):
    assert rules(changed(old, new)) >= {"drawn"}


def test_a_flow_through_another_shape_is_refused():
    # the no-flow runs right under "Archive" then up through it to the end event beyond
    text = changed(
        '<di:waypoint x="355" y="143" /><di:waypoint x="355" y="238" /><di:waypoint x="450" y="238" />',
        '<di:waypoint x="355" y="143" /><di:waypoint x="355" y="238" /><di:waypoint x="500" y="238" />'
        '<di:waypoint x="500" y="120" /><di:waypoint x="500" y="300" /><di:waypoint x="468" y="256" />',
    )
    problems = layout.problems("small.bpmn", text.encode())
    assert {(p.element, p.rule) for p in problems} == {("f4", "flow_through_shape")}
    assert "archive" in problems[0].message


def test_a_flow_leaving_its_boundary_event_may_cross_the_host_but_one_entering_the_host_may_not():
    host_exit = changed(
        '<bpmn:endEvent id="refused" name="Refused"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>',
        '<bpmn:endEvent id="refused" name="Refused"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:boundaryEvent id="late" attachedToRef="archive"><bpmn:outgoing>f6</bpmn:outgoing>'
        '<bpmn:timerEventDefinition id="late_timer" /></bpmn:boundaryEvent>'
        '<bpmn:endEvent id="flagged"><bpmn:incoming>f6</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f6" sourceRef="late" targetRef="flagged" />',
    )
    host_exit = changed(
        '<bpmndi:BPMNEdge id="f5_di" bpmnElement="f5">',
        '<bpmndi:BPMNShape id="late_di" bpmnElement="late"><dc:Bounds x="512" y="140" width="36" height="36" />'
        '</bpmndi:BPMNShape><bpmndi:BPMNShape id="flagged_di" bpmnElement="flagged">'
        '<dc:Bounds x="600" y="200" width="36" height="36" /></bpmndi:BPMNShape>'
        '<bpmndi:BPMNEdge id="f6_di" bpmnElement="f6"><di:waypoint x="530" y="150" />'
        '<di:waypoint x="530" y="218" /><di:waypoint x="600" y="218" /></bpmndi:BPMNEdge>'
        '<bpmndi:BPMNEdge id="f5_di" bpmnElement="f5">',
        host_exit,
    )
    assert rules(host_exit) == set()
    # f4 now ends at the host through its own boundary event: the event is not the flow's
    through_event = changed(
        '<bpmn:sequenceFlow id="f4" name="No" sourceRef="approved" targetRef="refused">',
        '<bpmn:sequenceFlow id="f4" name="No" sourceRef="approved" targetRef="archive">',
        host_exit,
    )
    through_event = changed(
        '<di:waypoint x="355" y="143" /><di:waypoint x="355" y="238" /><di:waypoint x="450" y="238" />',
        '<di:waypoint x="355" y="143" /><di:waypoint x="355" y="190" /><di:waypoint x="530" y="190" />'
        '<di:waypoint x="530" y="158" />',
        through_event,
    )
    assert rules(through_event) == {"flow_through_shape"}


def test_two_flows_leaving_a_gateway_from_one_point_are_refused():
    text = changed(
        '<di:waypoint x="355" y="143" /><di:waypoint x="355" y="238" /><di:waypoint x="450" y="238" />',
        '<di:waypoint x="380" y="118" /><di:waypoint x="420" y="118" /><di:waypoint x="420" y="238" />'
        '<di:waypoint x="450" y="238" />',
    )
    assert rules(text) == {"flows_apart"}


def test_a_label_over_a_shape_or_another_label_is_refused():
    over_shape = changed(
        '<dc:Bounds x="390" y="122" width="30" height="16" />', '<dc:Bounds x="460" y="122" width="30" height="16" />'
    )
    assert rules(over_shape) == {"label_overlap"}
    over_label = changed(
        '<dc:Bounds x="320" y="150" width="30" height="16" />', '<dc:Bounds x="450" y="262" width="30" height="16" />'
    )
    assert rules(over_label) == {"label_overlap"}


def test_a_name_that_does_not_fit_is_refused():
    long_name = changed('name="Archive"', 'name="Record the recommendation committee\'s result (推荐委员会评议)"')
    assert rules(long_name) == {"name_fits"}
    small_label = changed(
        '<dc:Bounds x="440" y="260" width="60" height="16" />', '<dc:Bounds x="440" y="260" width="30" height="16" />'
    )
    assert rules(small_label) == {"name_fits"}


def test_the_happy_path_runs_left_to_right():
    # the end after "Archive" drawn left of it, under the diagram
    text = changed(
        '<dc:Bounds x="620" y="100" width="36" height="36" />\n'
        '        <bpmndi:BPMNLabel><dc:Bounds x="620" y="140" width="40" height="16" />',
        '<dc:Bounds x="100" y="320" width="36" height="36" />\n'
        '        <bpmndi:BPMNLabel><dc:Bounds x="140" y="330" width="40" height="16" />',
    )
    text = changed(
        '<di:waypoint x="550" y="118" /><di:waypoint x="620" y="118" />',
        '<di:waypoint x="550" y="118" /><di:waypoint x="580" y="118" /><di:waypoint x="580" y="338" />'
        '<di:waypoint x="136" y="338" />',
        text,
    )
    problems = layout.problems("small.bpmn", text.encode())
    assert {(p.element, p.rule) for p in problems} == {("done", "happy_path")}


def test_the_main_end_is_the_one_whose_outcome_is_certified():
    text = changed(
        '<bpmn:endEvent id="refused" name="Refused">',
        '<bpmn:endEvent id="refused" name="Refused"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="outcome" value="certified" /></spiffworkflow:properties>'
        "</bpmn:extensionElements>",
    )
    diagram = layout.parse("small.bpmn", text.encode())
    assert layout.happy_path(diagram) == ["start", "check", "approved", "refused"]
    assert layout.happy_path(layout.parse("small.bpmn", DIAGRAM.encode())) == [
        "start",
        "check",
        "approved",
        "archive",
        "done",
    ]


def test_without_a_certified_end_the_main_way_follows_the_default_flow_unless_it_ends_there():
    # "Passed?" with the default on "No" straight to an end: the main way goes on through "Yes"
    no_by_default = changed('default="f3"', 'default="f4"')
    assert layout.happy_path(layout.parse("small.bpmn", no_by_default.encode()))[-2:] == ["archive", "done"]
    # a default that goes on is followed even where the other way is longer
    longer = changed(
        '<bpmn:endEvent id="refused" name="Refused"><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>',
        '<bpmn:scriptTask id="note" name="Note"><bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f6</bpmn:outgoing>'
        '</bpmn:scriptTask><bpmn:scriptTask id="tell" name="Tell"><bpmn:incoming>f6</bpmn:incoming>'
        "<bpmn:outgoing>f7</bpmn:outgoing></bpmn:scriptTask>"
        '<bpmn:endEvent id="refused" name="Refused"><bpmn:incoming>f7</bpmn:incoming></bpmn:endEvent>'
        '<bpmn:sequenceFlow id="f6" sourceRef="note" targetRef="tell" />'
        '<bpmn:sequenceFlow id="f7" sourceRef="tell" targetRef="refused" />',
    )
    longer = changed('targetRef="refused">', 'targetRef="note">', longer)
    assert layout.happy_path(layout.parse("small.bpmn", longer.encode()))[-2:] == ["archive", "done"]


def test_wrapping_follows_bpmn_js():
    # the browser guesses the characters that fit from the width: mixed names break early
    assert layout.wrap("Record: past the deadline (记录逾期未修改)", 86) == [
        "Record: ",
        "past the ",
        "deadline ",
        "(记录逾期未修",
        "改)",
    ]
    assert layout.wrap("Done", 90) == ["Done"]


def _outside_di(text: bytes) -> bytes:
    return re.sub(rb"<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", b"", text, flags=re.S)


def test_the_layouter_draws_what_the_checker_accepts_and_nothing_else_changes():
    broken = changed('name="Archive"', 'name="Record the recommendation committee\'s result (推荐委员会评议)"')
    broken = changed(
        '<dc:Bounds x="390" y="122" width="30" height="16" />',
        '<dc:Bounds x="460" y="122" width="30" height="16" />',
        broken,
    )
    assert rules(broken)
    relaid = layout_auto.relaid("small.bpmn", broken.encode())
    assert layout.problems("small.bpmn", relaid) == []
    assert _outside_di(relaid) == _outside_di(broken.encode())
    assert layout_auto.relaid("small.bpmn", broken.encode()) == relaid  # deterministic
    assert layout_auto.relaid("small.bpmn", relaid) == relaid  # a fixed point


def test_the_layouter_draws_a_diagram_without_any_drawing():
    bare = re.sub(r"\s*<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", DIAGRAM, flags=re.S)
    assert "drawn" in rules(bare)
    relaid = layout_auto.relaid("small.bpmn", bare.encode())
    assert layout.problems("small.bpmn", relaid) == []
    assert relaid.startswith(bare[: bare.index("</bpmn:definitions>")].encode())


def test_the_layouter_declares_the_drawing_namespaces_the_file_lacks():
    bare = re.sub(r"\s*<bpmndi:BPMNDiagram.*</bpmndi:BPMNDiagram>", "", DIAGRAM, flags=re.S)
    bare = re.sub(r'\s*xmlns:(bpmndi|dc|di)="[^"]*"', "", bare)
    relaid = layout_auto.relaid("small.bpmn", bare.encode())
    assert layout.problems("small.bpmn", relaid) == []
    assert relaid.startswith(bare[: bare.index("</bpmn:definitions>")].encode())


def with_data(text: str = DIAGRAM) -> str:
    """ "Check" reads the papers, "Archive" writes the record (associations written inside the tasks)."""
    text = changed(
        '<bpmn:startEvent id="start"',
        '<bpmn:dataObject id="papers" /><bpmn:dataObjectReference id="papers_ref" name="Papers (材料)" '
        'dataObjectRef="papers" /><bpmn:dataObject id="record" />'
        '<bpmn:dataObjectReference id="record_ref" name="Record" dataObjectRef="record" />'
        '<bpmn:startEvent id="start"',
        text,
    )
    text = changed(
        "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing></bpmn:userTask>",
        "<bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>"
        '<bpmn:property id="check_in" name="papers" /><bpmn:dataInputAssociation id="reads">'
        "<bpmn:sourceRef>papers_ref</bpmn:sourceRef><bpmn:targetRef>check_in</bpmn:targetRef>"
        "</bpmn:dataInputAssociation></bpmn:userTask>",
        text,
    )
    return changed(
        "<bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing></bpmn:scriptTask>",
        '<bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing><bpmn:dataOutputAssociation id="writes">'
        "<bpmn:targetRef>record_ref</bpmn:targetRef></bpmn:dataOutputAssociation></bpmn:scriptTask>",
        text,
    )


def test_data_objects_and_their_associations_are_drawn_beside_their_tasks():
    text = with_data()
    assert {"drawn"} == rules(text)
    drawn = layout.parse("small.bpmn", text.encode())
    assert {(f.source, f.target) for f in drawn.flows.values() if f.kind == "association"} == {
        ("papers_ref", "check"),
        ("archive", "record_ref"),
    }
    relaid = layout_auto.relaid("small.bpmn", text.encode())
    assert layout.problems("small.bpmn", relaid) == []
    diagram = layout.parse("small.bpmn", relaid)
    papers, check = diagram.nodes["papers_ref"].shape, diagram.nodes["check"].shape
    assert papers.cx == check.cx and papers.y > check.bottom  # right under it
    assert diagram.flows["reads"].waypoints == [(papers.cx, papers.y), (check.cx, check.bottom)]
    record, archive = diagram.nodes["record_ref"].shape, diagram.nodes["archive"].shape
    # under "Archive" lies the refused end: the record goes over it
    assert diagram.flows["writes"].waypoints == [(archive.cx, archive.y), (record.cx, record.bottom)]


def test_what_the_layouter_does_not_draw_is_named():
    pools = changed(
        '<bpmn:process id="small" isExecutable="true">',
        '<bpmn:collaboration id="c"><bpmn:participant id="p1" processRef="small" />'
        '<bpmn:participant id="p2" name="Applicant" /><bpmn:messageFlow id="m1" sourceRef="p2" '
        'targetRef="check" /></bpmn:collaboration><bpmn:process id="small" isExecutable="true">',
    )
    assert "drawn" in rules(pools)  # the checker asks for every pool and message flow
    with pytest.raises(layout.LayoutError, match="m1"):
        layout_auto.relaid("small.bpmn", pools.encode())


def test_a_pool_and_its_lanes_are_tall_enough_for_their_names():
    name = "Work unit, where the applicant works and is recommended from (工作单位，申报人所在并推荐的单位)"
    pooled = changed(
        '<bpmn:process id="small" isExecutable="true">',
        '<bpmn:collaboration id="c"><bpmn:participant id="pool" name="Small (小)" processRef="small" />'
        '</bpmn:collaboration><bpmn:process id="small" isExecutable="true">'
        f'<bpmn:laneSet id="lanes"><bpmn:lane id="lane_unit" name="{name}">'
        + "".join(
            f"<bpmn:flowNodeRef>{n}</bpmn:flowNodeRef>"
            for n in ("start", "check", "approved", "archive", "done", "refused")
        )
        + "</bpmn:lane></bpmn:laneSet>",
    )
    relaid = layout_auto.relaid("small.bpmn", pooled.encode())
    assert layout.problems("small.bpmn", relaid) == []
    squeezed = re.sub(
        r'(bpmnElement="lane_unit" isHorizontal="true">\s*<dc:Bounds [^/]*height=")\d+', r"\g<1>150", relaid.decode()
    )
    assert layout.parse("small.bpmn", squeezed.encode()).lanes["lane_unit"].shape.h == 150
    assert {(p.element, p.rule) for p in layout.problems("small.bpmn", squeezed.encode())} >= {
        ("lane_unit", "name_fits")
    }
