"""The national higher-education register (学信网) adapter.

The real register is reached through an agreement and credentials the city
holds; the embedded default and the tests read a file-backed fake with the
same shape: records keyed by ID number. ``PROFILE_REGISTER_FILE`` points at
another file; by default the demonstration register bundled with the service.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shared import config, file_cache

DEMO_FILE = Path(__file__).with_name("demo") / "register.json"


@dataclass(frozen=True)
class RegisterRecord:
    register_id: str  # the register's certificate number: importing twice updates nothing
    school: str
    specialty: str
    level: str
    study_mode: str
    start_date: dt.date
    end_date: dt.date


class EducationRegister(Protocol):
    def records(self, id_number: str) -> list[RegisterRecord]: ...


class FileRegister:
    """A JSON file {"records": {"<id number>": [{register_id, school, ...}]}}, read again only when it
    changed (``make bench`` gives it a record for each of hundreds of applicants)."""

    def __init__(self, path: Path | None = None):
        self.path = Path(path or config.settings().profile_register_file or DEMO_FILE)

    def records(self, id_number: str) -> list[RegisterRecord]:
        data = _parsed(self.path)
        return [
            RegisterRecord(
                r["register_id"],
                r["school"],
                r["specialty"],
                r["level"],
                r["study_mode"],
                dt.date.fromisoformat(r["start_date"]),
                dt.date.fromisoformat(r["end_date"]),
            )
            for r in data.get("records", {}).get(id_number, [])
        ]


_kept: file_cache.Kept = {}


def _parsed(path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = file_cache.read(str(path), lambda p: json.loads(Path(p).read_text("utf-8")), _kept)
    return parsed


def register() -> EducationRegister:
    return FileRegister()
