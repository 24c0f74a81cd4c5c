"""Diagram checks, content hashes and deployment (services/review/engine/definitions.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.review.engine import definitions
from services.review.engine.definitions import InvalidDiagram

BPMN_FILE = Path(__file__).resolve().parents[2] / "bpmn" / "social_review.bpmn"
SOCIAL_REVIEW = BPMN_FILE.read_bytes()
CALLED_FILE = BPMN_FILE.parent / "return_and_resubmit.bpmn"
RETURN_AND_RESUBMIT = CALLED_FILE.read_bytes()
TABLES = {path.name: path.read_bytes() for path in sorted(BPMN_FILE.parent.glob("*.dmn"))}
# The other processes the social review calls (the department chain, the expert review, ...).
OTHER_CALLED = {
    path.name: path.read_bytes()
    for path in sorted(BPMN_FILE.parent.glob("*.bpmn"))
    if path.stem not in (*definitions.PROCESS_OF_MODE, "return_and_resubmit")
}


def changed(old: str, new: str) -> bytes:
    text = SOCIAL_REVIEW.decode("utf-8")
    assert text.count(old) == 1, old
    return text.replace(old, new).encode("utf-8")


def problems_of(bpmn: bytes, file_name: str = "broken.bpmn", library=None) -> list[tuple[str, str | None, str]]:
    with pytest.raises(InvalidDiagram) as caught:
        definitions.check(file_name, bpmn, library)
    assert file_name in str(caught.value)
    return [(p.file, p.element, p.rule) for p in caught.value.problems]


def test_the_social_review_diagram_passes():
    assert definitions.check("social_review.bpmn", SOCIAL_REVIEW) == "social_review"


def test_the_diagram_in_bpmn_dir_is_the_one_deployed():
    assert definitions.bpmn_dir().resolve() == BPMN_FILE.parent.resolve()


def test_a_lane_whose_id_is_not_a_role_is_refused():
    bpmn = changed('<bpmn:lane id="lane_committee"', '<bpmn:lane id="lane_janitor"')
    problems = problems_of(bpmn)
    assert ("broken.bpmn", "lane_janitor", "known_role") in problems
    # and the tasks it held are in no role's lane
    assert {rule for _, _, rule in problems} == {"known_role", "task_lane"}


def test_a_user_task_without_its_organisation_is_refused():
    bpmn = changed('<spiffworkflow:property name="organisation" value="title_office_code" />', "")
    assert problems_of(bpmn) == [("broken.bpmn", "title_office_filing", "task_property")]


def test_a_user_task_without_any_properties_names_each_missing_one():
    bpmn = changed(
        """          <spiffworkflow:property name="organisation" value="unit_code" />
          <spiffworkflow:property name="decisions" value="approve,return" />
          <spiffworkflow:property name="stage" value="unit_check" />
""",
        "",
    )
    with pytest.raises(InvalidDiagram) as caught:
        definitions.check("broken.bpmn", bpmn)
    # (its decisions gone, the gateway after it tests a decision it does not offer: offered_decision)
    assert [(p.element, p.rule) for p in caught.value.problems if p.rule == "task_property"] == [
        ("unit_check", "task_property")
    ] * 3
    assert {m for p in caught.value.problems for m in ("organisation", "decisions", "stage") if m in p.message} == {
        "organisation",
        "decisions",
        "stage",
    }


def test_a_thrown_message_the_services_do_not_handle_is_refused():
    bpmn = changed(
        '<bpmn:message id="message_certificate_issue" name="certificate.issue" />',
        '<bpmn:message id="message_certificate_issue" name="certificate.burn" />',
    )
    problems = problems_of(bpmn)
    assert problems == [("broken.bpmn", "issue_certificate", "known_message")]


def test_a_caught_message_the_services_do_not_send_is_refused():
    bpmn = changed(
        '<bpmn:message id="message_certificate_issued" name="certificate.issued" />',
        '<bpmn:message id="message_certificate_issued" name="certificate.lost" />',
    )
    assert problems_of(bpmn) == [("broken.bpmn", "certificate_issued", "known_message")]


def test_an_unknown_service_operation_is_refused():
    bpmn = changed(
        'serviceTaskOperator id="review.open_publicity" resultVariable="unit_publicity_period"',
        'serviceTaskOperator id="review.open_publicty" resultVariable="unit_publicity_period"',
    )
    assert problems_of(bpmn) == [("broken.bpmn", "record_unit_publicity", "known_operation")]


def test_malformed_xml_is_refused():
    bpmn = changed("</bpmn:process>", "</bpmn:proces>")
    problems = problems_of(bpmn, "malformed.bpmn")
    assert [(file, rule) for file, _, rule in problems] == [("malformed.bpmn", "xml_syntax")]


def test_several_problems_are_reported_together():
    bpmn = changed('<bpmn:lane id="lane_unit"', '<bpmn:lane id="lane_janitor"')
    bpmn = bpmn.replace(b'serviceTaskOperator id="review.open_publicity"', b'serviceTaskOperator id="x.y"')
    assert {rule for _, _, rule in problems_of(bpmn)} == {"known_role", "task_lane", "known_operation"}


def test_the_content_hash_is_stable_and_content_sensitive():
    first = definitions.content_hash(SOCIAL_REVIEW)
    assert first == definitions.content_hash(BPMN_FILE.read_bytes())
    assert len(first) == 64 and int(first, 16) >= 0
    assert definitions.content_hash(SOCIAL_REVIEW + b" ") != first


def test_deploying_the_same_bytes_twice_stores_one_version(dbs):
    from services.review.models import Definition

    db = dbs["review"]
    with db.uow() as uow:
        definition, new = definitions.deploy(uow, "social_review.bpmn", SOCIAL_REVIEW)
        uow.commit()
    # The version bundles the processes it calls, each stored as a version of its own; the id hashes them.
    called = definitions.content_hash(RETURN_AND_RESUBMIT)
    assert new and called in definition.calls and len(definition.calls) == 1 + len(OTHER_CALLED)
    assert definition.id not in (definitions.content_hash(SOCIAL_REVIEW), called)
    assert definition.process_id == "social_review" and definition.file_name == "social_review.bpmn"
    with db.uow() as uow:
        again, new_again = definitions.deploy(uow, "social_review.bpmn", SOCIAL_REVIEW)
        uow.commit()
        assert (again.id, new_again) == (definition.id, False)
        assert uow.session.query(Definition).count() == 2 + len(OTHER_CALLED)
        assert definitions.latest(uow, "social_review").id == definition.id
        [stored] = [d for d in definitions.called_versions(uow, definition) if d.process_id == "return_and_resubmit"]
        assert (stored.id, stored.process_id, stored.file_name, stored.calls) == (
            called,
            "return_and_resubmit",
            "return_and_resubmit.bpmn",
            None,
        )
        assert stored.bpmn.encode("utf-8") == RETURN_AND_RESUBMIT


def test_a_changed_called_process_makes_a_new_version_of_its_caller(dbs):
    db = dbs["review"]
    amended = RETURN_AND_RESUBMIT.replace(b'name="Record the withdrawal (', b'name="Note the withdrawal (')
    assert amended != RETURN_AND_RESUBMIT
    with db.uow() as uow:
        first, _ = definitions.deploy(uow, "social_review.bpmn", SOCIAL_REVIEW)
        second, new = definitions.deploy(
            uow,
            "social_review.bpmn",
            SOCIAL_REVIEW,
            definitions.lookup(files={"return_and_resubmit.bpmn": amended}, folder=BPMN_FILE.parent, uow=uow),
        )
        uow.commit()
        assert new and second.id != first.id and second.bpmn == first.bpmn
        assert definitions.content_hash(amended) in second.calls and second.calls != first.calls
        assert definitions.latest(uow, "social_review").id == second.id
        # Each version parses with its own called process.
        _, first_subs = definitions.specs_of(uow, first)
        _, second_subs = definitions.specs_of(uow, second)
        assert first_subs["return_and_resubmit"].task_specs["record_withdrawal"].bpmn_name.startswith("Record")
        assert second_subs["return_and_resubmit"].task_specs["record_withdrawal"].bpmn_name.startswith("Note")


def test_a_call_activity_whose_process_nothing_defines_is_refused_naming_it():
    bpmn = changed('calledElement="return_and_resubmit"', 'calledElement="return_and_redo"')
    problems = problems_of(bpmn)
    assert problems == [("broken.bpmn", "return_for_revision", "known_called_process")]
    with pytest.raises(InvalidDiagram) as caught:
        definitions.check("broken.bpmn", bpmn)
    assert "'return_and_redo'" in caught.value.problems[0].message


def test_the_called_process_is_found_in_the_files_given_or_the_folder_not_elsewhere(tmp_path):
    for table in TABLES:  # the decision tables the mode calls, beside it
        (tmp_path / table).write_bytes(TABLES[table])
    for name, content in OTHER_CALLED.items():  # and the other processes it calls
        (tmp_path / name).write_bytes(content)
    # Nothing given and a folder without it: refused.
    assert problems_of(SOCIAL_REVIEW, "social_review.bpmn", definitions.lookup(folder=tmp_path)) == [
        ("social_review.bpmn", "return_for_revision", "known_called_process")
    ]
    # Given alongside, or beside it in the folder: accepted.
    assert (
        definitions.check(
            "social_review.bpmn",
            SOCIAL_REVIEW,
            definitions.lookup(files={**TABLES, **OTHER_CALLED, "return_and_resubmit.bpmn": RETURN_AND_RESUBMIT}),
        )
        == "social_review"
    )
    (tmp_path / "return_and_resubmit.bpmn").write_bytes(RETURN_AND_RESUBMIT)
    result = definitions.checked("social_review.bpmn", SOCIAL_REVIEW, definitions.lookup(folder=tmp_path))
    assert result.process_id == "social_review" and "return_and_resubmit" in result.direct
    assert sorted(result.calls) == sorted(["return_and_resubmit", *(Path(n).stem for n in OTHER_CALLED)])


def test_an_invalid_called_process_is_refused_on_the_call_activity():
    broken = RETURN_AND_RESUBMIT.replace(b'<bpmn:lane id="lane_applicant"', b'<bpmn:lane id="lane_janitor"')
    library = definitions.lookup(files={**TABLES, **OTHER_CALLED, "return_and_resubmit.bpmn": broken})
    problems = problems_of(SOCIAL_REVIEW, "social_review.bpmn", library)
    assert problems == [("social_review.bpmn", "return_for_revision", "valid_called_process")]
    with pytest.raises(InvalidDiagram) as caught:
        definitions.check("social_review.bpmn", SOCIAL_REVIEW, library)
    assert "return_and_resubmit.bpmn: lane_janitor: known_role" in caught.value.problems[0].message


CALLING = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="definitions_PID"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="PID" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:callActivity id="call_CALLED" calledElement="CALLED">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:callActivity>
    <bpmn:endEvent id="done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f2</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="call_CALLED" />
    <bpmn:sequenceFlow id="f2" sourceRef="call_CALLED" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def calling(process_id: str, called: str) -> bytes:
    return CALLING.replace("PID", process_id).replace("CALLED", called).encode("utf-8")


def test_a_call_cycle_is_refused():
    library = definitions.lookup(files={"a.bpmn": calling("a", "b"), "b.bpmn": calling("b", "a")})
    with pytest.raises(InvalidDiagram) as caught:  # found in the called file, and named there
        definitions.check("a.bpmn", calling("a", "b"), library)
    assert [(p.file, p.element, p.rule) for p in caught.value.problems] == [("b.bpmn", "call_a", "no_call_cycle")]
    assert "(a -> b -> a)" in caught.value.problems[0].message
    assert problems_of(calling("a", "a"), "a.bpmn", library) == [("a.bpmn", "call_a", "no_call_cycle")]


def test_a_process_called_through_another_is_bundled_too(dbs):
    library = definitions.lookup(
        files={"b.bpmn": calling("b", "c"), "c.bpmn": timer('"PT0S"').replace(b"timer_check", b"c")}
    )
    with dbs["review"].uow() as uow:
        a, _ = definitions.deploy(uow, "a.bpmn", calling("a", "b"), library)
        b = definitions.latest(uow, "b")
        c = definitions.latest(uow, "c")
        assert sorted(a.calls) == sorted([b.id, c.id]) and b.calls == [c.id] and c.calls is None
        _, subprocess_specs = definitions.specs_of(uow, a)
        assert set(subprocess_specs) == {"b", "c"}


def test_the_called_process_is_no_review_mode(dbs):
    from services.review import service
    from services.review.engine.incidents import StepFailed

    assert "return_and_resubmit" not in definitions.PROCESS_OF_MODE
    assert "return_and_resubmit" not in definitions.PROCESS_OF_MODE.values()
    with dbs["review"].uow() as uow:
        definitions.deploy_directory(uow)
        with pytest.raises(StepFailed, match="no process is defined for mode 'return_and_resubmit'"):
            service.start_review(uow, {"declaration_id": "d-1", "mode": "return_and_resubmit"})


def test_an_invalid_diagram_is_not_deployed(dbs):
    from services.review.models import Definition

    db = dbs["review"]
    with db.uow() as uow:
        with pytest.raises(InvalidDiagram):
            definitions.deploy(uow, "broken.bpmn", changed('<bpmn:lane id="lane_unit"', '<bpmn:lane id="lane_janitor"'))
        assert uow.session.query(Definition).count() == 0
        with pytest.raises(LookupError):
            definitions.latest(uow, "social_review")


TIMER_DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_timer" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:message id="msg_resubmitted" name="declaration.resubmitted" />
  <bpmn:process id="timer_check" isExecutable="true">
    <bpmn:startEvent id="start"><bpmn:outgoing>f0</bpmn:outgoing></bpmn:startEvent>
    <bpmn:scriptTask id="prepare" scriptFormat="python">
      <bpmn:incoming>f0</bpmn:incoming><bpmn:outgoing>f1</bpmn:outgoing>
      <bpmn:script>reminder = "P1D"
first, second = settings["a"], settings["b"]</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:intermediateCatchEvent id="wait">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="wait_timer"><bpmn:KIND>EXPRESSION</bpmn:KIND></bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:serviceTask id="compute">
      <bpmn:extensionElements>
        <spiffworkflow:serviceTaskOperator id="review.tally_votes" resultVariable="tally"><spiffworkflow:parameters /></spiffworkflow:serviceTaskOperator>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:serviceTask>
    <bpmn:intermediateCatchEvent id="again">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:messageEventDefinition id="again_def" messageRef="msg_resubmitted">
        <bpmn:extensionElements><spiffworkflow:messageVariable>resubmission</spiffworkflow:messageVariable></bpmn:extensionElements>
      </bpmn:messageEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f0" sourceRef="start" targetRef="prepare" />
    <bpmn:sequenceFlow id="f1" sourceRef="prepare" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="compute" />
    <bpmn:sequenceFlow id="f3" sourceRef="compute" targetRef="again" />
    <bpmn:sequenceFlow id="f4" sourceRef="again" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def timer(expression: str, kind: str = "timeDuration") -> bytes:
    return TIMER_DIAGRAM.replace("EXPRESSION", expression).replace("KIND", kind).encode()


@pytest.mark.parametrize(
    "kind, expression",
    [
        ("timeDuration", '"P5D"'),
        ("timeDuration", '"PT0S"'),
        ("timeDuration", "reminder"),
        ("timeDate", '"2024-01-01T00:00:00+08:00"'),
        ("timeCycle", '"R3/PT1H"'),
        # what the process starts with, what a script, a service task or a message sets, and the engine's functions
        ("timeDate", "end_of_day(modification_deadline)"),
        ("timeDate", "working_days_due(len(departments))"),
        ("timeDate", 'tally["at"] if first else resubmission.get("at", second)'),
        ("timeDate", 'max(d for d in [settings["x"], decided_at])'),
    ],
)
def test_a_quoted_or_computable_timer_is_accepted(kind, expression):
    assert definitions.check("timer.bpmn", timer(expression, kind)) == "timer_check"


@pytest.mark.parametrize("expression", ["P5D", "PT1S", "2024-01-01T00:00:00Z", "R3/PT1H", "", "1 +"])
def test_an_unquoted_or_broken_timer_is_refused_at_deploy(expression):
    # Pitfall 1: a bare ISO literal is a Python name and would fail only when the timer is reached.
    assert problems_of(timer(expression), "timer.bpmn") == [("timer.bpmn", "wait", "timer_expression")]


@pytest.mark.parametrize(
    "kind, literal",
    [
        ("timeDuration", '"P5X"'),
        ("timeDuration", '"five days"'),
        ("timeDuration", '"P"'),
        ("timeDuration", '"2024-01-01T00:00:00+08:00"'),  # a date where a duration is due
        ("timeDate", '"P5D"'),
        ("timeDate", '"2024-13-01"'),
        ("timeDate", "5"),
        ("timeCycle", '"R3/soon"'),
    ],
)
def test_a_literal_that_is_not_iso_8601_of_its_kind_is_refused(kind, literal):
    with pytest.raises(InvalidDiagram) as caught:
        definitions.check("timer.bpmn", timer(literal, kind))
    [problem] = caught.value.problems
    assert (problem.file, problem.element, problem.rule) == ("timer.bpmn", "wait", "timer_expression")
    assert "ISO 8601" in problem.message and str(problem).startswith("timer.bpmn: wait: timer_expression: ")


@pytest.mark.parametrize(
    "expression, unknown",
    [
        ("deadline", "deadline"),
        ("end_of_day(deadline_on)", "deadline_on"),
        ("due_in_days(5)", "due_in_days"),
        ("[d for d in dates]", "dates"),
        ("panel.due", "panel"),
    ],
)
def test_a_timer_whose_date_the_process_data_cannot_give_is_refused_naming_what_it_reads(expression, unknown):
    with pytest.raises(InvalidDiagram) as caught:
        definitions.check("timer.bpmn", timer(expression, "timeDate"))
    [problem] = caught.value.problems
    assert (problem.file, problem.element, problem.rule) == ("timer.bpmn", "wait", "timer_data")
    assert f"reads {unknown!r}" in problem.message and "end_of_day, working_days_due" in problem.message


def test_an_unsafe_timer_expression_is_refused():
    assert problems_of(timer('__import__("os").system("x")', "timeDate"), "timer.bpmn") == [
        ("timer.bpmn", "wait", "simple_script")
    ]


def test_every_start_variable_is_one_the_review_really_starts_with(dbs):
    """The names the timer rule takes as given are what start_review seeds the process with."""
    from services.review import service
    from services.review.engine import runtime
    from tests.integration.test_review import register_directory, submitted

    db = dbs["review"]
    register_directory(db)
    with db.uow() as uow:
        definitions.deploy_directory(uow)
        instance = service.start_review(uow, submitted())
        started = set(runtime.SERIALIZER.deserialize_json(instance.state).task_tree.data)
        uow.rollback()
    assert started == set(definitions.START_VARIABLES)


# -- decision tables (DMN) called by business-rule tasks ------------------------------------------

RULED = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_ruled" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="ruled" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_unit" name="unit"><bpmn:flowNodeRef>wait</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="wait" name="Wait">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="unit_code" />
        <spiffworkflow:property name="decisions" value="approve" />
        <spiffworkflow:property name="stage" value="wait" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:businessRuleTask id="decide_publicity" name="Decide the publicity period (确定公示期)">
      <bpmn:extensionElements>
        <spiffworkflow:calledDecisionId>DECISION</spiffworkflow:calledDecisionId>
      </bpmn:extensionElements>
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
    </bpmn:businessRuleTask>
    <bpmn:endEvent id="done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="wait" />
    <bpmn:sequenceFlow id="f2" sourceRef="wait" targetRef="decide_publicity" />
    <bpmn:sequenceFlow id="f3" sourceRef="decide_publicity" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""
PUBLICITY_TABLE = (BPMN_FILE.parent / "publicity_days.dmn").read_bytes()


def ruled(decision: str = "publicity_days") -> bytes:
    return RULED.replace("DECISION", decision).encode("utf-8")


def floor(days: int) -> bytes:
    """The publicity table with another floor, as a designer edits it."""
    return (
        PUBLICITY_TABLE.replace(b"&gt;= 5", f"&gt;= {days}".encode())
        .replace(b"&lt; 5", f"&lt; {days}".encode())
        .replace(b"<text>5</text>", f"<text>{days}</text>".encode())
    )


def test_a_business_rule_task_finds_its_table_in_the_folder_or_the_files_given(tmp_path):
    result = definitions.checked("ruled.bpmn", ruled())  # bpmn/ holds publicity_days.dmn
    assert result.decides == {"publicity_days": ("publicity_days.dmn", PUBLICITY_TABLE)}
    assert problems_of(ruled(), "ruled.bpmn", definitions.lookup(folder=tmp_path)) == [
        ("ruled.bpmn", "decide_publicity", "known_decision")
    ]
    given = definitions.lookup(files={"mine.dmn": floor(7)}, folder=tmp_path)
    assert definitions.checked("ruled.bpmn", ruled(), given).decides == {"publicity_days": ("mine.dmn", floor(7))}


def test_an_unknown_or_missing_decision_is_refused_on_the_task():
    assert problems_of(ruled("publicity_weeks"), "ruled.bpmn") == [("ruled.bpmn", "decide_publicity", "known_decision")]
    bare = RULED.replace("<spiffworkflow:calledDecisionId>DECISION</spiffworkflow:calledDecisionId>", "").encode()
    with pytest.raises(InvalidDiagram) as caught:
        definitions.check("ruled.bpmn", bare)
    assert [(p.element, p.rule) for p in caught.value.problems] == [("decide_publicity", "known_decision")]
    assert "calledDecisionId" in caught.value.problems[0].message


def test_a_broken_table_is_refused_naming_its_file_the_decision_and_the_row(tmp_path):
    broken = PUBLICITY_TABLE.replace(b"<text>5</text>", b"<text>5 +</text>")
    library = definitions.lookup(files={"publicity_days.dmn": broken}, folder=tmp_path)
    assert problems_of(ruled(), "ruled.bpmn", library) == [
        ("publicity_days.dmn", "publicity_days row 2", "dmn_expression"),
        ("ruled.bpmn", "decide_publicity", "valid_decision"),
    ]
    # The project's rules for scripts hold in tables too (the engine is no sandbox).
    unsafe = PUBLICITY_TABLE.replace(b"<text>5</text>", b"<text>__import__('os').getpid()</text>")
    [problem] = definitions.table_problems("publicity_days.dmn", unsafe)
    assert (problem.element, problem.rule) == (
        "publicity_days row 2",
        "dmn_expression",
    ) and "__import__" in problem.message


def test_a_version_bundles_its_tables_and_its_id_hashes_them(dbs):
    with dbs["review"].uow() as uow:
        first, new = definitions.deploy(
            uow, "ruled.bpmn", ruled(), definitions.lookup(files={"publicity_days.dmn": PUBLICITY_TABLE})
        )
        assert new and first.decisions == {
            "publicity_days": {"file_name": "publicity_days.dmn", "dmn": PUBLICITY_TABLE.decode("utf-8")}
        }
        assert first.id != definitions.content_hash(ruled())
        again, new = definitions.deploy(
            uow, "ruled.bpmn", ruled(), definitions.lookup(files={"publicity_days.dmn": PUBLICITY_TABLE})
        )
        assert (again.id, new) == (first.id, False)
        second, new = definitions.deploy(
            uow, "ruled.bpmn", ruled(), definitions.lookup(files={"publicity_days.dmn": floor(7)})
        )
        assert new and second.id != first.id and "&gt;= 7" in second.decisions["publicity_days"]["dmn"]
        # A later deploy finds the table among the deployed versions when no file defines it.
        assert "publicity_days" in definitions.DeployedDecisions(uow)
        assert definitions.checked(
            "ruled.bpmn", ruled(), definitions.lookup(folder=Path("/nonexistent"), uow=uow)
        ).decides["publicity_days"] == ("publicity_days.dmn", floor(7))


def test_a_table_used_by_a_called_process_is_bundled_with_the_called_version(dbs):
    library = definitions.lookup(files={"b.bpmn": ruled().replace(b'"ruled"', b'"b"'), "publicity_days.dmn": floor(6)})
    with dbs["review"].uow() as uow:
        a, _ = definitions.deploy(uow, "a.bpmn", calling("a", "b"), library)
        b = definitions.latest(uow, "b")
        assert a.decisions is None and list(b.decisions) == ["publicity_days"]
        spec, subprocess_specs = definitions.specs_of(uow, a)
        assert (
            subprocess_specs["b"].task_specs["decide_publicity"].dmnEngine.decision_table.rules[1].outputEntries[0].text
            == "6"
        )


def test_a_running_instance_keeps_the_table_it_started_with():
    from SpiffWorkflow.bpmn import BpmnWorkflow
    from SpiffWorkflow.util.task import TaskState

    from services.review.engine.runtime import SERIALIZER

    def run_on(table: bytes) -> BpmnWorkflow:
        spec, subs = definitions.specs("v", ruled().decode(), "ruled", (), (("publicity_days.dmn", table.decode()),))
        workflow = BpmnWorkflow(spec, subs)
        workflow.task_tree.data["activity_publicity_working_days"] = 6
        workflow.do_engine_steps()
        return workflow

    saved = SERIALIZER.serialize_json(run_on(PUBLICITY_TABLE))  # waiting at "wait"; the floor is 5
    assert '"decision_table"' in saved
    run_on(floor(7))  # a new version with a longer floor is parsed meanwhile
    workflow = SERIALIZER.deserialize_json(saved)
    [wait] = workflow.get_tasks(state=TaskState.READY, manual=True)
    wait.run()
    workflow.do_engine_steps()
    assert workflow.is_completed() and workflow.last_task.data["publicity_working_days"] == 6
    fresh = run_on(floor(7))  # while a new instance follows the new table
    fresh.get_tasks(state=TaskState.READY, manual=True)[0].run()
    fresh.do_engine_steps()
    assert fresh.last_task.data["publicity_working_days"] == 7


def test_a_timer_may_read_what_a_business_rule_task_of_the_diagram_decides():
    # service_levels is no start variable: bpmn/service_levels.dmn sets it (service_levels.meeting, ...).
    reading = RULED.replace(
        '<bpmn:endEvent id="done"><bpmn:extensionElements><spiffworkflow:properties>'
        '<spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties>'
        "</bpmn:extensionElements><bpmn:incoming>f3</bpmn:incoming></bpmn:endEvent>",
        TIMED_END,
    )
    assert definitions.check("ruled.bpmn", reading.replace("DECISION", "service_levels").encode()) == "ruled"
    with pytest.raises(InvalidDiagram) as caught:
        definitions.check("ruled.bpmn", reading.replace("DECISION", "publicity_days").encode())
    assert [(p.element, p.rule) for p in caught.value.problems] == [("meeting_due", "timer_data")]


TIMED_END = """<bpmn:intermediateCatchEvent id="meeting_due" name="Meeting due">
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
      <bpmn:timerEventDefinition id="meeting_due_timer">
        <bpmn:timeDate>working_days_due(service_levels["meeting"])</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:endEvent id="done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f4" sourceRef="meeting_due" targetRef="done" />"""
