"""The template file: every kind has its texts, and every text fills without surprises."""

from __future__ import annotations

import json

import pytest

from services.notify import templates

KINDS = (
    "stage_change",
    "return_notice",
    "result",
    "certificate_issued",
    "certificate_revoked",
    "organisation_message",
    "report_feedback",
    "defence_notice",
    "defence_reminder",
)


def test_the_file_is_valid_json_with_every_kind():
    texts = json.loads(templates.DEFAULT_FILE.read_text(encoding="utf-8"))
    for kind in KINDS:
        assert {"title", "body", "sms"} <= set(texts[kind]), kind


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_from_empty_data_without_none_or_braces(kind):
    rendered = templates.render(kind, {})
    for text in (rendered.title, rendered.body, rendered.sms):
        assert text and "None" not in text and "{" not in text


def test_attribute_access_in_an_edited_template_is_refused(tmp_path, monkeypatch):
    edited = tmp_path / "t.json"
    edited.write_text(json.dumps({"stage_change": {"title": "x", "body": "{stage_name.__class__}"}}), encoding="utf-8")
    monkeypatch.setenv("NOTIFY_TEMPLATES", str(edited))
    # "{a.b}" is looked up as one (unknown) name: no reaching into objects from an edited file.
    assert templates.render("stage_change", {"stage_name": "单位审核"}).body == templates.UNSTATED


def test_the_result_and_report_answers_are_put_in_words():
    assert "评审通过，已发证" in templates.render("result", {"outcome": "certified"}).body
    assert "举报属实" in templates.render("report_feedback", {"upheld": True}).body
    assert "不属实" in templates.render("report_feedback", {"upheld": False}).body
