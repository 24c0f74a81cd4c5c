"""Eligibility of the normal category (正常申报): education and years, from a rule table.

The table (shared/demo/eligibility.json, or the file ELIGIBILITY_RULES names) is
data the city title office edits each year; code only evaluates it. It reads the
declaration's own snapshot, so an applicant corrects it there, not in the profile.
It reads the sections as the profile service sends them (shared/contracts/profile.py):
``educations`` [{level}] with the profile's level codes, ``qualification``
{first_professional_work_date, non_professional_years, professional_years} and
``certificates`` [{kind, name, issued_on}] (titles and exam qualifications),
``annual_assessments`` [{year, result}] and ``continuing_education`` [{year, hours, specialist_hours}].

Besides education and years, the table's ``annual_assessment`` and ``continuing_education`` hold for
every year of a window: the whole years since the current title was obtained (the latest title or exam
qualification in the snapshot; without one, since the first professional work), up to the year before
the check, the latest ``window_years`` of them. A rule may set its own ``annual_assessment`` /
``continuing_education`` (the keys it changes) or ``false`` to skip one.
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


def _window(snapshot: dict[str, Any], on: dt.date, years: int) -> list[int]:
    """The years to prove: after the current title's year (or the first professional work's) up to the
    year before ``on``, the latest ``years`` of them."""
    titles = [_date(c.get("issued_on")) for c in snapshot.get("certificates") or []
              if c.get("kind") in QUALIFYING_CERTIFICATES]
    titles = [d for d in titles if d]
    since = max(titles) if titles else _date((snapshot.get("qualification") or {}).get("first_professional_work_date"))
    last = on.year - 1
    first = max(last - years + 1, since.year + 1) if since else last - years + 1
    return list(range(first, last + 1))


def _settings(rules: dict[str, Any], rule: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The table's requirement, changed or switched off (false) by the rule."""
    own = rule.get(key, {})
    if own is False or key not in rules:
        return None
    return {**rules[key], **own}


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _assessments(snapshot: dict[str, Any], on: dt.date, settings: dict[str, Any]) -> dict[str, Any]:
    """年度考核: "competent or above" in every year of the window."""
    names, passing = settings.get("result_names", {}), settings["passing_results"]
    results = {a.get("year"): a.get("result") for a in snapshot.get("annual_assessments") or []}
    wanted = "/".join(names.get(r, r) for r in passing)
    window, failures = _window(snapshot, on, settings["window_years"]), []
    for year in window:
        result = results.get(year)
        if result is None:
            failures.append(f"annual assessment (年度考核) {year}: none recorded; needs {wanted} "
                            f"({settings.get('label', '称职及以上')})")
        elif result not in passing:
            failures.append(f"annual assessment (年度考核) {year}: {names.get(result, result)}; needs {wanted} "
                            f"({settings.get('label', '称职及以上')})")
    return {"rule": "annual_assessment", "passed": not failures, "years": window, "failures": failures}


def _continuing_education(snapshot: dict[str, Any], on: dt.date, settings: dict[str, Any]) -> dict[str, Any]:
    """继续教育 (人社部令第25号): enough hours in every year of the window, enough of them specialist subjects.
    An entry without ``specialist_hours`` proves no specialist hours."""
    hours: dict[int, float] = {}
    specialist: dict[int, float] = {}
    unproven: set[int] = set()
    for entry in snapshot.get("continuing_education") or []:
        year = entry.get("year")
        hours[year] = hours.get(year, 0.0) + (_number(entry.get("hours")) or 0.0)
        given = _number(entry.get("specialist_hours"))
        if given is None:
            unproven.add(year)
        specialist[year] = specialist.get(year, 0.0) + (given or 0.0)
    needed, (numerator, denominator) = settings["hours_per_year"], settings["specialist_share"]
    window, failures = _window(snapshot, on, settings["window_years"]), []
    for year in window:
        total, special = hours.get(year, 0.0), specialist.get(year, 0.0)
        if total < needed:
            failures.append(f"continuing education (继续教育) {year}: {total:g} hours; needs at least {needed:g} "
                            "a year (继续教育学时)")
        if total > 0 and special * denominator < total * numerator:
            missing = " (specialist hours not given count as none)" if year in unproven else ""
            failures.append(f"continuing education (继续教育) {year}: {special:g} specialist hours of {total:g}; "
                            f"needs at least {numerator}/{denominator} of the hours{missing} (专业科目学时)")
    return {"rule": "continuing_education", "passed": not failures, "years": window, "failures": failures}


def check(series: str, qualification_name: str, snapshot: dict[str, Any], on: dt.date) -> dict[str, Any]:
    """{eligible, rule, failures, checks} for the normal category: ``checks`` has one entry per requirement
    (education_years, annual_assessment, continuing_education) with what fails, year by year;
    ``failures`` all of them in one list."""
    rules = table()
    rule = next((r for r in rules["rules"]
                 if r["series"] == series and r["qualification_name"] == qualification_name), None)
    if rule is None:
        return {"eligible": True, "rule": None, "failures": [], "checks": [], "checked_on": on.isoformat()}
    checks = [_education_years(rules, rule, snapshot, on)]
    for key, evaluate in (("annual_assessment", _assessments), ("continuing_education", _continuing_education)):
        settings = _settings(rules, rule, key)
        if settings is not None:
            checks.append(evaluate(snapshot, on, settings))
    return {"eligible": all(c["passed"] for c in checks), "rule": f"{series}/{qualification_name}",
            "failures": [f for c in checks for f in c["failures"]], "checks": checks, "checked_on": on.isoformat()}


def _education_years(rules: dict[str, Any], rule: dict[str, Any], snapshot: dict[str, Any],
                     on: dt.date) -> dict[str, Any]:
    """Education and years: meeting one of the rule's alternatives is enough."""
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
            return {"rule": "education_years", "passed": True, "failures": []}
        failures.append(f"needs {wanted}; has {', '.join(problems)}")
    return {"rule": "education_years", "passed": False, "failures": failures}
