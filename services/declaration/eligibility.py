"""Eligibility of the normal category (正常申报): the decision tables in ``bpmn/``.

The rules are the DMN files beside the diagrams, the same files the review process reads
(shared/decisions.py): ``eligibility_normal.dmn`` gives, per series and qualification name, the
alternatives of education and years (meeting one is enough); ``eligibility_yearly.dmn`` the
annual assessments and continuing education to prove and over how many years;
``eligibility_categories.dmn`` which categories are held to them. Code only evaluates them, and
reads the files as they are now: an edited table applies from the next check. It reads the
declaration's own snapshot, so an applicant corrects it there, not in the profile.
It reads the sections as the profile service sends them (shared/contracts/profile.py):
``educations`` [{level}] with the profile's level codes, ``qualification``
{first_professional_work_date, non_professional_years, professional_years} and
``certificates`` [{kind, name, issued_on}] (titles and exam qualifications),
``annual_assessments`` [{year, result}] and ``continuing_education`` [{year, hours, specialist_hours}].

Annual assessments and continuing education hold for every year of a window: the whole years since
the current title was obtained (the latest title or exam qualification in the snapshot; without one,
since the first professional work), up to the year before the check, the latest ``window`` of them
(a window of 0 years: not required).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from shared import decisions

NORMAL, YEARLY, CATEGORIES = "eligibility_normal", "eligibility_yearly", "eligibility_categories"


def category_needs(category: str) -> dict[str, bool]:
    """What a category needs (eligibility_categories.dmn): ``normal_conditions``,
    ``exception_claims_required``, ``employer_proof_required``; all false for a category it lacks."""
    found = decisions.decide(CATEGORIES, {"category": category})
    return {
        key: bool(found.get(key))
        for key in ("normal_conditions", "exception_claims_required", "employer_proof_required")
    }


def _whole_years(since: dt.date, on: dt.date) -> int:
    years = on.year - since.year
    return years - 1 if (on.month, on.day) < (since.month, since.day) else years


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


# Education levels from the highest down (a fact of the education system, not a yearly rule): the
# codes the tables name, the name an applicant reads, and the other names records carry (the
# profile's level codes, older or imported Chinese names).
EDUCATION_LEVELS = (
    ("doctorate", "博士研究生", ("博士",)),
    ("master", "硕士研究生", ("硕士",)),
    ("bachelor", "大学本科", ("本科",)),
    ("junior_college", "大学专科", ("大专",)),
    ("secondary", "中专", ("technical_secondary", "中等专业学校")),
)
RANKS = {code: len(EDUCATION_LEVELS) - n for n, (code, _, _) in enumerate(EDUCATION_LEVELS)}
NAMES = {code: name for code, name, _ in EDUCATION_LEVELS}
ALIASES = {alias: code for code, name, others in EDUCATION_LEVELS for alias in (name, *others)}
# Certificates that hold a qualification name: titles, and qualifications from national exams (以考代评).
QUALIFYING_CERTIFICATES = ("title", "professional_qualification")
# The assessment results as an applicant reads them (the profile's codes).
RESULT_NAMES = {"excellent": "优秀", "competent": "称职", "basically_competent": "基本称职", "incompetent": "不称职"}


def _education(snapshot: dict[str, Any]) -> str | None:
    best = None
    for record in snapshot.get("educations") or []:
        raw = record.get("level")
        code = raw if raw in RANKS else ALIASES.get(raw)
        if code and (best is None or RANKS[code] > RANKS[best]):
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
    issued = [
        _date(c.get("issued_on"))
        for c in snapshot.get("certificates") or []
        if c.get("kind") in QUALIFYING_CERTIFICATES and c.get("name") == name
    ]
    dates = [d for d in issued if d]
    return _whole_years(min(dates), on) if dates else None


def _window(snapshot: dict[str, Any], on: dt.date, years: int) -> list[int]:
    """The years to prove: after the current title's year (or the first professional work's) up to the
    year before ``on``, the latest ``years`` of them."""
    issued = [
        _date(c.get("issued_on"))
        for c in snapshot.get("certificates") or []
        if c.get("kind") in QUALIFYING_CERTIFICATES
    ]
    titles = [d for d in issued if d]
    since = max(titles) if titles else _date((snapshot.get("qualification") or {}).get("first_professional_work_date"))
    last = on.year - 1
    first = max(last - years + 1, since.year + 1) if since else last - years + 1
    return list(range(first, last + 1))


def _number(value: Any) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _assessments(snapshot: dict[str, Any], on: dt.date, rules: dict[str, Any]) -> dict[str, Any]:
    """年度考核: a passing result (称职及以上, say) in every year of the window."""
    passing, label = list(rules["assessment_passing_results"]), rules["assessment_label"]
    results = {a.get("year"): a.get("result") for a in snapshot.get("annual_assessments") or []}
    wanted = "/".join(RESULT_NAMES.get(r, r) for r in passing)
    window, failures = _window(snapshot, on, int(rules["assessment_window_years"])), []
    for year in window:
        result = results.get(year)
        if result is None:
            failures.append(f"annual assessment (年度考核) {year}: none recorded; needs {wanted} ({label})")
        elif result not in passing:
            failures.append(
                f"annual assessment (年度考核) {year}: {RESULT_NAMES.get(result, result)}; needs {wanted} ({label})"
            )
    return {"rule": "annual_assessment", "passed": not failures, "years": window, "failures": failures}


def _continuing_education(snapshot: dict[str, Any], on: dt.date, rules: dict[str, Any]) -> dict[str, Any]:
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
    needed = float(rules["continuing_education_hours"])
    numerator, denominator = rules["continuing_education_specialist_share"]
    window, failures = _window(snapshot, on, int(rules["continuing_education_window_years"])), []
    for year in window:
        total, special = hours.get(year, 0.0), specialist.get(year, 0.0)
        if total < needed:
            failures.append(
                f"continuing education (继续教育) {year}: {total:g} hours; needs at least {needed:g} "
                "a year (继续教育学时)"
            )
        if total > 0 and special * denominator < total * numerator:
            missing = " (specialist hours not given count as none)" if year in unproven else ""
            failures.append(
                f"continuing education (继续教育) {year}: {special:g} specialist hours of {total:g}; "
                f"needs at least {numerator}/{denominator} of the hours{missing} (专业科目学时)"
            )
    return {"rule": "continuing_education", "passed": not failures, "years": window, "failures": failures}


def alternatives(series: str, qualification_name: str) -> list[dict[str, Any]]:
    """The rule's alternatives of education and years (eligibility_normal.dmn), in table order:
    [{education, years, since_title}]; none when the table has no rule for the qualification."""
    found = decisions.decide(NORMAL, {"series": series, "qualification_name": qualification_name})
    columns = [found.get(key) or [] for key in ("education", "years", "since_title")]
    return [
        {"education": education, "years": int(years), "since_title": since_title or None}
        for education, years, since_title in zip(*columns)
    ]


def check(series: str, qualification_name: str, snapshot: dict[str, Any], on: dt.date) -> dict[str, Any]:
    """{eligible, rule, failures, checks} for the normal category: ``checks`` has one entry per requirement
    (education_years, annual_assessment, continuing_education) with what fails, year by year;
    ``failures`` all of them in one list."""
    options = alternatives(series, qualification_name)
    if not options:
        return {"eligible": True, "rule": None, "failures": [], "checks": [], "checked_on": on.isoformat()}
    yearly = decisions.decide(YEARLY, {"series": series, "qualification_name": qualification_name})
    checks = [_education_years(options, snapshot, on)]
    for window, evaluate in (
        ("assessment_window_years", _assessments),
        ("continuing_education_window_years", _continuing_education),
    ):
        if int(yearly.get(window) or 0) > 0:
            checks.append(evaluate(snapshot, on, yearly))
    return {
        "eligible": all(c["passed"] for c in checks),
        "rule": f"{series}/{qualification_name}",
        "failures": [f for c in checks for f in c["failures"]],
        "checks": checks,
        "checked_on": on.isoformat(),
    }


def _education_years(options: list[dict[str, Any]], snapshot: dict[str, Any], on: dt.date) -> dict[str, Any]:
    """Education and years: meeting one of the rule's alternatives is enough."""
    education = _education(snapshot)
    failures = []
    for alternative in options:
        need = alternative["education"]
        if need not in RANKS:
            raise decisions.DecisionFailed(f"{NORMAL}: education {need!r} is none of {', '.join(RANKS)}")
        basis = alternative["since_title"]
        years = _years_since_title(snapshot, basis, on) if basis else _professional_years(snapshot, on)
        wanted = f"{NAMES[need]} or above and {alternative['years']} years" + (
            f" as {basis} (任{basis}满{alternative['years']}年)"
            if basis
            else f" of professional work (专业工作满{alternative['years']}年)"
        )
        problems = []
        if education is None or RANKS[education] < RANKS[need]:
            problems.append(f"education is {NAMES[education] if education else 'not given (未填写学历)'}")
        if alternative["years"] > 0 and (years is None or years < alternative["years"]):
            problems.append(f"{'no' if years is None else years} years")
        if not problems:
            return {"rule": "education_years", "passed": True, "failures": []}
        failures.append(f"needs {wanted}; has {', '.join(problems)}")
    return {"rule": "education_years", "passed": False, "failures": failures}
