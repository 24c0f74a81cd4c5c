"""The yearly rules in the review process: business-rule tasks evaluate the decision tables in bpmn/
(the activity's settings as stricter inputs), a changed table deployed reaches new declarations
while running ones keep the tables they started with, and versions and diff show the tables."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from shared.config import bpmn_dir
from tests.integration.review_flow_helpers import (
    COMMITTEE,
    act,
    attend,
    instance_of,
    ok,
    open_stages,
    outbox,
    panel_of,
    process_data,
    review_db,
    start,
    through_departments,
    through_unit,
    vote_all,
)

PLAN = {"committee_acceptance": 5, "meeting": 20, "result_publicity": 5, "report": 5, "certificate": 10}


@pytest.fixture
def review(demo: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    return review_db(demo, monkeypatch)


def three_quarters(folder: Path) -> Path:
    """pass_threshold.dmn as README's "Changing a rule" edits it: three quarters of those present."""
    table = folder / "pass_threshold.dmn"
    text = table.read_text("utf-8")
    for old, new in (
        ("?[0] * 3 &gt;= ?[1] * 2", "?[0] * 4 &gt;= ?[1] * 3"),
        ("?[0] * 3 &lt; ?[1] * 2", "?[0] * 4 &lt; ?[1] * 3"),
        ("<text>[2, 3]</text>", "<text>[3, 4]</text>"),
    ):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    table.write_text(text, "utf-8")
    return table


def to_the_vote(client: Any, auth: Any, declaration_id: str, agreeing: int) -> None:
    """Through every check to the meeting, all three experts present, ``agreeing`` of them agree."""
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    panel = panel_of(client, auth, declaration_id)
    assert len(panel) == 3  # bpmn/panel_size.dmn: none set by the activity, 3
    attend(client, auth, declaration_id, panel)
    vote_all(client, auth, declaration_id, {e: "agree" if n < agreeing else "disagree" for n, e in enumerate(panel)})


def test_the_business_rule_tasks_decide_what_the_process_reads(review, clients, auth):
    data, _ = start(review)  # an activity that sets nothing: the tables decide
    declaration_id = data["declaration_id"]
    decided = process_data(review, declaration_id, "unit_check")
    assert (decided["service_levels"], decided["publicity_working_days"]) == (PLAN, 5)
    assert "quorum" not in decided and "panel_size" not in decided  # decided where the process needs them
    client = clients["review"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    decided = process_data(review, declaration_id, "record_attendance")
    assert (decided["panel_size"], decided["defence_levels"], decided["quorum"]) == (3, ["正高级"], [2, 3])
    assert len(panel_of(client, auth, declaration_id)) == 3
    # The process view shows the tasks that decided, and the tables for a dmn-js viewer.
    view = ok(client.get(f"/api/v1/processes/{declaration_id}/view", headers=auth("committee")))
    assert {
        "decide_service_levels",
        "decide_publicity_days",
        "decide_panel_size",
        "decide_defence_levels",
        "decide_quorum",
    } <= set(view["completed"])
    tables = {d["decision_id"]: d for d in view["decisions"]}
    assert tables["quorum"]["file_name"] == "quorum.dmn" and tables["quorum"]["dmn"] == (
        bpmn_dir() / "quorum.dmn"
    ).read_text("utf-8")


def test_an_activity_s_stricter_settings_are_the_tables_inputs_and_a_looser_one_gets_the_floor(review):
    stricter = {
        "publicity_working_days": 7,
        "vote_threshold_numerator": 3,
        "vote_threshold_denominator": 4,
        "defence_levels": ["副高级"],
        "service_levels": {"meeting": 15},
    }
    data, _ = start(review, level="副高级", panel_size=5, settings=stricter)
    decided = process_data(review, data["declaration_id"], "unit_check")
    assert (decided["publicity_working_days"], decided["service_levels"]) == (7, {**PLAN, "meeting": 15})
    assert decided["activity_pass_threshold"] == [3, 4] and decided["activity_panel_size"] == 5
    # A producer that sends a looser period (the declaration service refuses one) gets the regulation's.
    looser, _ = start(
        review, settings={"publicity_working_days": 3, "vote_threshold_numerator": 1, "vote_threshold_denominator": 2}
    )
    assert process_data(review, looser["declaration_id"], "unit_check")["publicity_working_days"] == 5


def test_a_changed_table_deployed_reaches_new_declarations_and_running_ones_keep_theirs(
    review, clients, auth, tmp_path
):
    from services.review.engine import definitions

    client = clients["review"]
    running, _ = start(review)  # on the version the demo deployed: two thirds agree
    old = instance_of(review, running["declaration_id"]).definition_id

    # The designer raises the pass threshold to three quarters in bpmn/ and deploys the folder.
    folder = tmp_path / "bpmn"
    shutil.copytree(bpmn_dir(), folder)
    three_quarters(folder)
    with review.uow() as uow:
        deployed = {d.process_id: (d, new) for d, new in definitions.deploy_directory(uow, folder)}
        uow.commit()
    version, new = deployed["social_review"]
    # The table is the expert review's (the process the committee review calls): a new version of both.
    expert_review, new_called = deployed["expert_review"]
    assert new and new_called and version.id != old and expert_review.id in version.calls
    assert "<text>[3, 4]</text>" in expert_review.decisions["pass_threshold"]["dmn"]
    assert not deployed["independent_appointment"][1]  # it uses no threshold
    newer, _ = start(review)
    assert instance_of(review, newer["declaration_id"]).definition_id == version.id

    # Two of three agree on both: 2 × 3 >= 3 × 2 passes under the old table, 2 × 4 < 3 × 3 fails under the new.
    to_the_vote(client, auth, running["declaration_id"], agreeing=2)
    to_the_vote(client, auth, newer["declaration_id"], agreeing=2)
    assert [s for s, _ in open_stages(review, running["declaration_id"])] == ["result_publicity"]
    assert open_stages(review, newer["declaration_id"]) == []  # not passed: re-examination (复查) is offered
    assert len(outbox(review, "review.re_examination.opened.v1", newer["declaration_id"])) == 1
    assert instance_of(review, running["declaration_id"]).definition_id == old

    # Versions list the tables each bundles; the diff names the rules that changed.
    staff = auth("committee")
    listed = {v["id"]: v for v in ok(client.get("/api/v1/definitions/versions", headers=staff))}
    assert [d.split(" ")[0] for d in listed[expert_review.id]["decisions"]] == [
        "defence_levels",
        "panel_size",
        "pass_threshold",
        "quorum",
    ]
    old_called = next(v for v in listed.values() if v["process_id"] == "expert_review" and v["id"] != expert_review.id)
    assert old_called["decisions"] != listed[expert_review.id]["decisions"]
    diff = ok(client.get("/api/v1/definitions/diff", headers=staff, query_string={"from": old, "to": version.id}))
    assert diff["added"] == [] and diff["removed"] == []
    assert sorted((c["id"], c["decision"], c["row"]) for c in diff["changed"]) == [
        ("rule_activity", "pass_threshold", 1),
        ("rule_floor", "pass_threshold", 2),
    ]
    floor = next(c for c in diff["changed"] if c["id"] == "rule_floor")
    assert (floor["from"]["outputs"], floor["to"]["outputs"]) == (["[2, 3]"], ["[3, 4]"])


def test_a_level_the_table_now_defends_gets_a_defence_in_new_declarations(review, clients, auth, tmp_path):
    from services.review.engine import definitions

    folder = tmp_path / "bpmn"
    shutil.copytree(bpmn_dir(), folder)
    table = folder / "defence_levels.dmn"
    text = table.read_text("utf-8")
    assert text.count('<text>"副高级" in ?</text>') == 1
    table.write_text(text.replace('<text>"副高级" in ?</text>', "<text>-</text>"), "utf-8")
    with review.uow() as uow:
        definitions.deploy_directory(uow, folder)
        uow.commit()
    data, _ = start(review, level="副高级")  # the activity asks no defence
    declaration_id = data["declaration_id"]
    client = clients["review"]
    through_unit(client, auth, declaration_id)
    through_departments(client, auth, declaration_id)
    act(client, auth, "committee", declaration_id, "committee_acceptance")
    assert open_stages(review, declaration_id) == [("schedule_defence", COMMITTEE)]
