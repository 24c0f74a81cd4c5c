"""The working-day calendar, on the 2026 facts of the reference data."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from shared import workdays

D = dt.date
BEIJING = dt.timezone(dt.timedelta(hours=8))


def test_holidays_and_adjusted_working_days_of_2026():
    for holiday in (D(2026, 1, 1), D(2026, 2, 16), D(2026, 10, 1), D(2026, 10, 7)):
        assert not workdays.is_workday(holiday)
    for adjusted in (D(2026, 1, 4), D(2026, 2, 14), D(2026, 9, 20), D(2026, 10, 10)):  # weekends made working
        assert workdays.is_workday(adjusted)
    assert workdays.is_workday(D(2026, 11, 27)) and not workdays.is_workday(D(2026, 11, 28))


def test_five_working_days_over_the_national_day_holiday():
    assert workdays.add_workdays(D(2026, 9, 30), 5) == D(2026, 10, 12)
    assert workdays.workdays_between(D(2026, 9, 30), D(2026, 10, 12)) == 5
    assert workdays.add_workdays(D(2026, 11, 23), 5) == D(2026, 11, 27)  # an ordinary week
    assert workdays.add_workdays(D(2026, 11, 28), 1) == D(2026, 11, 30)  # a Saturday start moves on


def test_an_unknown_year_is_an_error_not_a_guess(monkeypatch):
    monkeypatch.delenv("TITLES_WORKDAYS_PROVISIONAL", raising=False)  # the suite sets it; production does not
    with pytest.raises(workdays.UnknownYear, match="2031"):
        workdays.is_workday(D(2031, 5, 6))


def test_a_year_can_be_added_by_data_before_the_package_knows_it(tmp_path, monkeypatch):
    data = tmp_path / "workdays.json"
    data.write_text(json.dumps({"years": {"2031": {"holidays": ["2031-01-01"], "workdays": ["2031-01-04"]}}}))
    monkeypatch.setenv("TITLES_WORKDAYS_FILE", str(data))
    assert not workdays.is_workday(D(2031, 1, 1))  # a Wednesday holiday
    assert workdays.is_workday(D(2031, 1, 4))  # a Saturday made a working day
    assert workdays.is_workday(D(2031, 1, 2)) and not workdays.is_workday(D(2031, 1, 5))
    assert workdays.add_workdays(D(2031, 1, 1), 2) == D(2031, 1, 3)


def test_count_must_be_positive():
    with pytest.raises(ValueError):
        workdays.add_workdays(D(2026, 9, 30), 0)


def test_a_provisional_calendar_only_where_asked_for(monkeypatch):
    monkeypatch.setenv("TITLES_WORKDAYS_PROVISIONAL", "1")
    assert not workdays.is_workday(D(2031, 1, 1)) and not workdays.is_workday(D(2031, 10, 2))
    assert workdays.is_workday(D(2031, 1, 2)) and not workdays.is_workday(D(2031, 1, 4))  # a Saturday
    assert workdays.is_workday(D(2026, 10, 10))  # known years keep their real calendar
    monkeypatch.setenv("TITLES_WORKDAYS_PROVISIONAL", "0")
    with pytest.raises(workdays.UnknownYear):
        workdays.is_workday(D(2031, 1, 2))


def test_the_package_is_asked_once_a_day_even_of_a_year_it_does_not_know(monkeypatch):
    monkeypatch.setenv("TITLES_WORKDAYS_PROVISIONAL", "1")
    asked: list[dt.date] = []
    package = workdays.chinese_calendar.is_workday

    def counted(day: dt.date) -> bool:
        asked.append(day)
        return package(day)

    monkeypatch.setattr(workdays.chinese_calendar, "is_workday", counted)
    workdays._in_package.cache_clear()
    try:
        for _ in range(3):  # deadlines count day by day, again and again
            assert workdays.add_workdays(D(2031, 3, 3), 5) == D(2031, 3, 7)  # Monday to Friday
            assert workdays.add_workdays(D(2026, 11, 23), 5) == D(2026, 11, 27)
    finally:
        workdays._in_package.cache_clear()
    assert sorted(asked) == [D(2026, 11, d) for d in range(23, 28)] + [D(2031, 3, d) for d in range(3, 8)]


def test_a_service_level_ends_after_its_working_days_on_the_calendar(monkeypatch, tmp_path):
    """The due time a service-level timer is given (engine/functions.py, on the system's clock): the end of
    the N-th working day after the day the task opened, Beijing time."""
    from services.review.engine.functions import working_days_due
    from shared import clock

    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")
    monkeypatch.setenv("TITLES_TEST_CLOCK_FILE", str(tmp_path / "test-clock.json"))
    # Opened on a Monday: five working days from Tuesday end the next Monday.
    clock.set_now_for_tests(dt.datetime(2026, 11, 16, 9, 0, tzinfo=BEIJING))
    assert dt.datetime.fromisoformat(working_days_due(5)) == dt.datetime(2026, 11, 23, 23, 59, 59, tzinfo=BEIJING)
    # Across the National Day holiday: five working days from Wednesday 30 September end on 12 October.
    clock.set_now_for_tests(dt.datetime(2026, 9, 29, 15, 0, tzinfo=BEIJING))
    assert dt.datetime.fromisoformat(working_days_due(5)) == dt.datetime(2026, 10, 12, 23, 59, 59, tzinfo=BEIJING)
    assert dt.datetime.fromisoformat(working_days_due(1)) == dt.datetime(2026, 9, 30, 23, 59, 59, tzinfo=BEIJING)
