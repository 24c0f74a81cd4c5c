"""The diagram <-> code contract checked by titles-bpmn validate (engine/contract.py, README
"Diagram contract"): each mistake the issue lists was accepted before and is refused now, naming
the file, the element and the rule; lanes are roles by id, so they carry readable names."""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow

from services.review import service, stats
from services.review.engine import contract, definitions, runtime, timers
from services.review.engine.definitions import InvalidDiagram
from shared.contracts.review import NO_OUTCOME, OUTCOMES, PASSED

# A unit's check (approve or return), then the committee's result publicity, then certified; a
# return ends not accepted. Lanes carry bilingual names.
SMALL = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_contract_test" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="contract_test" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_unit" name="Work unit (工作单位)"><bpmn:flowNodeRef>check</bpmn:flowNodeRef></bpmn:lane>
      <bpmn:lane id="lane_committee" name="Evaluation committee (评委会)">
        <bpmn:flowNodeRef>publicise</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:userTask id="check" name="Check the declaration">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="unit_code" />
        <spiffworkflow:property name="decisions" value="approve,return" />
        <spiffworkflow:property name="stage" value="unit_check" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:exclusiveGateway id="checked" default="f3">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:exclusiveGateway>
    <bpmn:userTask id="publicise" name="Start the result publicity">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="organisation" value="committee_code" />
        <spiffworkflow:property name="decisions" value="start" />
        <spiffworkflow:property name="stage" value="result_publicity" />
        <spiffworkflow:property name="action" value="publicity:result" />
      </spiffworkflow:properties></bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f5</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="done"><bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="outcome" value="certified" />
      </spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f5</bpmn:incoming></bpmn:endEvent>
    <bpmn:endEvent id="sent_back"><bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="outcome" value="not_accepted" />
      </spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />
    <bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="checked" />
    <bpmn:sequenceFlow id="f3" sourceRef="checked" targetRef="publicise" />
    <bpmn:sequenceFlow id="f4" sourceRef="checked" targetRef="sent_back">
      <bpmn:conditionExpression>decision == "return"</bpmn:conditionExpression>
    </bpmn:sequenceFlow>
    <bpmn:sequenceFlow id="f5" sourceRef="publicise" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


def edited(*pairs: tuple[str, str]) -> str:
    text = SMALL
    for old, new in pairs:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def problems(text: str) -> list[tuple[str | None, str, str]]:
    with pytest.raises(InvalidDiagram) as caught:
        definitions.check("contract.bpmn", text.encode("utf-8"), definitions.lookup())
    assert all(p.file == "contract.bpmn" for p in caught.value.problems)
    return [(p.element, p.rule, p.message) for p in caught.value.problems]


def rules(text: str) -> list[tuple[str | None, str]]:
    return [(element, rule) for element, rule, _ in problems(text)]


def test_the_small_diagram_with_bilingual_lane_names_is_accepted():
    # Refused before ("Work unit (工作单位)" was no role): a lane is its role by id now.
    assert definitions.check("contract.bpmn", SMALL.encode("utf-8"), definitions.lookup()) == "contract_test"


def test_a_task_s_role_is_its_lane_s_id_whatever_the_lane_is_called():
    parser = timers.Parser()
    parser.add_bpmn_str(SMALL.encode("utf-8"), "contract.bpmn")
    spec = parser.get_spec("contract_test")
    assert (spec.task_specs["check"].lane, spec.task_specs["publicise"].lane) == ("lane_unit", "lane_committee")
    assert contract.role_of_lane(spec.task_specs["check"].lane) == "unit"
    assert contract.role_of_lane("unit") == "unit"  # an instance saved when lanes were read by name


def test_a_misspelt_action_is_refused():
    # Accepted before: a task nobody could complete, or a report approved while the publicity still ran.
    found = problems(edited(('value="publicity:result"', 'value="publicty:result"')))
    assert [(e, r) for e, r, _ in found] == [("publicise", "known_action")]
    assert "'publicty:result'" in found[0][2] and "publicity:result" in found[0][2]


def test_a_decision_the_gateway_tests_but_the_task_no_longer_offers_is_refused():
    # Accepted before: decision == "return" never held and the default (approve) path was taken.
    assert rules(edited(('value="approve,return"', 'value="approve,reject"'))) == [("f4", "offered_decision")]
    for condition in ('decision != "return"', 'decision in ("return", "reject")', '"return" == decision'):
        assert rules(
            edited(('value="approve,return"', 'value="approve,reject"'), ('decision == "return"', condition))
        ) == [("f4", "offered_decision")], condition


def test_the_decision_test_looks_through_gateways_to_the_nearest_task():
    through = edited(
        (
            '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="checked" />',
            '<bpmn:sequenceFlow id="f2" sourceRef="check" targetRef="merge" />'
            '<bpmn:exclusiveGateway id="merge"><bpmn:incoming>f2</bpmn:incoming>'
            "<bpmn:outgoing>f2b</bpmn:outgoing></bpmn:exclusiveGateway>"
            '<bpmn:sequenceFlow id="f2b" sourceRef="merge" targetRef="checked" />',
        ),
        (
            "<bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>",
            "<bpmn:incoming>f2b</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>",
        ),
    )
    assert definitions.check("contract.bpmn", through.encode("utf-8"), definitions.lookup()) == "contract_test"
    assert rules(through.replace('value="approve,return"', 'value="approve,reject"')) == [("f4", "offered_decision")]


def test_an_unknown_outcome_and_a_missing_one_are_refused():
    # Accepted before: the end event's id became an outcome statistics and notices did not know.
    assert rules(edited(('value="not_accepted"', 'value="sent_back"'))) == [("sent_back", "known_outcome")]
    missing = edited(('<spiffworkflow:property name="outcome" value="not_accepted" />', ""))
    found = problems(missing)
    assert [(e, r) for e, r, _ in found] == [("sent_back", "known_outcome")]
    assert all(outcome in found[0][2] for outcome in (*OUTCOMES, NO_OUTCOME))


def test_an_end_that_is_no_outcome_says_so():
    marked = edited(('value="not_accepted"', f'value="{NO_OUTCOME}"'))
    assert definitions.check("contract.bpmn", marked.encode("utf-8"), definitions.lookup()) == "contract_test"


def test_a_misspelt_property_name_is_refused_with_the_name_meant():
    # Accepted before: the property was simply not read.
    found = problems(
        edited(
            (
                '<spiffworkflow:property name="action" value="publicity:result" />',
                '<spiffworkflow:property name="action" value="publicity:result" />'
                '<spiffworkflow:property name="decison" value="start" />',
            )
        )
    )
    assert [(e, r) for e, r, _ in found] == [("publicise", "known_property")]
    assert "did you mean 'decisions'?" in found[0][2]
    assert rules(edited(('name="outcome" value="certified"', 'name="outcom" value="certified"'))) == [
        ("done", "known_property"),
        ("done", "known_outcome"),
    ]


def test_an_unknown_or_repeated_decision_word_is_refused():
    assert rules(edited(('value="approve,return"', 'value="approve,return,send_back"'))) == [
        ("check", "known_decision_word")
    ]
    assert rules(edited(('value="approve,return"', 'value="approve,return,approve"'))) == [
        ("check", "known_decision_word")
    ]


def test_an_unknown_guard_is_refused_and_a_known_one_accepted():
    guarded = (
        '<spiffworkflow:property name="stage" value="unit_check" />',
        '<spiffworkflow:property name="stage" value="unit_check" />'
        '<spiffworkflow:property name="guard" value="GUARD" />',
    )
    assert rules(edited((guarded[0], guarded[1].replace("GUARD", "own_stuff")))) == [("check", "known_guard")]
    accepted = edited((guarded[0], guarded[1].replace("GUARD", "own_staff")))
    assert definitions.check("contract.bpmn", accepted.encode("utf-8"), definitions.lookup()) == "contract_test"


def test_an_action_outside_the_lane_it_serves_is_refused():
    assert rules(edited(('value="publicity:result"', 'value="vote"'))) == [("publicise", "action_lane")]
    assert rules(edited(('value="publicity:result"', 'value="publicity:unit"'))) == [("publicise", "action_lane")]


def test_lanes_must_be_roles_by_id_and_tasks_must_sit_in_one_that_holds_tasks():
    assert rules(edited(('id="lane_committee"', 'id="lane_board"'))) == [
        ("lane_board", "known_role"),
        ("publicise", "task_lane"),
    ]
    assert rules(edited(('id="lane_committee"', 'id="lane_applicant"'))) == [("publicise", "task_lane")]
    assert rules(edited(("<bpmn:flowNodeRef>check</bpmn:flowNodeRef>", ""))) == [("check", "task_lane")]


def test_an_end_event_of_a_sub_process_is_no_outcome():
    inner = (
        '<bpmn:endEvent id="done">',
        '<bpmn:subProcess id="sub"><bpmn:startEvent id="sub_start">'
        '<bpmn:outgoing>s1</bpmn:outgoing></bpmn:startEvent><bpmn:endEvent id="sub_end"><bpmn:extensionElements>'
        '<spiffworkflow:properties><spiffworkflow:property name="outcome" value="OUTCOME" />'
        "</spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>s1</bpmn:incoming></bpmn:endEvent>"
        '<bpmn:sequenceFlow id="s1" sourceRef="sub_start" targetRef="sub_end" /></bpmn:subProcess>'
        '<bpmn:endEvent id="done">',
    )
    assert rules(edited((inner[0], inner[1].replace("OUTCOME", "certified")))) == [("sub_end", "known_outcome")]
    accepted = edited((inner[0], inner[1].replace("OUTCOME", NO_OUTCOME)))
    assert definitions.check("contract.bpmn", accepted.encode("utf-8"), definitions.lookup()) == "contract_test"


def test_the_outcome_is_the_end_event_s_property_not_its_id():
    # Two branches: one ends as an overdue flag's branch would (no outcome), the other certified.
    text = edited(
        (
            '<bpmn:userTask id="check"',
            '<bpmn:parallelGateway id="split"><bpmn:incoming>f1</bpmn:incoming>'
            "<bpmn:outgoing>p1</bpmn:outgoing><bpmn:outgoing>p2</bpmn:outgoing></bpmn:parallelGateway>"
            '<bpmn:endEvent id="flagged"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties>'
            "</bpmn:extensionElements><bpmn:incoming>p2</bpmn:incoming></bpmn:endEvent>"
            '<bpmn:sequenceFlow id="p1" sourceRef="split" targetRef="zz_end" />'
            '<bpmn:sequenceFlow id="p2" sourceRef="split" targetRef="flagged" />'
            '<bpmn:endEvent id="zz_end"><bpmn:extensionElements><spiffworkflow:properties>'
            '<spiffworkflow:property name="outcome" value="certified" /></spiffworkflow:properties>'
            "</bpmn:extensionElements><bpmn:incoming>p1</bpmn:incoming></bpmn:endEvent>"
            '<bpmn:userTask id="check"',
        ),
        (
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="check" />',
            '<bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="split" />',
        ),
    )
    parser = timers.Parser()
    parser.add_bpmn_str(text.encode("utf-8"), "contract.bpmn")
    workflow = BpmnWorkflow(parser.get_spec("contract_test"))
    workflow.do_engine_steps()
    assert runtime._outcome(workflow) == "certified"


def test_the_known_values_are_one_list_each():
    assert set(service.GUARDS) == set(contract.GUARDS)
    assert stats.PASSED is PASSED and PASSED <= set(OUTCOMES)
    from services.notify import templates

    assert templates.OUTCOMES is OUTCOMES
    assert set(contract.ACTIONS) >= {"publicity:unit", "publicity:result", "defence", "attendance", "vote"}
