"""Who is calling: the verified identity services work with after token checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Roles the evaluation workflow knows about; tokens carrying any other role
# are rejected so a misconfigured provider cannot invent privileges.
APPLICANT = "applicant"
UNIT = "unit"
DEPARTMENT = "department"
COMMITTEE = "committee"
EXPERT = "expert"
TITLE_OFFICE = "title_office"
DESIGNER = "designer"

ROLES: tuple[str, ...] = (APPLICANT, UNIT, DEPARTMENT, COMMITTEE, EXPERT, TITLE_OFFICE, DESIGNER)


@dataclass(frozen=True)
class Principal:
    subject: str
    role: str
    organisation: str | None = None
    name: str | None = None
    # Kept out of repr: a national ID number must not leak into logs.
    id_number: str | None = field(default=None, repr=False)
    # Full verified claim set for anything not mapped above. Excluded from the
    # hash because dicts are unhashable; Principal stays usable as a dict key.
    claims: dict[str, Any] = field(default_factory=dict, hash=False, repr=False)

    def has_role(self, *roles: str) -> bool:
        return self.role in roles
