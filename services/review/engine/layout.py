"""Whether a diagram reads well, computed from its diagram interchange (DI): the shapes' bounds,
the flows' waypoints and the labels' bounds that bpmn-js draws.

A diagram is refused (naming the file, the element and the rule) when
- an element is not drawn (``drawn``): every flow node, flow, lane and pool has its DI;
- a flow runs through a flow node other than its own source and target (``flow_through_shape``;
  a boundary event belongs to its host only for the flows leaving it);
- two flows leave a gateway from one point or along one first segment (``flows_apart``);
- a label overlaps another label or a shape other than its owner (``label_overlap``);
- a name does not fit its shape, or an external label its bounds (``name_fits``), the text wrapped
  the way bpmn-js wraps it (12 px font, 14.4 px lines, a CJK character 1 em, other characters
  0.55 em, a task's text 7 px inside its box);
- the happy path (``happy_path`` below: to the end event whose ``outcome`` is ``certified``, else
  along the default flows) does not run left to right (``happy_path``).

No Flask here: the command line (``titles-bpmn layout --check``) and the tests read this module."""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from services.review.engine.definitions import Problem

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"

# bpmn-js's text: 12 px, lines 1.2 em apart; a task's name 7 px inside its box.
FONT_PX = 12.0
LINE_PX = FONT_PX * 1.2
LATIN_EM = 0.55
TASK_PADDING = 7.0
# Coordinates are whole pixels; a shared edge or a rounding is not an overlap.
TOLERANCE = 1.0

ACTIVITIES = {
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "sendTask",
    "receiveTask",
    "manualTask",
    "callActivity",
    "subProcess",
    "transaction",
    "adHocSubProcess",
}
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAYS = {"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway"}
DATA = {"dataObjectReference", "dataStoreReference"}
FLOW_NODES = ACTIVITIES | EVENTS | GATEWAYS
CONTAINERS = {"subProcess", "transaction", "adHocSubProcess"}
FLOWS = {"sequenceFlow": "sequence", "messageFlow": "message", "association": "association"}


class LayoutError(ValueError):
    """A file the layout can neither read nor draw."""


# --- text ----------------------------------------------------------------------------------------


def char_width(ch: str) -> float:
    return FONT_PX if unicodedata.east_asian_width(ch) in ("W", "F") else FONT_PX * LATIN_EM


def text_width(text: str) -> float:
    return sum(char_width(ch) for ch in text)


def wrap(text: str, width: float) -> list[str]:
    """The lines bpmn-js (diagram-js's ``Text``) draws ``text`` in at most ``width`` px: it guesses
    how many characters fit from the line's width, keeps the whole words (split at spaces and
    hyphens) shorter than that, else cuts the word; a mixed Chinese and English name therefore
    breaks earlier than its width alone says."""
    pending = re.split(r"\u00AD?\r?\n", text or "")
    lines: list[str] = []
    while pending:
        original = pending.pop(0)
        line = original
        while True:
            measured = text_width(line.rstrip()) if line else 0.0
            if line in (" ", "") or measured <= width or len(line) < 2:
                break
            line = _shorten(line, measured, width)
        if len(line) < len(original):
            pending.insert(0, original[len(line) :].strip())
        lines.append(line)
    return lines


def _shorten(line: str, measured: float, width: float) -> str:
    length = max(len(line) * (width / measured), 1)
    parts = re.split(r"(\s|-|\u00AD)", line)
    kept: list[str] = []
    if len(parts) > 1:
        total = 0
        for part in parts:
            if not part:  # the browser's loop stops at an empty part
                break
            if len(part) + total < length:
                kept.append(part)
                total += len(part)
            else:
                if part in ("-", "\u00ad") and kept:
                    kept.pop()
                break
    if kept and kept[-1] == "\u00ad":
        kept[-1] = "-"
    return "".join(kept) or line[: max(math.floor(length - 1 + 0.5), 1)]


def text_size(text: str, width: float) -> tuple[float, float]:
    """Width and height of ``text`` wrapped at ``width``."""
    lines = wrap(text, width)
    return (max((text_width(line) for line in lines), default=0.0), len(lines) * LINE_PX)


# --- the diagram ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2

    def overlaps(self, other: Box, tolerance: float = TOLERANCE) -> bool:
        return (
            self.x + tolerance < other.right
            and other.x + tolerance < self.right
            and self.y + tolerance < other.bottom
            and other.y + tolerance < self.bottom
        )

    def contains(self, other: Box, tolerance: float = TOLERANCE) -> bool:
        return (
            other.x >= self.x - tolerance
            and other.right <= self.right + tolerance
            and other.y >= self.y - tolerance
            and other.bottom <= self.bottom + tolerance
        )


@dataclass
class Node:
    id: str
    kind: str
    name: str
    parent: str  # the process or subprocess holding it
    attached_to: str | None = None  # a boundary event's host
    properties: dict[str, str] = field(default_factory=dict)
    default: str | None = None  # a gateway's default flow
    shape: Box | None = None
    label: Box | None = None
    drawn: bool = False
    expanded: bool = False


@dataclass
class Flow:
    id: str
    kind: str
    source: str
    target: str
    name: str
    parent: str
    conditioned: bool = False
    waypoints: list[tuple[float, float]] = field(default_factory=list)
    label: Box | None = None
    drawn: bool = False


@dataclass
class Lane:
    id: str
    name: str
    refs: list[str]
    process: str = ""
    shape: Box | None = None
    drawn: bool = False


@dataclass
class Diagram:
    file: str
    nodes: dict[str, Node] = field(default_factory=dict)
    flows: dict[str, Flow] = field(default_factory=dict)
    lanes: dict[str, Lane] = field(default_factory=dict)
    # participant id -> (name, process id, shape, drawn)
    pools: dict[str, tuple[str, str | None, Box | None, bool]] = field(default_factory=dict)
    processes: list[str] = field(default_factory=list)

    def children(self, parent: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.parent == parent]

    def outgoing(self, node_id: str) -> list[Flow]:
        return [f for f in self.flows.values() if f.source == node_id and f.kind == "sequence"]

    def incoming(self, node_id: str) -> list[Flow]:
        return [f for f in self.flows.values() if f.target == node_id and f.kind == "sequence"]


def _local(tag: object) -> str:
    return etree.QName(tag).localname if isinstance(tag, str) else ""


def _bounds(element: Any) -> Box | None:
    b = element.find(f"{{{DC}}}Bounds")
    if b is None:
        return None
    return Box(float(b.get("x")), float(b.get("y")), float(b.get("width")), float(b.get("height")))


def parse(file_name: str, content: bytes) -> Diagram:
    try:
        root = etree.fromstring(content)
    except etree.XMLSyntaxError as exc:
        raise LayoutError(f"not well-formed XML: {exc}") from exc
    diagram = Diagram(file_name)
    for participant in root.iter(f"{{{BPMN}}}participant"):
        diagram.pools[participant.get("id")] = (
            participant.get("name") or "",
            participant.get("processRef"),
            None,
            False,
        )

    def data_associations(activity: Any, parent: str) -> None:
        # written inside the task: what it reads (sourceRef) and what it writes (targetRef)
        for child in activity:
            kind, flow_id = _local(child.tag), child.get("id")
            source = (child.findtext(f"{{{BPMN}}}sourceRef") or "").strip()
            target = (child.findtext(f"{{{BPMN}}}targetRef") or "").strip()
            if kind == "dataInputAssociation" and flow_id and source:
                diagram.flows[flow_id] = Flow(flow_id, "association", source, activity.get("id"), "", parent)
            elif kind == "dataOutputAssociation" and flow_id and target:
                diagram.flows[flow_id] = Flow(flow_id, "association", activity.get("id"), target, "", parent)

    def walk(container: Any, parent: str) -> None:
        for child in container:
            kind = _local(child.tag)
            if kind in FLOW_NODES or kind in DATA:
                props = {
                    p.get("name"): p.get("value") or ""
                    for p in child.iter(f"{{{SPIFF}}}property")
                    if p.getparent() is not None
                    and p.getparent().getparent() is not None
                    and p.getparent().getparent().getparent() is child
                }
                diagram.nodes[child.get("id")] = Node(
                    child.get("id"),
                    kind,
                    child.get("name") or "",
                    parent,
                    child.get("attachedToRef"),
                    props,
                    child.get("default"),
                )
                if kind in CONTAINERS:
                    walk(child, child.get("id"))
                if kind in ACTIVITIES:
                    data_associations(child, parent)
            elif kind in FLOWS and child.get("sourceRef") is not None:
                diagram.flows[child.get("id")] = Flow(
                    child.get("id"),
                    FLOWS[kind],
                    child.get("sourceRef"),
                    child.get("targetRef"),
                    child.get("name") or "",
                    parent,
                    child.find(f"{{{BPMN}}}conditionExpression") is not None,
                )
            elif kind == "laneSet":
                for lane in child.iter(f"{{{BPMN}}}lane"):
                    diagram.lanes[lane.get("id")] = Lane(
                        lane.get("id"),
                        lane.get("name") or "",
                        [(r.text or "").strip() for r in lane.findall(f"{{{BPMN}}}flowNodeRef")],
                        parent,
                    )

    for process in root.iter(f"{{{BPMN}}}process"):
        diagram.processes.append(process.get("id"))
        walk(process, process.get("id"))
    # an association counts between two drawn things (a task's data input from a property is not)
    for flow in [f for f in diagram.flows.values() if f.kind == "association"]:
        if flow.source not in diagram.nodes or flow.target not in diagram.nodes:
            del diagram.flows[flow.id]
    for collaboration in root.iter(f"{{{BPMN}}}collaboration"):
        for child in collaboration:
            if _local(child.tag) == "messageFlow":
                diagram.flows[child.get("id")] = Flow(
                    child.get("id"),
                    "message",
                    child.get("sourceRef"),
                    child.get("targetRef"),
                    child.get("name") or "",
                    collaboration.get("id"),
                )

    for shape in root.iter(f"{{{BPMNDI}}}BPMNShape"):
        ref = shape.get("bpmnElement")
        label = shape.find(f"{{{BPMNDI}}}BPMNLabel")
        label_box = _bounds(label) if label is not None else None
        if ref in diagram.nodes:
            node = diagram.nodes[ref]
            node.shape, node.label, node.drawn = _bounds(shape), label_box, True
            node.expanded = shape.get("isExpanded") == "true"
        elif ref in diagram.lanes:
            diagram.lanes[ref].shape, diagram.lanes[ref].drawn = _bounds(shape), True
        elif ref in diagram.pools:
            name, process, _, _ = diagram.pools[ref]
            diagram.pools[ref] = (name, process, _bounds(shape), True)
    for edge in root.iter(f"{{{BPMNDI}}}BPMNEdge"):
        drawn = diagram.flows.get(edge.get("bpmnElement"))
        if drawn is None:
            continue
        drawn.drawn = True
        drawn.waypoints = [(float(w.get("x")), float(w.get("y"))) for w in edge.findall(f"{{{DI}}}waypoint")]
        label = edge.find(f"{{{BPMNDI}}}BPMNLabel")
        drawn.label = _bounds(label) if label is not None else None
    return diagram


# --- the rules -----------------------------------------------------------------------------------


def _segment_crosses(a: tuple[float, float], b: tuple[float, float], box: Box) -> bool:
    """Whether segment a-b runs through the inside of ``box`` (shrunk by the tolerance): Liang-Barsky."""
    x0, y0, x1, y1 = box.x + TOLERANCE, box.y + TOLERANCE, box.right - TOLERANCE, box.bottom - TOLERANCE
    if x0 >= x1 or y0 >= y1:
        return False
    dx, dy = b[0] - a[0], b[1] - a[1]
    lo, hi = 0.0, 1.0
    for p, q in ((-dx, a[0] - x0), (dx, x1 - a[0]), (-dy, a[1] - y0), (dy, y1 - a[1])):
        if p == 0:
            if q <= 0:
                return False
        else:
            t = q / p
            if p < 0:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
            if lo >= hi:
                return False
    return hi - lo > 1e-9


def _ancestors(diagram: Diagram, node_id: str) -> set[str]:
    out, current = set(), diagram.nodes.get(node_id)
    while current is not None and current.parent in diagram.nodes:
        out.add(current.parent)
        current = diagram.nodes[current.parent]
    return out


def _drawn_rules(diagram: Diagram) -> list[Problem]:
    problems = []
    for node in diagram.nodes.values():
        if not node.drawn or node.shape is None:
            problems.append(
                Problem(diagram.file, node.id, "drawn", f"{node.kind} has no shape in the diagram (未绘制)")
            )
    for flow in diagram.flows.values():
        if not flow.drawn or len(flow.waypoints) < 2:
            problems.append(Problem(diagram.file, flow.id, "drawn", f"{flow.kind} flow has no drawn path (未绘制)"))
    for lane in diagram.lanes.values():
        if not lane.drawn:
            problems.append(Problem(diagram.file, lane.id, "drawn", "lane has no shape in the diagram (未绘制)"))
    for pool_id, (_, _, _, drawn) in diagram.pools.items():
        if not drawn:
            problems.append(Problem(diagram.file, pool_id, "drawn", "pool has no shape in the diagram (未绘制)"))
    return problems


def _crossing_rules(diagram: Diagram) -> list[Problem]:
    problems = []
    for flow in diagram.flows.values():
        if len(flow.waypoints) < 2:
            continue
        own = {flow.source, flow.target} | _ancestors(diagram, flow.source) | _ancestors(diagram, flow.target)
        source = diagram.nodes.get(flow.source)
        if source is not None and source.attached_to:
            own.add(source.attached_to)
        for node in diagram.nodes.values():
            if node.id in own or node.shape is None:
                continue
            segments = zip(flow.waypoints, flow.waypoints[1:])
            if any(_segment_crosses(a, b, node.shape) for a, b in segments):
                problems.append(
                    Problem(
                        diagram.file,
                        flow.id,
                        "flow_through_shape",
                        f"the flow runs through {node.id} ({node.name or node.kind}), neither its "
                        f"source nor its target (连线穿过其他元素)",
                    )
                )
    return problems


Segment = tuple[tuple[float, float], tuple[float, float]]


def _first_segment(flow: Flow) -> Segment:
    return flow.waypoints[0], flow.waypoints[1]


def _collinear_overlap(s1: Segment, s2: Segment) -> bool:
    (a, b), (c, d) = s1, s2
    if a[0] == b[0] == c[0] == d[0]:
        lo1, hi1 = sorted((a[1], b[1]))
        lo2, hi2 = sorted((c[1], d[1]))
        return min(hi1, hi2) - max(lo1, lo2) > TOLERANCE
    if a[1] == b[1] == c[1] == d[1]:
        lo1, hi1 = sorted((a[0], b[0]))
        lo2, hi2 = sorted((c[0], d[0]))
        return min(hi1, hi2) - max(lo1, lo2) > TOLERANCE
    return False


def _gateway_rules(diagram: Diagram) -> list[Problem]:
    problems = []
    for node in diagram.nodes.values():
        if node.kind not in GATEWAYS:
            continue
        out = [f for f in diagram.outgoing(node.id) if len(f.waypoints) >= 2]
        for i, first in enumerate(out):
            for second in out[i + 1 :]:
                (a, _), (c, _) = _first_segment(first), _first_segment(second)
                if math.dist(a, c) <= TOLERANCE or _collinear_overlap(_first_segment(first), _first_segment(second)):
                    problems.append(
                        Problem(
                            diagram.file,
                            second.id,
                            "flows_apart",
                            f"leaves {node.id} from the same point or along the same first "
                            f"segment as {first.id} (出口重叠)",
                        )
                    )
    return problems


def _labels(diagram: Diagram) -> list[tuple[str, Box]]:
    """Every drawn label with its owner; an expanded subprocess's name counts as a label at its top left."""
    labels = []
    for node in diagram.nodes.values():
        if node.label is not None and node.name:
            labels.append((node.id, node.label))
        if node.kind in CONTAINERS and node.expanded and node.shape is not None and node.name:
            w, h = text_size(node.name, node.shape.w - 2 * TASK_PADDING)
            labels.append((node.id, Box(node.shape.x + TASK_PADDING, node.shape.y + TASK_PADDING, w, h)))
    for flow in diagram.flows.values():
        if flow.label is not None and flow.name:
            labels.append((flow.id, flow.label))
    return labels


def _label_rules(diagram: Diagram) -> list[Problem]:
    problems = []
    labels = _labels(diagram)
    for i, (owner, box) in enumerate(labels):
        for other, other_box in labels[i + 1 :]:
            if box.overlaps(other_box):
                problems.append(
                    Problem(diagram.file, owner, "label_overlap", f"its label overlaps the label of {other} (标签重叠)")
                )
        for node in diagram.nodes.values():
            if node.id == owner or node.shape is None:
                continue
            if node.kind in CONTAINERS and node.expanded:
                # a label lies inside a subprocess or outside it, never across its border
                if box.overlaps(node.shape) and not node.shape.contains(box):
                    problems.append(
                        Problem(
                            diagram.file,
                            owner,
                            "label_overlap",
                            f"its label crosses the border of {node.id} (标签压线)",
                        )
                    )
                continue
            if box.overlaps(node.shape):
                problems.append(
                    Problem(
                        diagram.file,
                        owner,
                        "label_overlap",
                        f"its label overlaps the shape of {node.id} (标签遮挡元素)",
                    )
                )
    return problems


def _fit_rules(diagram: Diagram) -> list[Problem]:
    problems = []
    for node in diagram.nodes.values():
        if not node.name or node.shape is None:
            continue
        if node.kind in ACTIVITIES and not (node.kind in CONTAINERS and node.expanded):
            inner_w, inner_h = node.shape.w - 2 * TASK_PADDING, node.shape.h - 2 * TASK_PADDING
            lines = wrap(node.name, inner_w)
            if len(lines) * LINE_PX > inner_h + TOLERANCE:
                problems.append(
                    Problem(
                        diagram.file,
                        node.id,
                        "name_fits",
                        f"the name takes {len(lines)} lines ({len(lines) * LINE_PX:.0f} px) in a box "
                        f"{node.shape.w:.0f}x{node.shape.h:.0f} (名称超出图形)",
                    )
                )
        elif node.kind in CONTAINERS:
            lines = wrap(node.name, node.shape.w - 2 * TASK_PADDING)
            if len(lines) * LINE_PX + 2 * TASK_PADDING > node.shape.h + TOLERANCE:
                problems.append(
                    Problem(
                        diagram.file,
                        node.id,
                        "name_fits",
                        f"the name does not fit the box {node.shape.w:.0f}x{node.shape.h:.0f} (名称超出图形)",
                    )
                )
        else:
            problems += _external_fits(diagram.file, node.id, node.name, node.label)
    for flow in diagram.flows.values():
        if flow.name:
            problems += _external_fits(diagram.file, flow.id, flow.name, flow.label)
    # a pool's or lane's name is written along its header, wrapped at its height, two lines at most
    headers = [(lane.id, lane.name, lane.shape) for lane in diagram.lanes.values()]
    headers += [(pool_id, name, shape) for pool_id, (name, _, shape, _) in diagram.pools.items()]
    for element, name, shape in headers:
        if name and shape is not None and len(wrap(name, shape.h - 2 * TASK_PADDING)) > 2:
            problems.append(
                Problem(
                    diagram.file,
                    element,
                    "name_fits",
                    f"the name does not fit along a header {shape.h:.0f} px tall (名称超出泳道)",
                )
            )
    return problems


def _external_fits(file_name: str, owner: str, name: str, label: Box | None) -> list[Problem]:
    if label is None:
        return [Problem(file_name, owner, "name_fits", "the name has no label bounds in the diagram (标签未定位)")]
    lines = wrap(name, label.w)
    if len(lines) * LINE_PX > label.h + TOLERANCE:
        return [
            Problem(
                file_name,
                owner,
                "name_fits",
                f"the name takes {len(lines)} lines ({len(lines) * LINE_PX:.0f} px) at {label.w:.0f} px; "
                f"its label is {label.w:.0f}x{label.h:.0f} (标签过小)",
            )
        ]
    return []


def _happy_rules(diagram: Diagram) -> list[Problem]:
    path = happy_path(diagram)
    problems = []
    for before, after in zip(path, path[1:]):
        a, b = diagram.nodes[before].shape, diagram.nodes[after].shape
        if a is not None and b is not None and b.cx < a.cx - TOLERANCE:
            problems.append(
                Problem(
                    diagram.file,
                    after,
                    "happy_path",
                    f"lies left of {before}, the step before it on the way to the main end (主流程应从左到右)",
                )
            )
    return problems


def back_edges(diagram: Diagram, parent: str) -> set[str]:
    """The flows that close a loop (returns, waits), found by a depth-first walk from the start
    events in the order the flows are written."""
    nodes = {n.id for n in diagram.children(parent)}
    out: dict[str, list[Flow]] = {n: [] for n in nodes}
    for flow in diagram.flows.values():
        if flow.kind != "sequence" or flow.target not in nodes:
            continue
        source = diagram.nodes.get(flow.source)
        origin = source.attached_to if source is not None and source.attached_to else flow.source
        if origin in nodes:
            out[origin].append(flow)
    for child in diagram.children(parent):  # a boundary event's flows leave with its host
        if child.attached_to in nodes:
            out[child.attached_to] += out.pop(child.id, [])
            nodes.discard(child.id)
    starts = [
        n.id
        for n in diagram.children(parent)
        if n.id in nodes and not any(f.target == n.id for flows in out.values() for f in flows)
    ]
    state: dict[str, int] = {}
    back: set[str] = set()
    for root in starts + sorted(nodes):
        if root in state:
            continue
        stack = [(root, iter(out[root]))]
        state[root] = 1
        while stack:
            node, flows = stack[-1]
            following = next(flows, None)
            if following is None:
                state[node] = 2
                stack.pop()
                continue
            target = following.target
            if state.get(target) == 1:
                back.add(following.id)
            elif target not in state:
                state[target] = 1
                stack.append((target, iter(out.get(target, []))))
    return back


def happy_path(diagram: Diagram, parent: str | None = None) -> list[str]:
    """The main way through a process (loops left out), from its first start event: to the end
    event whose ``outcome`` property is ``certified`` if there is one; else at each split the
    default flow, unless it ends the process there while another flow goes on, else the flow with
    the longest way left to an end."""
    parent = parent or next((p for p in diagram.processes if diagram.children(p)), None)
    if parent is None:
        return []
    back = back_edges(diagram, parent)
    children = {n.id: n for n in diagram.children(parent) if n.kind not in DATA}
    starts = [n for n in children.values() if n.kind == "startEvent"]
    if not starts:
        return []
    forward = [
        f
        for f in diagram.flows.values()
        if f.kind == "sequence" and f.source in children and f.target in children and f.id not in back
    ]
    ends = [n.id for n in children.values() if n.kind == "endEvent"]
    goal = [e for e in ends if children[e].properties.get("outcome") == "certified"][:1] or ends
    left: dict[str, int] = {e: 0 for e in goal}  # the longest way left to the goal
    for node_id in reversed(_topological(set(children), forward)):
        for flow in forward:
            if flow.source == node_id and flow.target in left:
                left[node_id] = max(left.get(node_id, 0), left[flow.target] + 1)
    path = [starts[0].id]
    while path[-1] not in goal:
        node = children[path[-1]]
        choices = [f for f in forward if f.source == node.id and f.target in left and f.target not in path]
        if not choices:
            break
        default = next((f for f in choices if f.id == node.default), None)
        ending = [children[f.target].kind == "endEvent" for f in choices]
        if default is not None and (children[default.target].kind != "endEvent" or all(ending)):
            path.append(default.target)
        else:
            path.append(max(choices, key=lambda f: left[f.target]).target)
    return path


def _topological(ids: set[str], flows: list[Flow]) -> list[str]:
    incoming = {n: 0 for n in ids}
    for flow in flows:
        incoming[flow.target] += 1
    ready = sorted(n for n, k in incoming.items() if k == 0)
    order = []
    while ready:
        node = ready.pop(0)
        order.append(node)
        for flow in flows:
            if flow.source == node:
                incoming[flow.target] -= 1
                if incoming[flow.target] == 0:
                    ready.append(flow.target)
    return order


def problems(file_name: str, content: bytes) -> list[Problem]:
    """Everything that makes the diagram hard to read, in the order of the rules above."""
    diagram = parse(file_name, content)
    drawn = _drawn_rules(diagram)
    return (
        drawn
        + _crossing_rules(diagram)
        + _gateway_rules(diagram)
        + _label_rules(diagram)
        + _fit_rules(diagram)
        + _happy_rules(diagram)
    )
