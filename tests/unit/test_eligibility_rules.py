"""The normal category's decision tables (bpmn/eligibility_*.dmn) beyond education and years: annual
assessments (称职及以上) and continuing education (90 hours a year, two thirds specialist) for each year
since the current title, at most the table's window; which rule and which year fail; the exception
categories stay open; an edited table applies from the next check. The rules alone, on snapshots; over
HTTP in tests/integration/test_declaration_eligibility.py."""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from lxml import etree

from services.declaration import eligibility
from shared import decisions
from shared.config import bpmn_dir
from tests.integration.test_declaration import ELIGIBLE

ON = dt.date(2026, 11, 27)  # the window is then 2023, 2024, 2025 (the table's 3 years)
WINDOW = [2023, 2024, 2025]
BPMN = bpmn_dir()
DMN = {"dmn": decisions.DMN13}


def set_outputs(path, rule_id: str, **values: str) -> None:
    """Change output entries of one rule of a DMN file, by output name, as a designer would."""
    tree = etree.parse(str(path))
    names = [o.get("name") for o in tree.iterfind(".//dmn:output", DMN)]
    rule = tree.find(f".//dmn:rule[@id='{rule_id}']", DMN)
    for name, text in values.items():
        rule.findall("dmn:outputEntry", DMN)[names.index(name)].find("dmn:text", DMN).text = text
    tree.write(str(path), encoding="utf-8", xml_declaration=True)


def add_row_before(path, before_id: str, rule_id: str, inputs: list[str], outputs: list[str]) -> None:
    tree = etree.parse(str(path))
    before = tree.find(f".//dmn:rule[@id='{before_id}']", DMN)
    rule = etree.Element(f"{{{decisions.DMN13}}}rule", id=rule_id)
    for kind, texts in (("inputEntry", inputs), ("outputEntry", outputs)):
        for n, text in enumerate(texts):
            entry = etree.SubElement(rule, f"{{{decisions.DMN13}}}{kind}", id=f"{rule_id}_{kind}{n}")
            etree.SubElement(entry, f"{{{decisions.DMN13}}}text").text = text
    before.addprevious(rule)
    tree.write(str(path), encoding="utf-8", xml_declaration=True)


def snapshot(
    assessments: dict[int, str] | None = None, education: list[dict] | None = None, title: str = "2015-07-01"
) -> dict:
    assessments = assessments if assessments is not None else {y: "competent" for y in WINDOW}
    education = (
        education if education is not None else [{"year": y, "hours": 96, "specialist_hours": 64} for y in WINDOW]
    )
    return {
        **ELIGIBLE,
        "certificates": [{"kind": "title", "name": "工程师", "issued_on": title}],
        "annual_assessments": [{"year": y, "result": r} for y, r in assessments.items()],
        "continuing_education": education,
    }


def check(data: dict, on: dt.date = ON) -> dict:
    return eligibility.check("工程", "高级工程师", data, on)


def by_rule(result: dict) -> dict:
    return {c["rule"]: c for c in result["checks"]}


def test_every_year_competent_with_enough_hours_is_eligible():
    result = check(snapshot())
    assert result["eligible"] is True and result["failures"] == []
    checks = by_rule(result)
    assert set(checks) == {"education_years", "annual_assessment", "continuing_education"}
    assert checks["annual_assessment"]["years"] == WINDOW == checks["continuing_education"]["years"]
    # excellent counts as competent or above
    assert check(snapshot({2023: "excellent", 2024: "competent", 2025: "excellent"}))["eligible"] is True


@pytest.mark.parametrize(
    "results, year, shown",
    [
        ({2023: "competent", 2024: "basically_competent", 2025: "competent"}, 2024, "基本称职"),
        ({2023: "incompetent", 2024: "competent", 2025: "competent"}, 2023, "不称职"),
        ({2023: "competent", 2024: "competent"}, 2025, "none recorded"),
    ],
)
def test_an_assessment_below_competent_fails_naming_the_year(results, year, shown):
    result = check(snapshot(results))
    assert result["eligible"] is False
    checks = by_rule(result)
    assert checks["education_years"]["passed"] and checks["continuing_education"]["passed"]
    [failure] = checks["annual_assessment"]["failures"]
    assert f"{year}" in failure and shown in failure and "称职及以上" in failure, failure
    assert result["failures"] == [failure]


def test_the_window_starts_after_the_current_title():
    # Title in 2024: only 2025 is looked at (and education and years fail on their own)
    result = check(
        snapshot({2025: "competent"}, [{"year": 2025, "hours": 90, "specialist_hours": 60}], title="2024-03-01")
    )
    checks = by_rule(result)
    assert checks["annual_assessment"] == {"rule": "annual_assessment", "passed": True, "years": [2025], "failures": []}
    assert checks["continuing_education"]["passed"] and checks["continuing_education"]["years"] == [2025]
    assert not checks["education_years"]["passed"]
    # The latest title is the current one, whichever the rule counts years from.
    data = snapshot({2025: "competent"}, [{"year": 2025, "hours": 90, "specialist_hours": 60}])
    data["certificates"].append({"kind": "professional_qualification", "name": "注册工程师", "issued_on": "2024-05-01"})
    assert by_rule(check(data))["annual_assessment"]["years"] == [2025]


@pytest.mark.parametrize(
    "entries, year, phrase",
    [
        ([{"year": 2024, "hours": 80, "specialist_hours": 60}], 2024, "80 hours; needs at least 90"),
        ([{"year": 2024, "hours": 96, "specialist_hours": 63}], 2024, "63 specialist hours of 96"),
        ([{"year": 2024, "hours": 96}], 2024, "not given"),
        ([], 2024, "0 hours"),
    ],
)
def test_continuing_education_fails_naming_the_year(entries, year, phrase):
    others = [{"year": y, "hours": 96, "specialist_hours": 64} for y in WINDOW if y != year]
    result = check(snapshot(education=others + entries))
    assert result["eligible"] is False
    failures = by_rule(result)["continuing_education"]["failures"]
    assert failures and all(str(year) in f for f in failures), failures
    assert any(phrase in f for f in failures), failures


def test_several_entries_of_a_year_add_up_and_two_thirds_is_enough():
    education = [{"year": y, "hours": 45, "specialist_hours": 30} for y in WINDOW for _ in range(2)]
    assert by_rule(check(snapshot(education=education)))["continuing_education"]["passed"] is True


def test_the_window_and_thresholds_come_from_the_table(tmp_path, monkeypatch):
    # The declaration service reads bpmn/eligibility_yearly.dmn as it is now: edit a copy of the folder.
    folder = tmp_path / "bpmn"
    shutil.copytree(BPMN, folder)
    monkeypatch.setenv("TITLES_BPMN_DIR", str(folder))
    yearly = folder / "eligibility_yearly.dmn"
    set_outputs(
        yearly,
        "rule_default",
        assessment_window_years="1",
        continuing_education_window_years="1",
        continuing_education_hours="72",
    )
    data = snapshot({2025: "competent"}, [{"year": 2025, "hours": 72, "specialist_hours": 48}])
    result = check(data)
    assert result["eligible"] is True, result
    assert by_rule(result)["annual_assessment"]["years"] == [2025]
    # A row for one qualification, before the default (hit policy FIRST), may switch a requirement off.
    add_row_before(
        yearly,
        "rule_default",
        "rule_senior",
        ['"工程"', '"高级工程师"'],
        ["0", '["excellent"]', '"优秀"', "1", "72", "[2, 3]"],
    )
    assert "annual_assessment" not in by_rule(check(snapshot({}, data["continuing_education"])))
    assert "annual_assessment" in by_rule(eligibility.check("工程", "工程师", snapshot({}), ON))


def test_a_qualification_the_table_does_not_name_has_no_rule():
    assert eligibility.check("工程", "技术员", snapshot({}), ON) == {
        "eligible": True,
        "rule": None,
        "failures": [],
        "checks": [],
        "checked_on": ON.isoformat(),
    }


@pytest.mark.parametrize(
    "series, name",
    sorted({(r.inputs[0].strip('"'), r.inputs[1].strip('"')) for r in decisions.find("eligibility_normal").rows}),
)
def test_every_qualification_in_the_table_has_alternatives_the_check_can_name(series, name):
    options = eligibility.alternatives(series, name)
    assert options and all(o["education"] in eligibility.RANKS for o in options), options
    # Nothing recorded: every alternative fails, each naming what it needs.
    result = eligibility.check(series, name, {}, ON)
    assert result["eligible"] is False and result["rule"] == f"{series}/{name}"
    assert len(by_rule(result)["education_years"]["failures"]) == len(options)
