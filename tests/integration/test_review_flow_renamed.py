"""Renaming every element id is safe: the code finds tasks by their stage and action, lanes' roles by
the lane's id and outcomes by the end event's outcome property (README, "Diagram contract"). A copy
of bpmn/ whose user tasks and end events all have random ids deploys and runs a declaration to
its certificate, and the independent review's own-staff check still turns an outsider away."""

from __future__ import annotations

import re
import secrets
import shutil
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.integration import test_review_flow_social as social_flow
from tests.integration.review_flow_helpers import (
    add_experts,
    headers_for,
    instance_of,
    register,
    review_db,
    tasks_of,
    through_departments,
    through_unit,
)
from tests.integration.test_review import UNIT
from tests.integration.test_review_flow_modes import OTHER_UNIT, OWN_COMMITTEE, independent

NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
# Where a diagram names a flow node by its id.
REFERENCES = ("id", "sourceRef", "targetRef", "bpmnElement", "attachedToRef")


def renamed(text: str) -> tuple[str, dict[str, str]]:
    """The diagram with every user task's and end event's id replaced by a random one, and every
    reference to it (flows, lanes, the DI, boundary events); returns it and old -> new."""
    root = etree.fromstring(text.encode("utf-8"))
    ids = [e.get("id") for tag in ("userTask", "endEvent") for e in root.iterfind(f".//bpmn:{tag}", NS)]
    names = {old: f"n{secrets.token_hex(6)}" for old in ids}
    for old, new in names.items():
        text = re.sub(rf'\b({"|".join(REFERENCES)})="{re.escape(old)}"', rf'\1="{new}"', text)
        text = text.replace(
            f"<bpmn:flowNodeRef>{old}</bpmn:flowNodeRef>", f"<bpmn:flowNodeRef>{new}</bpmn:flowNodeRef>"
        )
    return text, names


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """The demo's review with a renamed copy of every diagram of bpmn/ deployed last (so in use)."""
    from services.review.engine import definitions

    db = review_db(demo, monkeypatch)
    renames: dict[str, dict[str, str]] = {}
    for path in sorted(definitions.bpmn_dir().iterdir()):
        if path.suffix == ".bpmn":
            text, renames[path.name] = renamed(path.read_text("utf-8"))
            (tmp_path / path.name).write_text(text, "utf-8")
        elif path.suffix == ".dmn":
            shutil.copy(path, tmp_path / path.name)
    with db.uow() as uow:
        deployed = definitions.deploy_directory(uow, tmp_path)
        uow.commit()
    # a new version of every mode (each calling the renamed processes it calls)
    assert {d.process_id for d, new in deployed if new} >= set(definitions.PROCESS_OF_MODE.values())
    db.renames = renames
    return db


def test_a_declaration_runs_to_its_certificate_on_diagrams_whose_ids_are_all_renamed(review, clients, auth):
    # The social review end to end (publicity, departments, panel, attendance, votes, tally, filing,
    # certified), as tests/integration/test_review_flow_social.py drives it on bpmn/.
    social_flow.test_the_whole_social_review_ends_certified(review, clients, auth)
    [declaration_id] = {t.declaration_id for t in tasks_of_all(review)}
    # It ran on the renamed copy: no task bears an id of bpmn/, each its stage and its lane's role.
    rows = tasks_of(review, declaration_id)
    renamed_ids = {new for renames in review.renames.values() for new in renames.values()}
    assert {t.bpmn_id for t in rows} <= renamed_ids  # the mode's and its called processes' (department chain, ...)
    assert {(t.stage, t.role) for t in rows} >= {
        ("unit_check", "unit"),
        ("department_check", "department"),
        ("committee_acceptance", "committee"),
        ("expert_vote", "expert"),
        ("title_office_filing", "title_office"),
    }


def test_the_own_staff_check_still_turns_an_outsider_away_on_renamed_diagrams(review, clients, auth):
    client = clients["review"]
    register(review, OWN_COMMITTEE, "committee", UNIT, "天津市示范科技有限公司工程技术职称评审委员会")
    register(review, OTHER_UNIT, "unit", "111201010000123459", "另一家单位")
    add_experts(review, 3, committee=OWN_COMMITTEE)
    data = independent(review, unit_code=OTHER_UNIT)
    declaration_id = data["declaration_id"]
    assert instance_of(review, declaration_id).process_id == "social_review"  # both review modes
    through_unit(client, auth, declaration_id, headers_for("u-other", "unit", OTHER_UNIT))
    through_departments(client, auth, declaration_id)
    # The drawn check (核对本单位人员) ends it on the renamed not_accepted end, read by its outcome property.
    found = instance_of(review, declaration_id)
    assert (found.status, found.outcome) == ("completed", "not_accepted")
    assert [t for t in tasks_of(review, declaration_id) if t.stage == "committee_acceptance"] == []


def tasks_of_all(db: Any) -> list[Any]:
    from sqlalchemy import select

    from services.review.models import Task

    with db.uow(readonly=True) as uow:
        return list(uow.session.scalars(select(Task)))
