"""Draw a diagram again from its process: a new ``bpmndi:BPMNDiagram`` that ``layout.problems``
accepts, the rest of the file left byte for byte as it was. Same input, same output.

The method (layered, on a grid, so nothing can be drawn through a shape):
- columns: the longest way from the start over the flows that do not close a loop (a loop's flow,
  e.g. a resubmission going back to the checks, is found by a depth-first walk from the start);
- rows: each lane is a band of rows; the happy path (``layout.happy_path``) keeps the lane's first
  row, every other node the row of the node before it if free, else the nearest free one below;
  a boundary event's path starts a row below its host;
- a cell holds one node with its labels (external name, the labels of its outgoing flows, its
  boundary events); between columns run vertical gaps and between rows horizontal channels, and a
  flow runs only through those, each on its own track: out of its source (a gateway's flows by
  different sides: right, top, bottom), along the gap after its source or a channel, into its
  target's left side; a flow going back runs along a channel (a corridor) below the rows it joins;
- a task grows until its name fits; an expanded subprocess is laid out the same way inside its box;
  a data object sits under (else over) the task that reads or writes it, joined by a straight line.
One pool (with its lanes) is drawn; message flows and pools without a process are refused.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from services.review.engine import layout
from services.review.engine.layout import Box, Diagram, Flow, LayoutError, Node

TASK_W, TASK_H, TASK_MAX_W = 100, 80, 160
EVENT, GATEWAY = 36, 50
DATA_SIZE = (36, 50)
LABEL_WRAP = 90  # an external label's width, as bpmn-js makes it
LABEL_WRAP_WIDE = 120
LABEL_GAP = 4  # between a shape or a line and a label
GAP_MIN, CHANNEL_MIN, TRACK = 40, 30, 12
POOL_HEADER, LANE_HEADER = 30, 30
ORIGIN = (150, 80)
SUB_PAD = 20


@dataclass
class Cell:
    node: Node
    w: float
    h: float
    col: int = 0
    row: int = 0  # the row inside its lane, then the global row
    lane: str = ""
    rects: list[tuple[float, float, float, float]] = field(default_factory=list)  # relative to its centre
    name_label: tuple[float, float, float, float] | None = None
    boundaries: list[tuple[Node, float]] = field(default_factory=list)  # (event, x offset)
    sub: Placed | None = None  # an expanded subprocess's own layout


@dataclass
class Placed:
    """A container laid out, coordinates relative to its top left."""

    w: float
    h: float
    shapes: dict[str, Box] = field(default_factory=dict)
    labels: dict[str, Box] = field(default_factory=dict)
    waypoints: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    lanes: dict[str, tuple[float, float]] = field(default_factory=dict)  # lane id -> (y, height)

    def moved(self, dx: float, dy: float) -> Placed:
        return Placed(
            self.w,
            self.h,
            {k: Box(b.x + dx, b.y + dy, b.w, b.h) for k, b in self.shapes.items()},
            {k: Box(b.x + dx, b.y + dy, b.w, b.h) for k, b in self.labels.items()},
            {k: [(x + dx, y + dy) for x, y in pts] for k, pts in self.waypoints.items()},
            {k: (y + dy, h) for k, (y, h) in self.lanes.items()},
        )


def label_size(text: str) -> tuple[float, float]:
    """An external label's box: the text on one line if it is short, else wrapped at 90 px (120 px
    when that takes more than three lines), as tall as its lines."""
    one_line = layout.text_width(text)
    if one_line <= LABEL_WRAP:
        return math.ceil(one_line) + 2, math.ceil(layout.LINE_PX) + 2
    width = LABEL_WRAP if len(layout.wrap(text, LABEL_WRAP)) <= 3 else LABEL_WRAP_WIDE
    return width, math.ceil(len(layout.wrap(text, width)) * layout.LINE_PX) + 2


def task_size(name: str) -> tuple[float, float]:
    """The smallest box the name fits in on at most three lines (clear of the task's marker in its
    top left corner): wider first, up to 160 px, then taller."""
    for w in range(TASK_W, TASK_MAX_W + 1, 10):
        if len(layout.wrap(name, w - 2 * layout.TASK_PADDING)) <= 3:
            return w, TASK_H
    lines = len(layout.wrap(name, TASK_MAX_W - 2 * layout.TASK_PADDING))
    return TASK_MAX_W, math.ceil((lines * layout.LINE_PX + 2 * 18) / 10) * 10


# --- one container (a process or an expanded subprocess) --------------------------------------------


class _Grid:
    def __init__(self, diagram: Diagram, parent: str, lanes: list[layout.Lane]):
        self.d = diagram
        self.parent = parent
        children = diagram.children(parent)
        self.boundary = {n.id: n for n in children if n.attached_to}
        self.cells: dict[str, Cell] = {}
        for node in children:
            if node.attached_to:
                continue
            if node.kind in layout.CONTAINERS:
                sub = layout_container(diagram, node.id, [])
                top = layout.text_size(node.name, sub.w)[1] + 2 * layout.TASK_PADDING
                sub = sub.moved(0, top)
                sub.h += top
                self.cells[node.id] = Cell(node, sub.w, sub.h, sub=sub)
            elif node.kind in layout.ACTIVITIES:
                self.cells[node.id] = Cell(node, *task_size(node.name))
            elif node.kind in layout.GATEWAYS:
                self.cells[node.id] = Cell(node, GATEWAY, GATEWAY)
            elif node.kind in layout.DATA:
                self.cells[node.id] = Cell(node, *DATA_SIZE)
            else:
                self.cells[node.id] = Cell(node, EVENT, EVENT)
        self.flows = [f for f in diagram.flows.values() if f.kind == "sequence" and f.parent == parent]
        # a data object beside the task that reads or writes it (the first association written)
        self.associations = [f for f in diagram.flows.values() if f.kind == "association" and f.parent == parent]
        self.data_of: dict[str, str] = {}
        for flow in self.associations:
            data, task = (
                (flow.source, flow.target)
                if flow.source in self.cells and self.cells[flow.source].node.kind in layout.DATA
                else (flow.target, flow.source)
            )
            if data not in self.cells or task not in self.cells or self.cells[data].node.kind not in layout.DATA:
                raise LayoutError(
                    f"associations other than between a data object and a task are not laid out: {flow.id}"
                )
            self.data_of.setdefault(data, task)

        self.back = layout.back_edges(diagram, parent)
        self.happy = layout.happy_path(diagram, parent)
        self.lane_ids = [lane.id for lane in lanes] or [""]
        lane_of = {ref: lane.id for lane in lanes for ref in lane.refs}
        for cell in self.cells.values():
            cell.lane = lane_of.get(cell.node.id, self.lane_ids[0])
        for data, task in self.data_of.items():
            self.cells[data].lane = self.cells[task].lane
        self.lane_names = {lane.id: lane.name for lane in lanes}

    def origin(self, flow: Flow) -> str:
        """The cell a flow leaves: a boundary event's flows leave with its host."""
        event = self.boundary.get(flow.source)
        return event.attached_to if event is not None and event.attached_to else flow.source

    # columns: longest path over the flows that do not close a loop
    def columns(self) -> None:
        forward = [f for f in self.flows if f.id not in self.back]
        order = list(self.cells)
        col = {n: 0 for n in order}
        for _ in range(len(order) + 1):
            changed = False
            for flow in forward:
                source, target = self.origin(flow), flow.target
                if source in col and target in col and col[target] < col[source] + 1:
                    col[target] = col[source] + 1
                    changed = True
            if not changed:
                break
        for data, task in self.data_of.items():
            col[data] = col[task]
        for node, c in col.items():
            self.cells[node].col = c
        self.ncols = max(col.values(), default=0) + 1

    # exits: which side each outgoing flow leaves by (a lane's flows before its rows are known)
    def exits(self) -> None:
        self.exit: dict[str, str] = {}
        happy_next = dict(zip(self.happy, self.happy[1:]))
        lane_index = {lane: i for i, lane in enumerate(self.lane_ids)}
        for cell in self.cells.values():
            out = [f for f in self.flows if f.source == cell.node.id]
            if not out:
                continue
            main = None
            if cell.node.id in happy_next:
                main = next((f for f in out if f.target == happy_next[cell.node.id]), None)
            if main is None and cell.node.default and cell.node.default not in self.back:
                main = next((f for f in out if f.id == cell.node.default), None)
            if main is None:
                main = next(
                    (f for f in out if f.id not in self.back and self.cells[f.target].lane == cell.lane), None
                ) or next((f for f in out if f.id not in self.back), out[0])
            self.exit[main.id] = "right"
            free = ["bottom", "top"]
            for flow in out:
                if flow is main:
                    continue
                there, here = lane_index[self.cells[flow.target].lane], lane_index[cell.lane]
                want = "top" if there < here else "bottom" if there > here else free[0] if free else "bottom"
                side = want if want in free else (free[0] if free else "bottom")
                if side in free:
                    free.remove(side)
                self.exit[flow.id] = side
        for event in self.boundary.values():
            for flow in self.flows:
                if flow.source == event.id:
                    self.exit[flow.id] = "boundary"

    # rows: per lane, the happy path on row 0, the others beside the node before them (a row below
    # it after a bottom exit or a boundary event, above it after a top exit)
    def rows(self) -> None:
        taken: set[tuple[str, int, int]] = set()
        placed: set[str] = set()
        for node in self.happy:
            if node in self.cells:
                cell = self.cells[node]
                cell.row = 0
                taken.add((cell.lane, 0, cell.col))
                placed.add(node)
        order = sorted(
            (c for c in self.cells.values() if c.node.id not in placed),
            key=lambda c: (c.node.id in self.data_of, c.col, list(self.cells).index(c.node.id)),
        )
        for cell in order:
            preferred, direction = 0, 0
            if cell.node.id in self.data_of:
                preferred, direction = self.cells[self.data_of[cell.node.id]].row + 1, 1
            for flow in self.flows:
                if flow.target != cell.node.id or flow.id in self.back or direction:
                    continue
                source = self.cells.get(self.origin(flow))
                if source is None or source.node.id not in placed or source.lane != cell.lane:
                    continue
                direction = {"right": 0, "top": -1}.get(self.exit[flow.id], 1)
                preferred = source.row + direction
                break
            if cell.node.id in self.data_of:  # under its task, else over it, else further down
                candidates = [preferred, preferred - 2] + [preferred + k for k in range(1, 40)]
            elif direction:
                candidates = [preferred + direction * k for k in range(40)] + [
                    preferred - direction * k for k in range(1, 40)
                ]
            else:
                candidates = [preferred + k * sign for k in range(40) for sign in (1, -1)]
            row = next(r for r in candidates if (cell.lane, r, cell.col) not in taken)
            cell.row = row
            taken.add((cell.lane, row, cell.col))
            placed.add(cell.node.id)
        # global rows: the lanes' bands one below the other
        self.lane_rows: dict[str, list[int]] = {}
        index = 0
        for lane in self.lane_ids:
            rows = [c.row for c in self.cells.values() if c.lane == lane] or [0]
            low, high = min(rows), max(rows)
            self.lane_rows[lane] = list(range(index, index + high - low + 1))
            for cell in self.cells.values():
                if cell.lane == lane:
                    cell.row = index + cell.row - low
            index += high - low + 1
        self.nrows = index
        self.at = {(c.row, c.col): c for c in self.cells.values()}

    # the shapes and labels each cell holds, relative to its centre
    def footprints(self) -> None:
        self.flow_label: dict[str, tuple[float, float, float, float]] = {}
        for cell in self.cells.values():
            node, w, h = cell.node, cell.w, cell.h
            cell.rects = [(-w / 2, -h / 2, w, h)]
            gateway = node.kind in layout.GATEWAYS
            if node.name and node.kind not in layout.ACTIVITIES:
                lw, lh = label_size(node.name)
                if gateway:
                    cell.name_label = (-LABEL_GAP - lw, -h / 2 - LABEL_GAP - lh, lw, lh)
                elif node.kind in layout.DATA:  # clear of its association, above or below it
                    cell.name_label = (w / 2 + LABEL_GAP, -lh / 2, lw, lh)
                else:
                    cell.name_label = (-lw / 2, h / 2 + LABEL_GAP, lw, lh)
                cell.rects.append(cell.name_label)
            for flow in self.flows:
                if flow.source != node.id or not flow.name:
                    continue
                lw, lh = label_size(flow.name)
                side = self.exit[flow.id]
                if side == "right":
                    rect = (
                        (w / 2 + LABEL_GAP, LABEL_GAP, lw, lh)
                        if gateway
                        else (w / 2 + LABEL_GAP, -LABEL_GAP - lh, lw, lh)
                    )
                elif side == "top":
                    rect = (LABEL_GAP, -h / 2 - LABEL_GAP - lh, lw, lh)
                else:
                    rect = (-LABEL_GAP - lw, h / 2 + LABEL_GAP, lw, lh)
                self.flow_label[flow.id] = rect
                cell.rects.append(rect)
            x = -w / 2 + 8 + EVENT / 2
            for event in (b for b in self.boundary.values() if b.attached_to == node.id):
                cell.boundaries.append((event, x))
                cell.rects.append((x - EVENT / 2, h / 2 - EVENT / 2, EVENT, EVENT))
                label_right = x + EVENT / 2
                if event.name:
                    lw, lh = label_size(event.name)
                    rect = (x + EVENT / 2 + LABEL_GAP, h / 2 + LABEL_GAP, lw, lh)
                    cell.rects.append(rect)
                    label_right = rect[0] + lw
                    bottom = rect[1] + lh
                else:
                    bottom = h / 2 + EVENT / 2
                for flow in self.flows:
                    if flow.source == event.id and flow.name:
                        lw, lh = label_size(flow.name)
                        rect = (x + LABEL_GAP, max(bottom, h / 2 + EVENT / 2) + LABEL_GAP, lw, lh)
                        self.flow_label[flow.id] = rect
                        cell.rects.append(rect)
                x = label_right + 2 * LABEL_GAP + EVENT / 2

    # routes as gaps (vertical, between columns) and channels (horizontal, between rows)
    def routes(self) -> None:
        """Each flow's way as gaps and channels; then the tracks, shared by flows whose stretches in a
        gap or channel do not meet. Positions count in half cells: row r's centre is 2r + 1, the
        channel above it 2r; column c's centre 2c + 1, the gap left of it 2c."""
        self.route: dict[str, tuple[Any, ...]] = {}  # ("A",), ("B", column), ("C", gap, channel, column)
        gap_use: dict[int, list[_Use]] = {}
        channel_use: dict[int, list[_Use]] = {}
        for flow in self.flows:
            source, target = self.cells[self.origin(flow)], self.cells[flow.target]
            side = self.exit[flow.id]
            cs, rs, ct, rt = source.col, source.row, target.col, target.row
            back = flow.id in self.back
            if side == "right":
                empty = all((rs, c) not in self.at for c in range(cs + 1, ct))
                if ct > cs and rs == rt and empty:
                    self.route[flow.id] = ("A",)
                elif ct == cs + 1:
                    self.route[flow.id] = ("B", ct)
                    gap_use.setdefault(ct, []).append(_Use(flow.id, 2 * rs + 1, 2 * rt + 1, rs, rt))
                else:
                    if back or rt == rs:
                        h = max(rs, rt) + 1
                    else:
                        h = rt if rt > rs else rt + 1
                    self.route[flow.id] = ("C", cs + 1, h, ct)
                    gap_use.setdefault(cs + 1, []).append(_Use(flow.id, 2 * rs + 1, 2 * h, rs, None))
                    channel_use.setdefault(h, []).append(_Use(flow.id, 2 * (cs + 1), 2 * ct, kind=1))
                    gap_use.setdefault(ct, []).append(_Use(flow.id, 2 * h, 2 * rt + 1, None, rt))
            else:
                h = rs if side == "top" else rs + 1
                self.route[flow.id] = ("D", h, ct)
                channel_use.setdefault(h, []).append(
                    _Use(flow.id, 2 * cs + 1, 2 * ct, kind=2 if side == "top" else 0, column=cs)
                )
                gap_use.setdefault(ct, []).append(_Use(flow.id, 2 * h, 2 * rt + 1, None, rt))
        sides = {(f.source, self.exit[f.id]) for f in self.flows}
        for flow in self.associations:
            data = flow.source if flow.source in self.data_of else flow.target
            task = flow.target if data == flow.source else flow.source
            d, t = self.cells[data], self.cells[task]
            if d.col == t.col and (
                d.row == t.row + 1
                and (task, "bottom") not in sides
                or d.row == t.row - 1
                and (task, "top") not in sides
            ):
                self.route[flow.id] = ("V",)  # straight between the data object and its task
            else:  # else into the task's left side like a flow
                self.route[flow.id] = ("D", d.row, t.col)
                channel_use.setdefault(d.row, []).append(_Use(flow.id, 2 * d.col + 1, 2 * t.col, kind=2, column=d.col))
                gap_use.setdefault(t.col, []).append(_Use(flow.id, 2 * d.row, 2 * t.row + 1, None, t.row))
        order = {f.id: i for i, f in enumerate(self.flows + self.associations)}
        self.gap_track: dict[tuple[int, str], int] = {}
        self.gap_count: dict[int, int] = {}
        for gap, uses in gap_use.items():
            # a flow leaving the column on the left at row r runs left of the flows entering the
            # column on the right at row r (else the two would share a line)
            before = {
                u.flow: {v.flow for v in uses if v.flow != u.flow and u.stub is not None and v.final == u.stub}
                for u in uses
            }
            tracks = _packed(_ordered(uses, before, order), before)
            self.gap_track.update({(gap, flow): t for flow, t in tracks.items()})
            self.gap_count[gap] = max(tracks.values()) + 1
        self.channel_track: dict[tuple[int, str], int] = {}
        self.channel_count: dict[int, int] = {}
        for channel, uses in channel_use.items():
            # a flow going down into the channel from a column runs above one coming up into it
            # from the same column
            before = {
                u.flow: {v.flow for v in uses if u.kind == 0 and v.kind == 2 and u.column == v.column} for u in uses
            }
            ranked = sorted(uses, key=lambda u: (u.kind, u.lo, order[u.flow]))
            tracks = _packed(ranked, before)
            self.channel_track.update({(channel, flow): t for flow, t in tracks.items()})
            self.channel_count[channel] = max(tracks.values()) + 1

    def coordinates(self, lanes: bool, min_height: float = 0) -> Placed:
        left = [0.0] * self.ncols
        right = [0.0] * self.ncols
        up = [20.0] * self.nrows
        down = [20.0] * self.nrows
        for cell in self.cells.values():
            for x, y, w, h in cell.rects:
                left[cell.col] = max(left[cell.col], -x)
                right[cell.col] = max(right[cell.col], x + w)
                up[cell.row] = max(up[cell.row], -y)
                down[cell.row] = max(down[cell.row], y + h)
        gap_w = [max(GAP_MIN, (self.gap_count.get(g, 0) + 1) * TRACK) for g in range(self.ncols + 1)]
        channel_h = [max(CHANNEL_MIN, (self.channel_count.get(h, 0) + 1) * TRACK) for h in range(self.nrows + 1)]
        # a lane, and the pool, at least as tall as its name written along its header
        for lane, rows in self.lane_rows.items():
            need = layout.text_width(self.lane_names.get(lane, "")) + 20
            have = sum(up[r] + down[r] for r in rows) + sum(channel_h[r] for r in rows[1:])
            if lanes and have < need:
                down[rows[-1]] += need - have
        have = sum(up) + sum(down) + sum(channel_h)
        if have < min_height:
            down[-1] += min_height - have
        col_x, width = _centres(gap_w, left, right)
        gap_x = [0.0] + [col_x[c] + right[c] for c in range(self.ncols)]
        row_y, height = _centres(channel_h, up, down)
        channel_y = [0.0] + [row_y[r] + down[r] for r in range(self.nrows)]

        placed = Placed(width, height)
        for lane, rows in self.lane_rows.items():
            top = (
                0.0
                if rows[0] == 0
                else channel_y[rows[0]] + channel_h[rows[0]] / (self.channel_count.get(rows[0], 0) + 1) / 2
            )
            last = rows[-1] + 1
            bottom = (
                height
                if last == self.nrows
                else channel_y[last] + channel_h[last] / (self.channel_count.get(last, 0) + 1) / 2
            )
            placed.lanes[lane] = (top, bottom - top)

        centre = {}
        for node_id, cell in self.cells.items():
            cx, cy = col_x[cell.col], row_y[cell.row]
            centre[node_id] = (cx, cy)
            box = Box(cx - cell.w / 2, cy - cell.h / 2, cell.w, cell.h)
            placed.shapes[node_id] = box
            if cell.name_label:
                x0, y0, w, h = cell.name_label
                placed.labels[node_id] = Box(cx + x0, cy + y0, w, h)
            for event, offset in cell.boundaries:
                placed.shapes[event.id] = Box(cx + offset - EVENT / 2, box.bottom - EVENT / 2, EVENT, EVENT)
                if event.name:
                    lw, lh = label_size(event.name)
                    placed.labels[event.id] = Box(cx + offset + EVENT / 2 + LABEL_GAP, box.bottom + LABEL_GAP, lw, lh)
            if cell.sub is not None:
                inner = cell.sub.moved(box.x, box.y)
                placed.shapes.update(inner.shapes)
                placed.labels.update(inner.labels)
                placed.waypoints.update(inner.waypoints)

        def gap_track_x(gap: int, flow_id: str) -> float:
            return gap_x[gap] + gap_w[gap] * (self.gap_track[(gap, flow_id)] + 1) / (self.gap_count[gap] + 1)

        def channel_track_y(channel: int, flow_id: str) -> float:
            return channel_y[channel] + channel_h[channel] * (self.channel_track[(channel, flow_id)] + 1) / (
                self.channel_count[channel] + 1
            )

        for flow in self.associations:
            data = flow.source if flow.source in self.data_of else flow.target
            d, t = placed.shapes[data], placed.shapes[flow.target if data == flow.source else flow.source]
            if self.route[flow.id][0] == "V":
                points = [(d.cx, d.y), (d.cx, t.bottom)] if d.y > t.y else [(d.cx, d.bottom), (d.cx, t.y)]
            else:
                _, h, g2 = self.route[flow.id]
                points = [
                    (d.cx, d.y),
                    (d.cx, channel_track_y(h, flow.id)),
                    (gap_track_x(g2, flow.id), channel_track_y(h, flow.id)),
                    (gap_track_x(g2, flow.id), t.cy),
                    (t.x, t.cy),
                ]
            placed.waypoints[flow.id] = _simplified(points if data == flow.source else points[::-1])
        for flow in self.flows:
            source = self.cells[self.origin(flow)]
            target = self.cells[flow.target]
            (sx, sy), (tx, ty) = centre[source.node.id], centre[target.node.id]
            side = self.exit[flow.id]
            if side == "right":
                start = (sx + source.w / 2, sy)
            elif side == "top":
                start = (sx, sy - source.h / 2)
            elif side == "bottom":
                start = (sx, sy + source.h / 2)
            else:
                shape = placed.shapes[flow.source]
                start = (shape.cx, shape.bottom)
            end = (tx - target.w / 2, ty)

            def gx(gap: int, flow_id: str = flow.id) -> float:
                return gap_track_x(gap, flow_id)

            def hy(channel: int, flow_id: str = flow.id) -> float:
                return channel_track_y(channel, flow_id)

            route = self.route[flow.id]
            if route[0] == "A":
                points = [start, end]
            elif route[0] == "B":
                points = [start, (gx(route[1]), sy), (gx(route[1]), ty), end]
            elif route[0] == "C":
                _, g1, h, g2 = route
                points = [start, (gx(g1), sy), (gx(g1), hy(h)), (gx(g2), hy(h)), (gx(g2), ty), end]
            else:
                _, h, g2 = route
                points = [start, (start[0], hy(h)), (gx(g2), hy(h)), (gx(g2), ty), end]
            placed.waypoints[flow.id] = _simplified(points)
            if flow.id in self.flow_label:
                x0, y0, w, h = self.flow_label[flow.id]
                placed.labels[flow.id] = Box(sx + x0, sy + y0, w, h)
        return placed


def _centres(gaps: Sequence[float], before: Sequence[float], after: Sequence[float]) -> tuple[list[float], float]:
    """The centres of bands (each ``before[i] + after[i]`` long, its centre ``before[i]`` in) laid one
    after the other with ``gaps[i]`` ahead of band i and ``gaps[-1]`` after the last; and the total."""
    centres, at = [], 0.0
    for gap, ahead, behind in zip(gaps, before, after):
        at += gap
        centres.append(at + ahead)
        at += ahead + behind
    return centres, at + gaps[-1]


@dataclass
class _Use:
    """A flow's stretch along one gap or channel, from position ``lo`` to ``hi`` (in half cells)."""

    flow: str
    a: int
    b: int
    stub: int | None = None  # in a gap: the row where the flow leaves the column on its left
    final: int | None = None  # in a gap: the row where it enters the column on its right
    kind: int = 1  # in a channel: 0 down from the row above, 1 along, 2 up from below
    column: int | None = None

    @property
    def lo(self) -> int:
        return min(self.a, self.b)

    @property
    def hi(self) -> int:
        return max(self.a, self.b)


def _ordered(uses: list[_Use], before: dict[str, set[str]], order: dict[str, int]) -> list[_Use]:
    """The uses with each one after those that must lie before it (the written order otherwise; a
    cycle, two flows crossing over, is broken in that order)."""
    result, remaining = [], sorted(uses, key=lambda u: order[u.flow])
    while remaining:
        free = [u for u in remaining if not any(u.flow in before[v.flow] for v in remaining if v is not u)]
        pick = free[0] if free else remaining[0]
        result.append(pick)
        remaining.remove(pick)
    return result


def _packed(uses: list[_Use], before: dict[str, set[str]]) -> dict[str, int]:
    """A track for each use, in the order given: the first one free along its whole stretch that
    lies past the tracks of the uses that must come before it."""
    taken: list[list[tuple[int, int]]] = []
    track: dict[str, int] = {}
    for use in uses:
        least = max((track[u] + 1 for u, later in before.items() if use.flow in later and u in track), default=0)
        t = least
        while t < len(taken) and any(not (use.hi < lo or hi < use.lo) for lo, hi in taken[t]):
            t += 1
        while len(taken) <= t:
            taken.append([])
        taken[t].append((use.lo, use.hi))
        track[use.flow] = t
    return track


def _simplified(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    points = [(round(x), round(y)) for x, y in points]
    out: list[tuple[float, float]] = []
    for point in points:
        if out and point == out[-1]:
            continue
        if len(out) >= 2 and (out[-2][0] == out[-1][0] == point[0] or out[-2][1] == out[-1][1] == point[1]):
            out[-1] = point
            continue
        out.append(point)
    return out


def layout_container(diagram: Diagram, parent: str, lanes: list[layout.Lane], min_height: float = 0) -> Placed:
    grid = _Grid(diagram, parent, lanes)
    grid.columns()
    grid.exits()
    grid.rows()
    grid.footprints()
    grid.routes()
    return grid.coordinates(bool(lanes), min_height)


# --- the file --------------------------------------------------------------------------------------

_DIAGRAM = re.compile(rb"([ \t]*)<(\w+):BPMNDiagram\b.*?</\2:BPMNDiagram>", re.S)


def relaid(file_name: str, content: bytes) -> bytes:
    """``content`` with its ``bpmndi:BPMNDiagram`` drawn again (or added) from the process."""
    diagram = layout.parse(file_name, content)
    processes = [p for p in diagram.processes if diagram.children(p)]
    if not processes:
        raise LayoutError("no process with anything in it to draw")
    unsupported = [f.id for f in diagram.flows.values() if f.kind == "message"] + [
        pid for pid, pool in diagram.pools.items() if pool[1] not in processes
    ]
    if unsupported:  # one pool with its lanes is what the review processes are
        raise LayoutError(f"message flows and pools without a process are not laid out: {', '.join(unsupported)}")
    root = etree.fromstring(content)
    prefixes = {uri: prefix for prefix, uri in root.nsmap.items() if prefix}
    # namespaces the root does not declare are declared on the drawing itself (the rest stays as it is)
    declare = "".join(
        f' xmlns:{name}="{uri}"'
        for name, uri in (("bpmndi", layout.BPMNDI), ("dc", layout.DC), ("di", layout.DI))
        if uri not in prefixes
    )
    for name, uri in (("bpmndi", layout.BPMNDI), ("dc", layout.DC), ("di", layout.DI)):
        prefixes.setdefault(uri, name)
    di, dc, wp = prefixes[layout.BPMNDI], prefixes[layout.DC], prefixes[layout.DI]

    pools = [(pid, pool) for pid, pool in diagram.pools.items() if pool[1] in diagram.processes]
    placed_all = Placed(0, 0)
    shapes_xml: list[str] = []
    x0: float
    y0: float
    x0, y0 = ORIGIN
    pooled = {pool[1]: pid for pid, pool in pools}
    for process in processes:
        lanes = [lane for lane in diagram.lanes.values() if lane.process == process]
        pool_name = diagram.pools[pooled[process]][0] if process in pooled else ""
        placed = layout_container(diagram, process, lanes, layout.text_width(pool_name) + 20)
        inset = (POOL_HEADER + (LANE_HEADER if lanes else 0)) if process in pooled else 0
        placed = placed.moved(x0 + inset, y0)
        if process in pooled:
            pool_w = placed.w + inset
            shapes_xml.append(_shape(di, dc, pooled[process], Box(x0, y0, pool_w, placed.h), ' isHorizontal="true"'))
            for lane in lanes:
                y, h = placed.lanes[lane.id]
                shapes_xml.append(
                    _shape(di, dc, lane.id, Box(x0 + POOL_HEADER, y, pool_w - POOL_HEADER, h), ' isHorizontal="true"')
                )
        placed_all.shapes.update(placed.shapes)
        placed_all.labels.update(placed.labels)
        placed_all.waypoints.update(placed.waypoints)
        y0 += placed.h + 40

    for node in diagram.nodes.values():
        if node.id not in placed_all.shapes:
            continue
        extra = ""
        if node.kind in layout.CONTAINERS:
            extra = ' isExpanded="true"'
        elif node.kind == "exclusiveGateway":
            extra = ' isMarkerVisible="true"'
        shapes_xml.append(_shape(di, dc, node.id, placed_all.shapes[node.id], extra, placed_all.labels.get(node.id)))
    edges_xml = [
        _edge(di, dc, wp, flow.id, placed_all.waypoints[flow.id], placed_all.labels.get(flow.id))
        for flow in diagram.flows.values()
        if flow.id in placed_all.waypoints
    ]

    match = _DIAGRAM.search(content)
    if match is not None:
        indent = match.group(1).decode()
        old = etree.fromstring(content).find(f".//{{{layout.BPMNDI}}}BPMNDiagram")
        diagram_id = old.get("id")
        plane = old.find(f"{{{layout.BPMNDI}}}BPMNPlane")
        plane_id, plane_ref = plane.get("id"), plane.get("bpmnElement")
    else:
        indent = "  "
        diagram_id, plane_id = f"diagram_{processes[0]}", f"plane_{processes[0]}"
        collaboration = root.find(f"{{{layout.BPMN}}}collaboration")
        plane_ref = collaboration.get("id") if collaboration is not None else processes[0]
    inner = indent + "    "
    body = "".join(_indented(part, inner) for part in shapes_xml + edges_xml)
    text = (
        f'{indent}<{di}:BPMNDiagram id="{diagram_id}"{declare}>\n'
        f'{indent}  <{di}:BPMNPlane id="{plane_id}" bpmnElement="{plane_ref}">\n'
        f"{body}"
        f"{indent}  </{di}:BPMNPlane>\n"
        f"{indent}</{di}:BPMNDiagram>"
    ).encode()
    if match is not None:
        return content[: match.start()] + text + content[match.end() :]
    close = content.rindex(b"</")
    return content[:close] + text[len(indent) :] + b"\n" + content[close:]


def _n(value: float) -> str:
    return str(int(round(value)))


def _bounds(dc: str, box: Box, label: bool = False) -> str:
    if label:  # a label's bounds hold its text: round outwards
        x, y = math.floor(box.x), math.floor(box.y)
        w, h = math.ceil(box.right) - x, math.ceil(box.bottom) - y
        return f'<{dc}:Bounds x="{x}" y="{y}" width="{w}" height="{h}" />'
    return f'<{dc}:Bounds x="{_n(box.x)}" y="{_n(box.y)}" width="{_n(box.w)}" height="{_n(box.h)}" />'


def _shape(di: str, dc: str, element: str, box: Box, extra: str = "", label: Box | None = None) -> str:
    lines = [f'<{di}:BPMNShape id="{element}_di" bpmnElement="{element}"{extra}>', f"  {_bounds(dc, box)}"]
    if label is not None:
        lines += [f"  <{di}:BPMNLabel>", f"    {_bounds(dc, label, True)}", f"  </{di}:BPMNLabel>"]
    return "\n".join(lines + [f"</{di}:BPMNShape>"])


def _edge(di: str, dc: str, wp: str, element: str, points: list[tuple[float, float]], label: Box | None) -> str:
    lines = [f'<{di}:BPMNEdge id="{element}_di" bpmnElement="{element}">']
    lines += [f'  <{wp}:waypoint x="{_n(x)}" y="{_n(y)}" />' for x, y in points]
    if label is not None:
        lines += [f"  <{di}:BPMNLabel>", f"    {_bounds(dc, label, True)}", f"  </{di}:BPMNLabel>"]
    return "\n".join(lines + [f"</{di}:BPMNEdge>"])


def _indented(block: str, indent: str) -> str:
    return "".join(f"{indent}{line}\n" for line in block.split("\n"))
