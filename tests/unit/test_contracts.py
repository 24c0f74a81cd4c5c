"""Message classes: the wire contract they derive is the one recorded before they were classes."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import pytest
from marshmallow import fields, missing

from shared.contracts import CONTRACTS, ContractViolation, certificate, declaration, profile, review

RECORDED = pathlib.Path(__file__).parent / "data" / "message_contracts.json"


def _describe(field: fields.Field) -> dict:
    described = {"field": type(field).__name__, "required": field.required, "allow_none": field.allow_none}
    if field.load_default is not missing:
        described["load_default"] = field.load_default() if callable(field.load_default) else field.load_default
    if field.validators:
        described["validators"] = [repr(v) for v in field.validators]
    if isinstance(field, fields.Nested):
        described["nested"] = {name: _describe(f) for name, f in field.schema.fields.items()}
        described["unknown"] = field.schema.unknown
    if isinstance(field, fields.List):
        described["items"] = _describe(field.inner)
    return described


def test_each_class_checks_the_wire_as_the_recorded_contract():
    """Field names, required / allow_none / load_default, validators, nested parts and kind: unchanged."""
    derived = {
        message_type: {"kind": c.kind, "fields": {name: _describe(f) for name, f in c.schema().fields.items()}}
        for message_type, c in CONTRACTS.items()
    }
    assert json.loads(json.dumps(derived)) == json.loads(RECORDED.read_text())


def test_a_field_read_as_absent_gets_the_same_default_from_the_class():
    """A producer builds the class without an optional field; a consumer reads it without: the same value."""
    for message_type, c in CONTRACTS.items():
        schema = c.schema()
        for field in dataclasses.fields(c.message):
            load_default = schema.fields[field.name].load_default
            if load_default is missing:
                assert field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING, (
                    f"{message_type}.{field.name} is required on the wire but optional in the class"
                )
                continue
            default = field.default_factory() if field.default_factory is not dataclasses.MISSING else field.default
            assert default == (load_default() if callable(load_default) else load_default), (
                f"{message_type}.{field.name}"
            )


def test_each_class_knows_its_type_and_kind():
    assert CONTRACTS["review.completed.v1"].message is review.Completed
    assert declaration.Resubmitted.TYPE == "declaration.resubmitted.v1"
    assert certificate.Issue.KIND == "command" and certificate.Issued.KIND == "event"
    assert all(c.type == c.message.TYPE and c.kind == c.message.KIND for c in CONTRACTS.values())


def test_a_message_dumps_to_plain_json_and_loads_back():
    scheduled = review.DefenceScheduled(
        declaration_id="d1",
        applicant="applicant",
        at="2026-06-10T09:00:00+08:00",
        place="会议室",
        committee_code=None,
        first_notice_on=__import__("datetime").date(2026, 6, 3),
        reminder_on=__import__("datetime").date(2026, 6, 9),
        scheduled_at="2026-06-01T09:00:00+08:00",
    )
    data = scheduled.dump()
    assert data["first_notice_on"] == "2026-06-03"
    assert review.DefenceScheduled.load(json.loads(json.dumps(data))) == scheduled


def test_a_message_that_breaks_its_contract_is_not_dumped():
    broken = review.Completed(
        declaration_id="", applicant="applicant", outcome="certified", at="2026-06-10T09:00:00+08:00"
    )
    with pytest.raises(ContractViolation, match="declaration_id"):
        broken.dump()
    with pytest.raises(ContractViolation, match="surprise"):
        review.Completed.load({**dataclasses.asdict(broken), "declaration_id": "d1", "surprise": 1}, strict=True)


def test_nested_parts_are_classes_and_keep_their_tolerance():
    taken = profile.SnapshotTaken.load(
        {
            "declaration_id": "d1",
            "applicant": "applicant",
            "snapshot": {
                "name": "张伟",
                "id_number": "120101198806120032",
                "unit_code": "u",
                "unit_name": "单位",
                "attachments": [
                    {"id": "a1", "sha256": "0" * 64, "content_type": "application/pdf", "size": 1, "added_later": True}
                ],
                "completeness": {"ready": True},
            },
        }
    )
    assert isinstance(taken.snapshot, profile.Snapshot)
    assert taken.snapshot.attachments == [
        profile.AttachmentRef(id="a1", sha256="0" * 64, content_type="application/pdf", size=1)
    ]
    assert taken.snapshot.completeness == profile.Completeness(ready=True, missing=[])
