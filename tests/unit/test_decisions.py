"""The decision tables in bpmn/ and the common evaluator (shared/decisions.py): every shipped table
passes, evaluates with SpiffWorkflow's DMN engine, keeps the regulation's integer boundaries, and a
broken table is refused naming its file, its decision and the rule row."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared import decisions
from shared.config import bpmn_dir

TABLES = sorted(bpmn_dir().glob("*.dmn"))
PUBLICITY = (bpmn_dir() / "publicity_days.dmn").read_text("utf-8")


def edited(old: str, new: str, text: str = PUBLICITY) -> bytes:
    assert text.count(old) == 1, old
    return text.replace(old, new).encode("utf-8")


def problems(dmn: bytes, file_name: str = "publicity_days.dmn") -> list[tuple[str, str | None, int | None, str]]:
    return [(p.file, p.decision, p.row, p.rule) for p in decisions.check(file_name, dmn)]


@pytest.mark.parametrize("path", TABLES, ids=[p.name for p in TABLES])
def test_every_shipped_table_passes_and_is_named_for_its_decision(path: Path):
    assert decisions.check(path.name, path.read_bytes()) == []
    assert decisions.decision_id_of(path.read_bytes()) == path.stem
    assert decisions.parse(path.name, path.read_bytes()).text.startswith("<?xml")


def test_the_tables_the_issue_names_are_all_there():
    assert {p.stem for p in TABLES} >= {
        "eligibility_normal",
        "eligibility_yearly",
        "eligibility_categories",
        "quorum",
        "pass_threshold",
        "defence_levels",
        "panel_size",
        "publicity_days",
        "service_levels",
    }


# -- the regulation's boundaries, kept in integers ------------------------------------------------


def quorate(present: int, members: int, quorum: list[int]) -> bool:
    """The quorum gateway's condition in the diagrams."""
    return present * quorum[1] >= members * quorum[0]


def passes(agree: int, present: int, threshold: list[int]) -> bool:
    """The vote gateway's condition in the diagrams."""
    return agree * threshold[1] >= present * threshold[0]


@pytest.mark.parametrize("own", [None, [1, 2], [3, 5], [0, 1]])
def test_the_quorum_is_two_thirds_when_the_activity_sets_none_or_a_looser_one(own):
    assert decisions.decide("quorum", {"activity_quorum": own}) == {"quorum": [2, 3]}


@pytest.mark.parametrize(
    "present, members, expected",
    [(6, 9, True), (5, 8, False), (2, 3, True), (3, 5, False), (4, 6, True), (7, 11, False), (8, 12, True)],
)
def test_two_thirds_present_keeps_its_integer_boundary(present, members, expected):
    quorum = decisions.decide("quorum", {"activity_quorum": None})["quorum"]
    assert quorate(present, members, quorum) is expected


@pytest.mark.parametrize(
    "agree, present, expected",
    [(4, 6, True), (3, 5, False), (6, 9, True), (5, 8, False), (2, 3, True), (1, 2, False), (0, 0, True)],
)
def test_two_thirds_agreeing_keeps_its_integer_boundary(agree, present, expected):
    threshold = decisions.decide("pass_threshold", {"activity_pass_threshold": None})["pass_threshold"]
    assert passes(agree, present, threshold) is expected


@pytest.mark.parametrize("own", [[2, 3], [4, 6], [3, 4], [7, 9], [1, 1]])
def test_an_activity_may_set_a_stricter_threshold_and_it_is_used_as_set(own):
    assert decisions.decide("pass_threshold", {"activity_pass_threshold": own}) == {"pass_threshold": own}
    assert decisions.decide("quorum", {"activity_quorum": own}) == {"quorum": own}


def test_a_stricter_threshold_moves_the_boundary():
    threshold = decisions.decide("pass_threshold", {"activity_pass_threshold": [3, 4]})["pass_threshold"]
    assert passes(6, 8, threshold) and not passes(5, 7, threshold) and not passes(4, 6, threshold)


@pytest.mark.parametrize("own, days", [(None, 5), (0, 5), (3, 5), (5, 5), (7, 7), (15, 15)])
def test_publicity_lasts_at_least_five_working_days(own, days):
    assert decisions.decide("publicity_days", {"activity_publicity_working_days": own}) == {
        "publicity_working_days": days
    }


@pytest.mark.parametrize("own, size", [(None, 3), (5, 5), (1, 1), (7, 7)])
def test_the_panel_size_is_the_activity_s_or_three(own, size):
    assert decisions.decide("panel_size", {"activity_panel_size": own}) == {"panel_size": size}


@pytest.mark.parametrize(
    "own, levels",
    [
        (None, ["正高级"]),
        ([], ["正高级"]),
        (["副高级"], ["正高级", "副高级"]),
        (["中级", "正高级"], ["正高级", "中级"]),
    ],
)
def test_the_senior_full_level_always_defends_and_the_activity_may_add_levels(own, levels):
    assert decisions.decide("defence_levels", {"activity_defence_levels": own}) == {"defence_levels": levels}


PLAN = {"committee_acceptance": 5, "meeting": 20, "result_publicity": 5, "report": 5, "certificate": 10}


@pytest.mark.parametrize(
    "own, levels",
    [
        (None, PLAN),
        ({}, PLAN),
        ({"meeting": 15}, {**PLAN, "meeting": 15}),
        ({"certificate": 12, "elsewhere": 1}, {**PLAN, "certificate": 12}),
    ],
)
def test_service_levels_are_the_plan_s_with_the_activity_s_own_per_stage(own, levels):
    assert decisions.decide("service_levels", {"activity_service_levels": own}) == {"service_levels": levels}


@pytest.mark.parametrize(
    "category, needs",
    [
        ("normal", (True, False, False)),
        ("education_exception", (False, True, False)),
        ("seniority_exception", (False, True, False)),
        ("lateral_transfer", (False, False, False)),
        ("civil_servant_transfer", (False, False, False)),
        ("enterprise_direct", (False, False, True)),
    ],
)
def test_what_each_category_needs(category, needs):
    found = decisions.decide("eligibility_categories", {"category": category})
    assert (found["normal_conditions"], found["exception_claims_required"], found["employer_proof_required"]) == needs


def test_a_table_that_no_rule_matches_gives_nothing_and_collect_gives_lists():
    assert decisions.decide("eligibility_normal", {"series": "工程", "qualification_name": "技术员"}) == {}
    found = decisions.decide("eligibility_normal", {"series": "工程", "qualification_name": "助理工程师"})
    assert found == {
        "education": ["master", "bachelor", "junior_college"],
        "years": [0, 1, 3],
        "since_title": [None, None, None],
    }


def test_an_expression_that_fails_on_the_data_names_the_file_and_the_decision():
    with pytest.raises(decisions.DecisionFailed, match="quorum.dmn: quorum: .*row 1"):
        decisions.decide("quorum", {"activity_quorum": 5})


def test_an_unknown_decision_says_where_it_was_looked_for(tmp_path):
    with pytest.raises(LookupError, match="defines decision 'nothing'"):
        decisions.find("nothing")
    with pytest.raises(LookupError, match=str(tmp_path)):
        decisions.find("quorum", tmp_path)


def test_an_edited_file_is_read_again(tmp_path):
    path = tmp_path / "publicity_days.dmn"
    path.write_bytes(
        edited("<text>5</text>", "<text>7</text>").replace(b"&lt; 5", b"&lt; 7").replace(b"&gt;= 5", b"&gt;= 7")
    )
    assert decisions.decide("publicity_days", {"activity_publicity_working_days": 6}, tmp_path) == {
        "publicity_working_days": 7
    }
    path.write_bytes(PUBLICITY.encode("utf-8") + b"\n")
    assert decisions.decide("publicity_days", {"activity_publicity_working_days": 6}, tmp_path) == {
        "publicity_working_days": 6
    }


# -- a broken table: the file, the decision, the row ---------------------------------------------


@pytest.mark.parametrize(
    "old, new, row, rule",
    [
        ("&gt;= 5", "&gt;= 5 +", 1, "dmn_expression"),  # an input entry that is no expression
        ("<text>5</text>", "<text>5 +</text>", 2, "dmn_expression"),  # an output entry that is none
        ("<text>5</text>", "<text></text>", 2, "missing_output"),  # a rule that gives no value
        ("&lt; 5", "&lt; 6", 2, "unique_overlap"),  # 5 matches both rows of a UNIQUE table
        ("&lt; 5", "-", 2, "unique_overlap"),
        (
            '<decisionTable id="publicity_days_table">',
            '<decisionTable id="publicity_days_table" hitPolicy="ANY">',
            None,
            "hit_policy",
        ),  # the engine has no ANY
        ('<rule id="rule_floor">', '<rule id="rule_floor"><oops />', 2, "dmn_schema"),
        (
            "<text>(activity_publicity_working_days or 0)</text>",
            "<text>(activity_publicity_working_days or)</text>",
            None,
            "dmn_expression",
        ),
        ('name="publicity_working_days"', 'name="publicity working days"', None, "output_name"),
    ],
)
def test_a_broken_table_is_refused_naming_the_file_the_decision_and_the_row(old, new, row, rule):
    assert problems(edited(old, new)) == [("publicity_days.dmn", "publicity_days", row, rule)]
    [problem] = decisions.check("publicity_days.dmn", edited(old, new))
    assert str(problem).startswith(f"publicity_days.dmn: publicity_days{f' row {row}' if row else ''}: {rule}: ")
    with pytest.raises(decisions.InvalidTable, match="publicity_days.dmn"):
        decisions.parse("publicity_days.dmn", edited(old, new))


def test_two_columns_setting_one_output_are_refused():
    dmn = edited(
        '<output id="output_publicity_working_days"',
        '<output id="again" name="publicity_working_days" typeRef="integer" />\n'
        '      <output id="output_publicity_working_days"',
    )
    found = problems(dmn)
    assert ("publicity_days.dmn", "publicity_days", None, "duplicate_output") in found
    assert ("publicity_days.dmn", "publicity_days", 1, "rule_shape") in found


def test_rows_that_cannot_both_match_are_no_overlap():
    categories = (bpmn_dir() / "eligibility_categories.dmn").read_bytes()
    assert decisions.check("eligibility_categories.dmn", categories) == []
    twice = categories.decode().replace('"lateral_transfer"', '"normal"').encode()
    assert ("eligibility_categories.dmn", "eligibility_categories", 4, "unique_overlap") in problems(
        twice, "eligibility_categories.dmn"
    )
    listed = PUBLICITY.replace("&gt;= 5", "in (5, 6, 7)").replace("&lt; 5", "in [1, 2, 3]").encode()
    assert problems(listed) == []
    assert problems(listed.replace(b"[1, 2, 3]", b"[3, 7]")) == [
        ("publicity_days.dmn", "publicity_days", 2, "unique_overlap")
    ]


def test_a_file_that_is_not_one_dmn_1_3_decision_is_refused():
    assert problems(b"<definitions") == [("publicity_days.dmn", None, None, "xml_syntax")]
    assert problems(
        PUBLICITY.replace(
            "https://www.omg.org/spec/DMN/20191111/MODEL/", "http://www.omg.org/spec/DMN/20180521/MODEL/"
        ).encode()
    ) == [("publicity_days.dmn", None, None, "dmn_version")]
    start, end = PUBLICITY.index("  <decision "), PUBLICITY.index("  <dmndi:DMNDI>")
    decision = PUBLICITY[start:end]
    twice = PUBLICITY[:end] + decision.replace('id="publicity_days', 'id="again') + PUBLICITY[end:]
    assert problems(twice.encode()) == [("publicity_days.dmn", None, None, "one_decision")]


def test_the_caller_may_add_its_own_rules_for_every_expression():
    unsafe = edited("<text>5</text>", "<text>__import__('os').getpid()</text>")
    assert problems(unsafe) == []
    found = decisions.check("publicity_days.dmn", unsafe, lambda text: "no dunders" if "__" in text else None)
    assert [(p.row, p.rule, "no dunders" in p.message) for p in found] == [(2, "dmn_expression", True)]


def test_an_input_expression_an_entry_would_bind_into_is_refused():
    # The engine writes ">= 5" straight after the input expression: "a or 0 >= 5" is "a or (0 >= 5)".
    loose = edited(
        "<text>(activity_publicity_working_days or 0)</text>", "<text>activity_publicity_working_days or 0</text>"
    )
    found = decisions.check("publicity_days.dmn", loose)
    assert [(p.row, p.rule) for p in found] == [(1, "dmn_expression"), (2, "dmn_expression")]
    assert "parentheses" in found[0].message


def test_a_word_operator_the_engine_would_glue_to_the_input_name_is_refused():
    # The engine joins entry and input without a space: "in (...)" after the name specialty calls specialtyin().
    table = (bpmn_dir() / "specialty_relation.dmn").read_text("utf-8")
    glued = table.replace("<text>? in (", "<text>in (", 1).encode()
    [problem] = decisions.check("specialty_relation.dmn", glued)
    assert (problem.rule, problem.row) == ("dmn_expression", 2) and "current_specialtyin" in problem.message
    with pytest.raises(decisions.DecisionFailed):  # what the engine would have done with it
        decisions.evaluate(
            decisions.Table(
                "t.dmn",
                "specialty_relation",
                "",
                "",
                decisions._parser("specialty_relation.dmn", glued)
                .dmn_parsers["specialty_relation"]
                .decision.decisionTables[0],
            ),
            {"series": "工程", "specialty": "计算机应用技术", "current_specialty": "x"},
        )


# -- as dmn-js saves them ----------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
# dmn-js (and Camunda Modeler) read and write DMN with dmn-moddle: parse, then write back.
RESAVE = """
import { readFileSync } from 'node:fs';
import { DmnModdle } from 'dmn-moddle';
const moddle = new DmnModdle();
const { rootElement, warnings } = await moddle.fromXML(readFileSync(process.argv[1], 'utf8'), 'dmn:Definitions');
if (warnings.length) { console.error(warnings.map(w => w.message).join('\\n')); process.exit(3); }
const { xml } = await moddle.toXML(rootElement, { format: true });
process.stdout.write(xml);
"""
# What each table is asked in the diagrams and the services.
CONTEXTS = {
    "eligibility_normal": [
        {"series": "工程", "qualification_name": "高级工程师"},
        {"series": "x", "qualification_name": "y"},
    ],
    "eligibility_yearly": [{"series": "工程", "qualification_name": "高级工程师"}],
    "eligibility_categories": [{"category": c} for c in ("normal", "seniority_exception", "enterprise_direct")],
    "quorum": [{"activity_quorum": q} for q in (None, [3, 4], [1, 2])],
    "pass_threshold": [{"activity_pass_threshold": q} for q in (None, [3, 4], [1, 2])],
    "publicity_days": [{"activity_publicity_working_days": d} for d in (None, 3, 9)],
    "panel_size": [{"activity_panel_size": n} for n in (None, 5)],
    "defence_levels": [{"activity_defence_levels": levels} for levels in (None, ["中级"])],
    "service_levels": [{"activity_service_levels": levels} for levels in (None, {"meeting": 15})],
    "specialty_relation": [
        {"series": "工程", "specialty": "软件工程", "current_specialty": c}
        for c in ("软件工程", "计算机科学与技术", "临床医学", None)
    ],
    "re_examination_period": [{"mode": mode} for mode in ("social_review", "independent_review")],
}


@pytest.mark.parametrize("path", TABLES, ids=[p.name for p in TABLES])
def test_a_table_re_saved_by_dmn_js_checks_and_decides_the_same(path: Path):
    import shutil
    import subprocess

    if shutil.which("node") is None or not (ROOT / "node_modules" / "dmn-moddle").is_dir():
        pytest.skip("node or node_modules/dmn-moddle is missing (npm ci installs it from package-lock.json)")
    saved = subprocess.run(
        ["node", "--input-type=module", "-e", RESAVE, str(path)], cwd=ROOT, capture_output=True, timeout=60
    )
    assert saved.returncode == 0, saved.stderr.decode()
    resaved = saved.stdout
    assert decisions.check(path.name, resaved) == []  # (most come back byte for byte: written as dmn-js writes)
    before, after = decisions.parse(path.name, path.read_bytes()), decisions.parse(path.name, resaved)
    assert after.hit_policy == before.hit_policy and after.rows == before.rows
    for context in CONTEXTS[path.stem]:
        assert decisions.evaluate(after, context) == decisions.evaluate(before, context), context
