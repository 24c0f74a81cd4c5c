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
def test_the_layouter_redraws_the_diagram_so_that_it_reads_well(path):
    content = path.read_bytes()
    relaid = layout_auto.relaid(path.name, content)
    assert layout.problems(path.name, relaid) == []
    assert layout_auto.relaid(path.name, relaid) == relaid


def shrunk(text: str, element: str) -> str:
    """``text`` with the shape of ``element`` made too small for its name."""
    shape = text.index(f'bpmnElement="{element}"')
    start = text.index("<dc:Bounds", shape)
    return text[:start] + '<dc:Bounds x="0" y="0" width="30" height="20" />' + text[text.index("/>", start) + 2 :]


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
    assert bad.read_bytes() == before  # --check writes nothing


def test_layout_redraws_the_file(tmp_path):
    original = (BPMN / "return_and_resubmit.bpmn").read_bytes()
    edited = tmp_path / "return_and_resubmit.bpmn"
    edited.write_text(shrunk(original.decode(), "check_modification_deadline"))
    assert bpmn_cli.main(["layout", str(edited)]) == 0
    assert layout.problems(edited.name, edited.read_bytes()) == []
    assert edited.read_bytes() == layout_auto.relaid(edited.name, original)


def test_layout_names_a_file_it_cannot_read_or_draw(tmp_path, capsys):
    broken = tmp_path / "broken.bpmn"
    broken.write_text("<bpmn:definitions")
    table = tmp_path / "quorum.dmn"
    table.write_bytes((BPMN / "quorum.dmn").read_bytes())
    assert bpmn_cli.main(["layout", str(broken), str(table), str(tmp_path / "missing.bpmn")]) == 1
    out = capsys.readouterr().out
    assert f"{broken}: -: drawable: not well-formed XML" in out
    assert f"{table}: -: drawable: no process" in out
    assert f"{tmp_path / 'missing.bpmn'}: -: readable:" in out
    assert bpmn_cli.main(["layout", "--check", str(broken)]) == 1
    assert f"{broken}: -: drawable: not well-formed XML" in capsys.readouterr().out
