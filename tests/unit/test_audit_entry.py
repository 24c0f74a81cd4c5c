"""The audit entry a step appends is a plain record: it must name the log's columns and hash as its row does."""

import dataclasses
import datetime as dt

from services.review.engine import audit
from services.review.models import AuditEntry


def test_an_entry_names_every_column_of_the_audit_log_but_its_id():
    columns = [c.key for c in AuditEntry.__table__.columns if c.key != "id"]
    assert [field.name for field in dataclasses.fields(audit.Entry)] == columns


def test_an_entry_hashes_as_the_row_it_becomes():
    entry = audit.Entry(
        instance_id="i-1",
        seq=3,
        declaration_id="d-1",
        at=dt.datetime(2026, 12, 8, 9, 30, tzinfo=dt.UTC),
        source="task",
        actor="unit",
        element="unit_check",
        task_id="t-1",
        decision="approve",
        reason="材料齐全",
        changes={"decision": "approve"},
        completed=["unit_check"],
        prev_hash=audit.GENESIS,
    )
    entry.hash = audit.digest(entry)
    stored = AuditEntry(**dataclasses.asdict(entry))
    assert audit.digest(stored) == entry.hash
    stored.reason = "材料不全"
    assert audit.digest(stored) != entry.hash
