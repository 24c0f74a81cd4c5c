"""``titles-bpmn``: validate, deploy, versions, diff and migrate, as a designer runs them."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from services.review import bpmn_cli

SOCIAL_REVIEW = Path(__file__).resolve().parents[2] / "bpmn" / "social_review.bpmn"
UNIT = "91120101MA05K1XT13"

# unit check -> a script -> wait for the certificate -> a quoted timer -> end.
SMALL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_cli_test" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="msg_issued" name="certificate.issued" />
  <bpmn:process id="cli_test" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_unit" name="unit"><bpmn:flowNodeRef>unit_check</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="unit_check" name="Unit check">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="unit_code" />
        <spiffworkflow:property name="decisions" value="approve" />
        <spiffworkflow:property name="stage" value="unit_check" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:scriptTask id="score" name="Score">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>score = 1</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:intermediateCatchEvent id="issued" name="Certificate issued">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:messageEventDefinition id="issued_def" messageRef="msg_issued" />
    </bpmn:intermediateCatchEvent>
    <bpmn:intermediateCatchEvent id="cooling_off" name="Cooling off">
      <bpmn:incoming>f4</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
      <bpmn:timerEventDefinition id="cooling_off_timer">
        <bpmn:timeDuration>"P5D"</bpmn:timeDuration>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done" name="Done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="unit_check" />
    <bpmn:sequenceFlow id="f2" sourceRef="unit_check" targetRef="score" />
    <bpmn:sequenceFlow id="f3" sourceRef="score" targetRef="issued" />
    <bpmn:sequenceFlow id="f4" sourceRef="issued" targetRef="cooling_off" />
    <bpmn:sequenceFlow id="f5" sourceRef="cooling_off" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def edited(old: str, new: str, text: str = SMALL) -> str:
    assert text.count(old) >= 1, old
    return text.replace(old, new)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return str(path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = bpmn_cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# -- validate -------------------------------------------------------------------------------


def test_validate_accepts_the_shipped_diagrams(capsys):
    files = [str(SOCIAL_REVIEW)] + [str(p) for p in sorted(SOCIAL_REVIEW.parent.glob("*.bpmn")) if p != SOCIAL_REVIEW]
    code, out, _ = run(capsys, "validate", *files)
    assert code == 0, out
    assert (
        f"{SOCIAL_REVIEW}: ok (social_review) calls return_and_resubmit (return_and_resubmit.bpmn), "
        f"department_chain (department_chain.bpmn), expert_review (expert_review.bpmn), re_examination "
        f"(re_examination.bpmn) decides "
        f"publicity_days (publicity_days.dmn), service_levels (service_levels.dmn)" in out.splitlines()
    )
    assert (
        f"{SOCIAL_REVIEW.parent / 'expert_review.bpmn'}: ok (expert_review) decides defence_levels "
        f"(defence_levels.dmn), panel_size (panel_size.dmn), pass_threshold (pass_threshold.dmn), quorum "
        f"(quorum.dmn)" in out.splitlines()
    )
    assert f"{SOCIAL_REVIEW.parent / 'return_and_resubmit.bpmn'}: ok (return_and_resubmit)" in out.splitlines()
    assert (
        f"{SOCIAL_REVIEW.parent / 're_examination.bpmn'}: ok (re_examination) decides re_examination_period "
        f"(re_examination_period.dmn)" in out.splitlines()
    )
    assert len(out.splitlines()) == len(files)


def test_validate_accepts_the_small_diagram(tmp_path, capsys):
    path = write(tmp_path, "cli_test.bpmn", SMALL)
    assert run(capsys, "validate", path) == (0, f"{path}: ok (cli_test)\n", "")


@pytest.mark.parametrize(
    "old, new, element, rule, words",
    [
        (
            '<bpmn:timeDuration>"P5D"</bpmn:timeDuration>',
            "<bpmn:timeDuration>PT5D</bpmn:timeDuration>",
            "cooling_off",
            "timer_expression",
            "'PT5D'",
        ),
        (
            '<bpmn:timeDuration>"P5D"</bpmn:timeDuration>',
            '<bpmn:timeDuration>"PT5D"</bpmn:timeDuration>',
            "cooling_off",
            "timer_expression",
            "not an ISO 8601",
        ),  # quoted, but the engine could not read it
        (
            '<bpmn:timeDuration>"P5D"</bpmn:timeDuration>',
            '<bpmn:timeDate>"P5D"</bpmn:timeDate>',
            "cooling_off",
            "timer_expression",
            "not an ISO 8601 date and time",
        ),  # a duration where a date is due
        (
            '<bpmn:timeDuration>"P5D"</bpmn:timeDuration>',
            "<bpmn:timeDate>end_of_day(cooling_ends_on)</bpmn:timeDate>",
            "cooling_off",
            "timer_data",
            "'cooling_ends_on'",
        ),  # nothing sets it: the date cannot be computed
        (
            '<bpmn:timeDuration>"P5D"</bpmn:timeDuration>',
            "<bpmn:timeDate>end_of_day(score +)</bpmn:timeDate>",
            "cooling_off",
            "timer_expression",
            "Python expression",
        ),
        (
            '<bpmn:lane id="lane_unit" name="unit">',
            '<bpmn:lane id="lane_janitor" name="unit">',
            "lane_janitor",
            "known_role",
            "'lane_janitor'",
        ),
        (
            '<bpmn:message id="msg_issued" name="certificate.issued" />',
            '<bpmn:message id="msg_issued" name="certificate.printed" />',
            "issued",
            "known_message",
            "'certificate.printed'",
        ),
        (
            "<bpmn:script>score = 1</bpmn:script>",
            "<bpmn:script>import os\nscore = 1</bpmn:script>",
            "score",
            "simple_script",
            "Import",
        ),
        (
            "<bpmn:script>score = 1</bpmn:script>",
            "<bpmn:script>score = __import__('os').getpid()</bpmn:script>",
            "score",
            "simple_script",
            "__import__",
        ),
    ],
)
def test_validate_rejects_naming_the_file_the_element_and_the_rule(tmp_path, capsys, old, new, element, rule, words):
    path = write(tmp_path, "broken.bpmn", edited(old, new))
    code, out, _ = run(capsys, "validate", path)
    assert code == 1
    line = out.splitlines()[0]  # the first problem (a lane's tasks are then in no role's lane too)
    assert line.startswith(f"{path}: {element}: {rule}: "), line
    assert words in line


def test_validate_reports_every_file_and_every_problem(tmp_path, capsys):
    good = write(tmp_path, "good.bpmn", SMALL)
    bare_timer = edited('<bpmn:timeDuration>"P5D"</bpmn:timeDuration>', "<bpmn:timeDuration>P5D</bpmn:timeDuration>")
    both = edited('<bpmn:lane id="lane_unit" name="unit">', '<bpmn:lane id="lane_janitor" name="unit">', bare_timer)
    bad = write(tmp_path, "bad.bpmn", both)
    missing = str(tmp_path / "missing.bpmn")
    code, out, _ = run(capsys, "validate", good, bad, missing)
    assert code == 1
    lines = out.splitlines()
    assert lines[0] == f"{good}: ok (cli_test)"
    assert [line.split(": ")[1:3] for line in lines[1:4]] == [
        ["lane_janitor", "known_role"],
        ["unit_check", "task_lane"],
        ["cooling_off", "timer_expression"],
    ]
    assert lines[4].startswith(f"{missing}: -: readable:")


# -- deploy, versions, diff, migrate -----------------------------------------------------------


@pytest.fixture
def db(dbs: dict[str, Any]) -> Any:
    return dbs["review"]  # the command reads the same REVIEW_DATABASE_URL


def deployed(db: Any) -> list[tuple[str, str]]:
    from services.review.models import Definition

    with db.uow(readonly=True) as uow:
        return [(d.process_id, d.id) for d in uow.session.scalars(select(Definition).order_by(Definition.deployed_at))]


def start(db: Any, definition_id: str) -> str:
    from services.review.engine import runtime
    from services.review.models import Definition

    declaration_id = str(uuid.uuid4())
    with db.uow() as uow:
        runtime.start(
            uow,
            uow.session.get(Definition, definition_id),
            declaration_id,
            "applicant",
            {"unit_code": UNIT, "declaration_id": declaration_id},
        )
        uow.commit()
    return declaration_id


def running_on(db: Any, declaration_id: str) -> str:
    from services.review.models import Instance

    with db.uow(readonly=True) as uow:
        return uow.session.scalar(select(Instance.definition_id).where(Instance.declaration_id == declaration_id))


# v2: the unit check becomes a unit review (another element id), the score changes, a task is renamed.
V2 = (
    SMALL.replace("unit_check", "unit_review")
    .replace(
        '<spiffworkflow:property name="stage" value="unit_review" />',
        '<spiffworkflow:property name="stage" value="unit_check" />',
    )
    .replace("score = 1", "score = 2")
    .replace('name="Cooling off"', 'name="Objection period"')
)


def test_deploy_versions_diff_and_a_refused_migration(db, tmp_path, capsys):
    from services.review.engine import definitions

    v1_path = write(tmp_path, "cli_test.bpmn", SMALL)
    code, out, _ = run(capsys, "deploy", v1_path)
    v1 = definitions.content_hash(SMALL.encode("utf-8"))
    assert (code, out.splitlines()) == (0, [f"{v1_path}: ok (cli_test)", f"deployed {v1_path} cli_test {v1[:12]}"])
    code, out, _ = run(capsys, "deploy", v1_path)
    assert (code, out.splitlines()[-1]) == (0, f"unchanged {v1_path} cli_test {v1[:12]}")
    # An invalid diagram is reported and nothing is stored.
    bad = write(tmp_path, "bad.bpmn", edited('id="lane_unit"', 'id="lane_janitor"'))
    code, out, _ = run(capsys, "deploy", bad)
    assert code == 1 and "lane_janitor: known_role" in out
    assert deployed(db) == [("cli_test", v1)]

    declaration_id = start(db, v1)
    (tmp_path / "v2").mkdir()
    v2_path = write(tmp_path / "v2", "cli_test.bpmn", V2)
    assert run(capsys, "deploy", v2_path)[0] == 0
    v2 = definitions.content_hash(V2.encode("utf-8"))
    assert deployed(db) == [("cli_test", v1), ("cli_test", v2)]

    code, out, _ = run(capsys, "versions")
    assert code == 0
    lines = [line.split() for line in out.splitlines()]
    assert [(line[0], line[1], line[-1]) for line in lines] == [
        ("cli_test@1", v1[:12], "1"),
        ("cli_test@2", v2[:12], "0"),
    ]

    code, out, _ = run(capsys, "diff", "cli_test@1", v2[:8])
    assert code == 0
    lines = out.splitlines()
    assert "+ unit_review (userTask) Unit check" in lines
    assert "- unit_check (userTask) Unit check" in lines
    assert "~ score (scriptTask) content" in lines
    assert "~ cooling_off (intermediateCatchEvent) name" in lines
    assert {line.split()[1] for line in lines if line.startswith("~")} == {
        "score",
        "cooling_off",
        "f1",
        "f2",
        "lane_unit",
    }
    assert run(capsys, "diff", "cli_test@1", "cli_test@1")[1] == "no change to the process (layout aside)\n"
    code, _, err = run(capsys, "diff", "cli_test@1", "cli_test@9")
    assert code == 2 and "no version cli_test@9" in err

    # The running task on unit_check would be lost on v2: refused, with the reason, and nothing moves.
    code, out, err = run(capsys, "migrate", declaration_id, "cli_test@2")
    assert code == 2 and out == ""
    assert "no_lost_tasks" in err and "running task on element 'unit_check' would be lost" in err
    assert running_on(db, declaration_id) == v1
    code, _, err = run(capsys, "migrate", declaration_id, "cli_test@1")
    assert code == 2 and "already runs on that version" in err
    code, _, err = run(capsys, "migrate", "no-such-instance", "cli_test@2")
    assert code == 2 and "no review process no-such-instance" in err


def test_migrate_moves_an_instance_whose_running_task_survives(db, tmp_path, capsys):
    from services.review.engine import definitions

    v1_path = write(tmp_path, "cli_test.bpmn", SMALL)
    assert run(capsys, "deploy", v1_path)[0] == 0
    declaration_id = start(db, definitions.content_hash(SMALL.encode("utf-8")))
    v2_text = SMALL.replace("score = 1", "score = 2")
    (tmp_path / "v2").mkdir()
    assert run(capsys, "deploy", write(tmp_path / "v2", "cli_test.bpmn", v2_text))[0] == 0
    v2 = definitions.content_hash(v2_text.encode("utf-8"))
    code, out, _ = run(capsys, "migrate", declaration_id, "cli_test@2")
    assert code == 0 and out.startswith("migrated ") and f"to {v2[:12]}" in out
    assert running_on(db, declaration_id) == v2
    code, out, _ = run(capsys, "versions")
    assert [line.split()[-1] for line in out.splitlines()] == ["0", "1"]


# -- called processes --------------------------------------------------------------------------

# waits inside the called process for a resubmission, then the unit checks (what the modes do, small).
CALLER = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_cli_caller" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="cli_caller" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_unit" name="unit"><bpmn:flowNodeRef>unit_check</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start" name="Start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="revise" name="Revise" calledElement="cli_called">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:userTask id="unit_check" name="Unit check">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="unit_code" />
        <spiffworkflow:property name="decisions" value="approve" />
        <spiffworkflow:property name="stage" value="unit_check" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="done" name="Done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="revise" />
    <bpmn:sequenceFlow id="f2" sourceRef="revise" targetRef="unit_check" />
    <bpmn:sequenceFlow id="f3" sourceRef="unit_check" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""
CALLED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_cli_called" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="msg_resubmitted" name="declaration.resubmitted" />
  <bpmn:process id="cli_called" isExecutable="true">
    <bpmn:startEvent id="called_start" name="Returned"><bpmn:outgoing>g1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="resubmitted" name="Resubmitted">
      <bpmn:incoming>g1</bpmn:incoming><bpmn:outgoing>g2</bpmn:outgoing>
      <bpmn:messageEventDefinition id="resubmitted_def" messageRef="msg_resubmitted">
        <bpmn:extensionElements><spiffworkflow:messageVariable>resubmission</spiffworkflow:messageVariable>
        </bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="take" name="Take it">
      <bpmn:incoming>g2</bpmn:incoming><bpmn:outgoing>g3</bpmn:outgoing>
      <bpmn:script>revision_outcome = "resubmitted"</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:endEvent id="called_done" name="Taken"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>g3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="g1" sourceRef="called_start" targetRef="resubmitted" />
    <bpmn:sequenceFlow id="g2" sourceRef="resubmitted" targetRef="take" />
    <bpmn:sequenceFlow id="g3" sourceRef="take" targetRef="called_done" />
  </bpmn:process>
</bpmn:definitions>
"""
# v2 of the called process: the catch event gets another id, the script another value.
CALLED_V2 = (
    CALLED.replace('"resubmitted"', '"amended"')
    .replace("resubmitted_def", "amended_def")
    .replace('revision_outcome = "amended"', 'revision_outcome = "resubmitted, v2"')
    .replace('sourceRef="resubmitted"', 'sourceRef="amended"')
    .replace('targetRef="resubmitted"', 'targetRef="amended"')
)


def test_validate_rejects_a_call_nothing_defines_naming_the_element_and_the_rule(tmp_path, capsys):
    caller = write(tmp_path, "cli_caller.bpmn", CALLER)
    code, out, _ = run(capsys, "validate", caller)
    assert code == 1
    line = out.splitlines()[0]  # the first problem (a lane's tasks are then in no role's lane too)
    assert line.startswith(f"{caller}: revise: known_called_process: calls process 'cli_called'"), line


def test_validate_finds_the_called_process_given_alongside_or_beside_the_caller(tmp_path, capsys):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    caller = write(tmp_path / "a", "cli_caller.bpmn", CALLER)
    called = write(tmp_path / "b", "cli_called.bpmn", CALLED)
    code, out, _ = run(capsys, "validate", caller, called)
    assert (code, out.splitlines()) == (
        0,
        [f"{caller}: ok (cli_caller) calls cli_called (cli_called.bpmn)", f"{called}: ok (cli_called)"],
    )
    beside = write(tmp_path / "a", "cli_called.bpmn", CALLED)
    code, out, _ = run(capsys, "validate", caller)
    assert (code, out) == (0, f"{caller}: ok (cli_caller) calls cli_called (cli_called.bpmn)\n")
    # A broken called process is reported on the caller's call activity, naming the called file.
    Path(beside).write_text(CALLED.replace('messageRef="msg_resubmitted"', 'messageRef="msg_x"'), "utf-8")
    code, out, _ = run(capsys, "validate", caller)
    assert code == 1 and out.startswith(
        f"{caller}: revise: valid_called_process: calls 'cli_called' from cli_called.bpmn, which is invalid"
    )


def test_deploy_bundles_the_called_process_diff_looks_inside_and_migrate_refuses_lost_tasks(db, tmp_path, capsys):
    from services.review.engine import definitions

    caller = write(tmp_path, "cli_caller.bpmn", CALLER)
    write(tmp_path, "cli_called.bpmn", CALLED)  # found beside the caller
    code, out, _ = run(capsys, "deploy", caller)  # the called process is found beside it
    called_v1 = definitions.content_hash(CALLED.encode("utf-8"))
    assert code == 0, out
    [deployed_line] = [line for line in out.splitlines() if line.startswith("deployed")]
    assert deployed_line.endswith(f" calls cli_called {called_v1[:12]}")
    [(_, caller_v1)] = [(p, i) for p, i in deployed(db) if p == "cli_caller"]
    assert deployed(db) == [("cli_called", called_v1), ("cli_caller", caller_v1)]
    declaration_id = start(db, caller_v1)  # waits inside the called process

    (tmp_path / "v2").mkdir()
    called_v2_path = write(tmp_path / "v2", "cli_called.bpmn", CALLED_V2)
    code, out, _ = run(capsys, "deploy", caller, called_v2_path)  # given alongside: wins over the folder
    assert code == 0, out
    caller_v2 = next(i for p, i in deployed(db)[2:] if p == "cli_caller")
    assert caller_v2 != caller_v1 and running_on(db, declaration_id) == caller_v1

    code, out, _ = run(capsys, "versions")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["cli_called@1", "cli_caller@1", "cli_called@2", "cli_caller@2"]
    assert "calls: cli_called@1" in lines[1] and "calls: cli_called@2" in lines[3]
    assert [line.split()[-1] for line in lines] == ["0", "1", "0", "0"]

    code, out, _ = run(capsys, "diff", "cli_caller@1", "cli_caller@2")
    assert code == 0
    lines = out.splitlines()
    assert "+ amended (intermediateCatchEvent) Resubmitted  [in called process cli_called]" in lines
    assert "- resubmitted (intermediateCatchEvent) Resubmitted  [in called process cli_called]" in lines
    assert "~ take (scriptTask) content  [in called process cli_called]" in lines
    assert all("[in called process cli_called]" in line for line in lines)  # the caller itself is unchanged

    # The instance waits on 'resubmitted' inside the called process: v2 would lose it.
    code, out, err = run(capsys, "migrate", declaration_id, "cli_caller@2")
    assert code == 2 and out == ""
    assert "no_lost_tasks" in err and "running task on element 'resubmitted' in 'cli_called' would be lost" in err
    assert running_on(db, declaration_id) == caller_v1


# -- decision tables ---------------------------------------------------------------------------

TABLE = (SOCIAL_REVIEW.parent / "publicity_days.dmn").read_text("utf-8")
# the small diagram deciding its publicity period before the unit check.
RULED = SMALL.replace(
    "<bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>",
    "<bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>\n"
    '    <bpmn:businessRuleTask id="decide_publicity" name="Decide the publicity period">\n'
    "      <bpmn:extensionElements><spiffworkflow:calledDecisionId>publicity_days"
    "</spiffworkflow:calledDecisionId></bpmn:extensionElements>\n"
    "      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>\n"
    "    </bpmn:businessRuleTask>",
).replace(
    '<bpmn:sequenceFlow id="f1" sourceRef="start"',
    '<bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="decide_publicity" />\n'
    '    <bpmn:sequenceFlow id="f1" sourceRef="decide_publicity"',
)


def longer(days: int) -> str:
    """The publicity table with a longer floor, edited as the README's example does."""
    return (
        TABLE.replace("&gt;= 5", f"&gt;= {days}")
        .replace("&lt; 5", f"&lt; {days}")
        .replace("<text>5</text>", f"<text>{days}</text>")
    )


def test_validate_checks_a_table_on_its_own_naming_the_decision_and_the_row(tmp_path, capsys):
    good = write(tmp_path, "publicity_days.dmn", TABLE)
    assert run(capsys, "validate", good) == (0, f"{good}: ok (decision publicity_days)\n", "")
    bad = write(tmp_path, "bad.dmn", TABLE.replace("&lt; 5", "&lt; 6"))
    code, out, _ = run(capsys, "validate", bad)
    assert code == 1
    assert out.splitlines() == [
        f"{bad}: publicity_days row 2: unique_overlap: rows 1 and 2 both match the same "
        f"inputs in a UNIQUE table: make them exclusive, or use hit policy FIRST if their "
        f"order decides"
    ]


def test_validate_finds_the_table_beside_the_diagram_and_names_a_broken_one(tmp_path, capsys):
    diagram = write(tmp_path, "cli_test.bpmn", RULED)
    table = write(tmp_path, "publicity_days.dmn", TABLE)
    assert run(capsys, "validate", diagram) == (
        0,
        f"{diagram}: ok (cli_test) decides publicity_days (publicity_days.dmn)\n",
        "",
    )
    Path(table).write_text(TABLE.replace("<text>5</text>", "<text>5 +</text>"), "utf-8")
    code, out, _ = run(capsys, "validate", diagram)
    assert code == 1
    assert out.splitlines()[0].startswith(f"{diagram}: publicity_days row 2: dmn_expression: output entry '5 +'")
    assert out.splitlines()[0].endswith("(in publicity_days.dmn)")
    assert out.splitlines()[1].startswith(
        f"{diagram}: decide_publicity: valid_decision: calls decision 'publicity_days' from publicity_days.dmn"
    )
    Path(table).unlink()
    code, out, _ = run(capsys, "validate", diagram)
    assert code == 1 and out.startswith(
        f"{diagram}: decide_publicity: known_decision: calls decision 'publicity_days', which no DMN file defines"
    )


def test_a_changed_table_deployed_makes_a_new_version_that_versions_and_diff_show(db, tmp_path, capsys):
    from services.review.engine import definitions

    diagram = write(tmp_path, "cli_test.bpmn", RULED)
    table = write(tmp_path, "publicity_days.dmn", TABLE)
    code, out, _ = run(capsys, "deploy", diagram)
    assert code == 0 and out.splitlines()[-1].endswith(" decides publicity_days")
    # A broken table is refused and nothing is stored.
    Path(table).write_text(TABLE.replace("&lt; 5", "&lt; 6"), "utf-8")
    code, out, _ = run(capsys, "deploy", table)
    assert code == 1 and f"{table}: publicity_days row 2: unique_overlap" in out
    assert len(deployed(db)) == 1
    # The designer lengthens the period and deploys the table: the diagrams of its folder are deployed again.
    Path(table).write_text(longer(7), "utf-8")
    code, out, _ = run(capsys, "deploy", table)
    assert code == 0, out
    assert out.splitlines()[0] == f"{table}: ok (decision publicity_days)"
    assert out.splitlines()[-1].startswith(f"deployed {tmp_path / 'cli_test.bpmn'} cli_test ")
    assert [process for process, _ in deployed(db)] == ["cli_test", "cli_test"]
    code, out, _ = run(capsys, "deploy", table)
    assert out.splitlines()[-1].startswith("unchanged ")

    code, out, _ = run(capsys, "versions")
    first, second = out.splitlines()
    old_hash = definitions.content_hash(TABLE.encode())[:8]
    new_hash = definitions.content_hash(longer(7).encode())[:8]
    assert f"decisions: publicity_days (publicity_days.dmn {old_hash})" in first
    assert f"decisions: publicity_days (publicity_days.dmn {new_hash})" in second

    code, out, _ = run(capsys, "diff", "cli_test@1", "cli_test@2")
    assert code == 0
    assert out.splitlines() == [
        "~ rule_activity (rule) row 1 inputs: >= 5 -> activity_publicity_working_days  becomes  >= 7 -> "
        "activity_publicity_working_days  [in decision publicity_days]",
        "~ rule_floor (rule) row 2 inputs, outputs: < 5 -> 5  becomes  < 7 -> 7  [in decision publicity_days]",
    ]
