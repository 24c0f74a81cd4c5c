"""The evaluation-mode diagrams and the return-and-resubmit process they call, as modelers save
them: every element laid out (DI), deployable, still deployable and runnable (a return through the
called process included) after bpmn.io's own serializer (bpmn-moddle) re-saved them, and clean
under bpmnlint."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.integration.review_flow_helpers import (
    UNIT,
    act,
    instance_of,
    open_stages,
    outcome_of,
    resubmit,
    review_db,
    start,
    withdraw,
)

ROOT = Path(__file__).resolve().parents[2]
DIAGRAMS = sorted((ROOT / "bpmn").glob("*.bpmn"))
NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
# What bpmn.io draws as a shape or an edge.
SHAPED = (
    "startEvent",
    "endEvent",
    "intermediateThrowEvent",
    "intermediateCatchEvent",
    "boundaryEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "task",
    "subProcess",
    "callActivity",
    "businessRuleTask",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "lane",
    "participant",
    "dataObjectReference",
)
NODE_MODULES = ROOT / "node_modules"
# bpmn.io saves with bpmn-moddle: parse, then write back (what bpmn-js's saveXML does).
RESAVE = """
import { readFileSync } from 'node:fs';
import { BpmnModdle } from 'bpmn-moddle';
const moddle = new BpmnModdle();
const { rootElement, warnings } = await moddle.fromXML(readFileSync(process.argv[1], 'utf8'));
if (warnings.length) { console.error(warnings.map(w => w.message).join('\\n')); process.exit(3); }
const { xml } = await moddle.toXML(rootElement, { format: true });
process.stdout.write(xml);
"""


def node_tool(package: str) -> None:
    if shutil.which("node") is None or shutil.which("npx") is None:
        pytest.skip("node/npx is not installed")
    if not (NODE_MODULES / package).is_dir():
        pytest.skip(f"node_modules/{package} is missing (npm ci installs it from package-lock.json)")


@pytest.mark.parametrize("path", DIAGRAMS, ids=[p.stem for p in DIAGRAMS])
def test_every_element_is_laid_out_and_the_diagram_deploys(path, dbs):
    from services.review.engine import definitions

    root = etree.fromstring(path.read_bytes())
    shapes = {s.get("bpmnElement"): s for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement"): e for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    elements = [e.get("id") for kind in SHAPED for e in root.iterfind(f".//bpmn:{kind}", NS)]
    flows = [f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", NS)]
    assert elements and flows
    assert [e for e in elements if e not in shapes] == []
    assert [f for f in flows if f not in edges] == []
    assert all(s.find("dc:Bounds", NS) is not None for s in shapes.values())
    assert all(len(e.findall("di:waypoint", NS)) >= 2 for e in edges.values())
    # Every shape is named but a gateway that only merges flows (several in, one out).
    unnamed = [
        e.get("id")
        for kind in SHAPED
        if kind not in ("lane", "participant", "dataObjectReference")
        for e in root.iterfind(f".//bpmn:{kind}", NS)
        if not (e.get("name") or "").strip()
        and not (
            kind.endswith("Gateway")
            and len(e.findall("bpmn:outgoing", NS)) == 1
            and len(e.findall("bpmn:incoming", NS)) > 1
        )
    ]
    assert unnamed == []
    with dbs["review"].uow() as uow:
        definition, _ = definitions.deploy(uow, path.name, path.read_bytes())
        uow.commit()
    assert definition.process_id == path.stem


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def resaved_by_bpmn_io(path: Path) -> bytes:
    saved = subprocess.run(
        ["node", "--input-type=module", "-e", RESAVE, str(path)], cwd=ROOT, capture_output=True, timeout=60
    )
    assert saved.returncode == 0, saved.stderr.decode()
    assert b"<bpmndi:BPMNDiagram" in saved.stdout
    return saved.stdout


def test_a_diagram_resaved_by_bpmn_io_deploys_and_runs(review, clients, auth):
    from services.review.engine import definitions

    node_tool("bpmn-moddle")
    original = ROOT / "bpmn" / "social_review.bpmn"
    resaved = resaved_by_bpmn_io(original)
    assert resaved != original.read_bytes()
    # bpmn.io leaves out attributes at their default, e.g. the withdrawal's cancelActivity="true", and keeps the
    # rest: the service levels' non-interrupting timers and the timers' expressions.
    assert b'cancelActivity="true"' in original.read_bytes() and b'cancelActivity="true"' not in resaved
    assert resaved.count(b'cancelActivity="false"') == original.read_bytes().count(b'cancelActivity="false"') == 4
    assert b'<bpmn:timeDate>unit_publicity_period["due_at"]</bpmn:timeDate>' in resaved
    # The process it calls, re-saved too (bpmn-moddle writes it back as it is) and given alongside.
    called = resaved_by_bpmn_io(ROOT / "bpmn" / "return_and_resubmit.bpmn")
    assert b'calledElement="return_and_resubmit"' in resaved
    with review.uow() as uow:
        definition, new = definitions.deploy(
            uow, "social_review.bpmn", resaved, definitions.lookup(files={"return_and_resubmit.bpmn": called}, uow=uow)
        )
        uow.commit()
        assert [
            d.bpmn.encode("utf-8")
            for d in definitions.called_versions(uow, definition)
            if d.process_id == "return_and_resubmit"
        ] == [called]
    assert new
    data, _ = start(review)
    declaration_id = data["declaration_id"]
    assert instance_of(review, declaration_id).definition_id == definition.id
    assert open_stages(review, declaration_id) == [("unit_check", UNIT)]
    # A return runs the re-saved called process; the resubmission comes back to the unit.
    act(clients["review"], auth, "unit", declaration_id, "unit_check", "return", "请补充")
    assert open_stages(review, declaration_id) == []
    resubmit(review, data)
    assert open_stages(review, declaration_id) == [("unit_check", UNIT)]
    # The interrupting boundary event still interrupts: a withdrawal at the unit ends it there.
    withdraw(review, declaration_id)
    assert outcome_of(review, declaration_id) == ("completed", "withdrawn")


def test_bpmnlint_reports_no_problem_on_the_diagrams():
    node_tool("bpmnlint")
    result = subprocess.run(
        ["npx", "--no-install", "bpmnlint", *[str(p.relative_to(ROOT)) for p in DIAGRAMS]],
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert result.returncode == 0, (result.stdout + result.stderr).decode()
