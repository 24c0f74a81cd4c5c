"""The file-backed higher-education register (学信网) of the embedded default (services/profile/register.py)."""

from __future__ import annotations

import json
import os

from services.profile import register


def _write(path, school: str) -> None:
    record = {
        "register_id": "R1",
        "school": school,
        "specialty": "土木工程",
        "level": "本科",
        "study_mode": "全日制",
        "start_date": "2006-09-01",
        "end_date": "2010-07-01",
    }
    path.write_text(json.dumps({"records": {"120101198806120032": [record]}}, ensure_ascii=False), "utf-8")


def test_the_file_is_parsed_once_and_again_when_it_changes(tmp_path, monkeypatch):
    path = tmp_path / "register.json"
    _write(path, "天津大学")
    settled = path.stat().st_mtime_ns - 1_000_000_000  # written a second ago: past the settling window
    os.utime(path, ns=(settled, settled))
    parses = []
    real = register.json.loads
    monkeypatch.setattr(register.json, "loads", lambda text: parses.append(1) or real(text))
    found = register.FileRegister(path)
    assert [r.school for r in found.records("120101198806120032")] == ["天津大学"]
    assert found.records("110101199003071234") == []
    assert len(parses) == 1  # one parse for both lookups
    _write(path, "南开大学")  # same size, another mtime
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert [r.school for r in found.records("120101198806120032")] == ["南开大学"]
    assert len(parses) == 2
