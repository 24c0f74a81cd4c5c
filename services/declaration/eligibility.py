"""Eligibility of the normal category (正常申报): education and years, from a rule table.

The table (shared/demo/eligibility.json, or the file ELIGIBILITY_RULES names) is
data the city title office edits each year; code only evaluates it. It reads the
declaration's own snapshot, so an applicant corrects it there, not in the profile.
It reads the sections as the profile service sends them (shared/contracts/profile.py):
``educations`` [{level}] with the profile's level codes, ``qualification``
{first_professional_work_date, non_professional_years, professional_years} and
``certificates`` [{kind, name, issued_on}] (titles and exam qualifications).
"""
from __future__ import annotations

import datetime as dt
import json
import os
from functools import lru_cache
from importlib import resources
from typing import Any


@lru_cache(maxsize=4)
def _load(path: str | None) -> dict[str, Any]:
    if path:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    return json.loads(resources.files("shared.demo").joinpath("eligibility.json").read_text("utf-8"))


def table() -> dict[str, Any]:
    return _load(os.environ.get("ELIGIBILITY_RULES"))


def _whole_years(since: dt.date, on: dt.date) -> int:
    years = on.year - since.year
    return years - 1 if (on.month, on.day) < (since.month, since.day) else years


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


# The profile's education level codes (services/profile/rules.py) that the table names otherwise.
PROFILE_LEVELS = {"technical_secondary": "secondary"}
# Certificates that hold a qualification name: titles, and qualifications from national exams (以考代评).
QUALIFYING_CERTIFICATES = ("title", "professional_qualification")


def _education(snapshot: dict[str, Any], rules: dict[str, Any]) -> str | None:
    ranks, aliases = rules["education_ranks"], {**rules["education_aliases"], **PROFILE_LEVELS}
    best = None
    for record in snapshot.get("educations") or []:
        raw = record.get("level")
        code = raw if raw in ranks else aliases.get(raw)
        if code and (best is None or ranks[code] > ranks[best]):
            best = code
    return best


def _professional_years(snapshot: dict[str, Any], on: dt.date) -> int | None:
    """Whole years from the first professional work to the day of the check, minus non-professional years
    (the profile's rule); the snapshot's computed figure only when the date is missing."""
    qualification = snapshot.get("qualification") or {}
    started = _date(qualification.get("first_professional_work_date"))
    if started is None:
        given = qualification.get("professional_years")
        return int(given) if isinstance(given, (int, float)) else None
    try:
        away = float(qualification.get("non_professional_years") or 0)
    except (TypeError, ValueError):
        away = 0.0
    return max(0, int(_whole_years(started, on) - away))


def _years_since_title(snapshot: dict[str, Any], name: str, on: dt.date) -> int | None:
    dates = [_date(c.get("issued_on")) for c in snapshot.get("certificates") or []
             if c.get("kind") in QUALIFYING_CERTIFICATES and c.get("name") == name]
    dates = [d for d in dates if d]
    return _whole_years(min(dates), on) if dates else None


def check(series: str, qualification_name: str, snapshot: dict[str, Any], on: dt.date) -> dict[str, Any]:
    """{eligible, rule, failures: [why each alternative fails]} for the normal category."""
    rules = table()
    rule = next((r for r in rules["rules"]
                 if r["series"] == series and r["qualification_name"] == qualification_name), None)
    if rule is None:
        return {"eligible": True, "rule": None, "failures": [], "checked_on": on.isoformat()}
    ranks, names = rules["education_ranks"], rules["education_names"]
    education = _education(snapshot, rules)
    failures = []
    for alternative in rule["alternatives"]:
        need = alternative["education"]
        basis = alternative.get("since_title")
        years = _years_since_title(snapshot, basis, on) if basis else _professional_years(snapshot, on)
        wanted = (f"{names[need]} or above and {alternative['years']} years"
                  + (f" as {basis} (任{basis}满{alternative['years']}年)" if basis
                     else f" of professional work (专业工作满{alternative['years']}年)"))
        problems = []
        if education is None or ranks[education] < ranks[need]:
            problems.append(f"education is {names.get(education, 'not given (未填写学历)')}")
        if alternative["years"] > 0 and (years is None or years < alternative["years"]):
            problems.append(f"{'no' if years is None else years} years")
        if not problems:
            return {"eligible": True, "rule": f"{series}/{qualification_name}", "failures": [],
                    "checked_on": on.isoformat()}
        failures.append(f"needs {wanted}; has {', '.join(problems)}")
    return {"eligible": False, "rule": f"{series}/{qualification_name}", "failures": failures,
            "checked_on": on.isoformat()}
