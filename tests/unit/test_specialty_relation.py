"""The specialty relation table alone (bpmn/specialty_relation.dmn): the same name is direct, the table's
groups are related, anything else is unrelated; a warning, or a refusal where the activity says so. Over
HTTP in tests/integration/test_declaration_specialty.py."""

from __future__ import annotations

import pytest

from services.declaration import specialty


@pytest.mark.parametrize(
    "series, declared, current, related",
    [
        ("工程", "软件工程", "软件工程", "directly"),
        ("会计", "会计", "会计", "directly"),  # the same name, in any series
        ("工程", "软件工程", " 软件工程专业 ", "directly"),  # as typed: spaces and 专业 dropped
        ("工程", "软件工程", "软件　工程", "directly"),  # a full-width space
        ("工程", "计算机应用技术", "计算机科学与技术", "directly"),  # the discipline's name
        ("工程", "软件工程", "计算机科学与技术", "related"),  # computer specialties among themselves
        ("工程", "软件工程", "计算机应用技术", "related"),
        ("工程", "机械工程", "电气工程及其自动化", "related"),
        ("卫生", "内科学", "外科学", "related"),
        ("中小学教师", "语文", "汉语言文学", "directly"),
        ("工程", "软件工程", "临床医学", "unrelated"),
        ("工程", "软件工程", "机械工程", "unrelated"),
        ("卫生", "内科学", "软件工程", "unrelated"),
    ],
)
def test_the_table_relates_the_current_specialty_to_the_declared_one(series, declared, current, related):
    result = specialty.check(series, declared, current)
    assert result["related"] == related and result["reason"], result
    assert result["passed"] is (related != "unrelated")
    assert specialty.warnings(result) == ([] if result["passed"] else [specialty.message(result)])
    assert not specialty.refused(result)
    assert specialty.refused(specialty.check(series, declared, current, "refuse")) is (related == "unrelated")


def test_no_current_specialty_is_left_to_the_profile_s_completeness():
    result = specialty.check("工程", "软件工程", "  ", "refuse")
    assert result["related"] is None and result["passed"] is True and not specialty.refused(result)
