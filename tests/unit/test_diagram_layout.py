"""Every diagram in bpmn/ reads well (services/review/engine/layout.py says what that means): no
later edit can bring back a flow drawn through a shape, a label over another or a name too big
for its box. After editing a diagram: ``titles-bpmn layout bpmn/FILE.bpmn`` draws it again."""
from __future__ import annotations

from pathlib import Path

import pytest

from services.review import bpmn_cli
from services.review.engine import layout, layout_auto

BPMN = Path(__file__).resolve().parents[2] / "bpmn"
DIAGRAMS = sorted(BPMN.glob("*.bpmn"))


def test_there_are_diagrams():
    assert len(DIAGRAMS) >= 4


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_the_diagram_reads_well(path):
    assert [str(p) for p in layout.problems(path.name, path.read_bytes())] == []


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda p: p.name)
def test_the_diagram_is_as_the_layouter_draws_it(path):
    # the committed drawing is the layouter's: re-running it changes nothing
    assert layout_auto.relaid(path.name, path.read_bytes()) == path.read_bytes()


def shrunk(text: str, element: str) -> str:
    """``text`` with the shape of ``element`` made too small for its name."""
    shape = text.index(f'bpmnElement="{element}"')
    start = text.index("<dc:Bounds", shape)
    return text[:start] + '<dc:Bounds x="0" y="0" width="30" height="20" />' + text[text.index("/>", start) + 2:]


def test_layout_check_names_the_problems_and_fails(tmp_path, capsys):
    good = tmp_path / "good.bpmn"
    good.write_bytes((BPMN / "return_and_resubmit.bpmn").read_bytes())
    assert bpmn_cli.main(["layout", "--check", str(good)]) == 0
    bad = tmp_path / "bad.bpmn"
    bad.write_text(shrunk(good.read_text(), "check_modification_deadline"))
    before = bad.read_bytes()
    capsys.readouterr()
    assert bpmn_cli.main(["layout", "--check", str(bad)]) == 1
    assert f"{bad}: check_modification_deadline: name_fits:" in capsys.readouterr().out
    assert bad.read_bytes() == before          # --check writes nothing


def test_layout_redraws_the_file(tmp_path):
    original = (BPMN / "return_and_resubmit.bpmn").read_bytes()
    edited = tmp_path / "return_and_resubmit.bpmn"
    edited.write_text(shrunk(original.decode(), "check_modification_deadline"))
    assert bpmn_cli.main(["layout", str(edited)]) == 0
    assert edited.read_bytes() == original
