"""The review scheduler as the process ``titles scheduler`` (a real subprocess on the test databases
and the test clock): timers that fell due while it was down fire once each, in due order; one killed
(SIGKILL) in the middle of a batch neither loses nor doubles one; two side by side fire each once."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import wait_for
from tests.integration.test_review import UNIT

pytestmark = pytest.mark.other_processes_write  # the scheduler's own process writes the review database
ROOT = Path(__file__).resolve().parents[2]
BEIJING = dt.timezone(dt.timedelta(hours=8))
DAY = dt.date(2026, 3, 2)

# Waits at a timer at the end of its modification_deadline day; then a step that keeps the scheduler busy
# for a moment (so that a kill lands in the middle of a batch), then a task for the unit.
DIAGRAM = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="definitions_scheduled" targetNamespace="http://bpmn.io/schema/bpmn">
  <bpmn:process id="scheduled" isExecutable="true">
    <bpmn:laneSet id="lanes">
      <bpmn:lane id="lane_unit" name="Work unit (工作单位)"><bpmn:flowNodeRef>after_wait</bpmn:flowNodeRef></bpmn:lane>
    </bpmn:laneSet>
    <bpmn:startEvent id="start"><bpmn:outgoing>f1</bpmn:outgoing></bpmn:startEvent>
    <bpmn:intermediateCatchEvent id="deadline" name="Deadline">
      <bpmn:incoming>f1</bpmn:incoming><bpmn:outgoing>f2</bpmn:outgoing>
      <bpmn:timerEventDefinition id="deadline_timer">
        <bpmn:timeDate>end_of_day(modification_deadline)</bpmn:timeDate>
      </bpmn:timerEventDefinition>
    </bpmn:intermediateCatchEvent>
    <bpmn:scriptTask id="busy" name="Busy" scriptFormat="python">
      <bpmn:incoming>f2</bpmn:incoming><bpmn:outgoing>f3</bpmn:outgoing>
      <bpmn:script>busy = sum(range(BUSY))</bpmn:script>
    </bpmn:scriptTask>
    <bpmn:userTask id="after_wait" name="After the wait">
      <bpmn:extensionElements>
        <spiffworkflow:properties>
          <spiffworkflow:property name="organisation" value="unit_code" />
          <spiffworkflow:property name="decisions" value="approve" />
          <spiffworkflow:property name="stage" value="after_wait" />
        </spiffworkflow:properties>
      </bpmn:extensionElements>
      <bpmn:incoming>f3</bpmn:incoming><bpmn:outgoing>f4</bpmn:outgoing>
    </bpmn:userTask>
    <bpmn:endEvent id="done"><bpmn:extensionElements><spiffworkflow:properties><spiffworkflow:property name="outcome" value="none" /></spiffworkflow:properties></bpmn:extensionElements><bpmn:incoming>f4</bpmn:incoming></bpmn:endEvent>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="deadline" />
    <bpmn:sequenceFlow id="f2" sourceRef="deadline" targetRef="busy" />
    <bpmn:sequenceFlow id="f3" sourceRef="busy" targetRef="after_wait" />
    <bpmn:sequenceFlow id="f4" sourceRef="after_wait" targetRef="done" />
  </bpmn:process>
</bpmn:definitions>
"""


@pytest.fixture
def review(dbs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    from shared import clock

    monkeypatch.setenv("TITLES_TEST_CLOCK", "1")  # the subprocesses inherit it, and the clock file's place
    clock.set_now_for_tests(dt.datetime.combine(DAY, dt.time(12), BEIJING))
    return dbs["review"]


def instances_due(db: Any, tmp_path: Path, deadlines: list[int], busy: int = 10) -> dict[str, dt.date]:
    """One instance per deadline (days after DAY), all waiting at their timer; declaration id -> deadline."""
    from services.review.engine import definitions, runtime

    (tmp_path / "scheduled.bpmn").write_text(DIAGRAM.replace("BUSY", str(busy)), "utf-8")
    started = {}
    with db.uow() as uow:
        [(definition, _)] = definitions.deploy_directory(uow, tmp_path)
        for index, days in enumerate(deadlines):
            deadline = DAY + dt.timedelta(days=days)
            declaration_id = f"scheduled-{index:02d}-{days:02d}"
            runtime.start(
                uow,
                definition,
                declaration_id,
                "applicant",
                {"unit_code": UNIT, "modification_deadline": deadline.isoformat()},
            )
            started[declaration_id] = deadline
        uow.commit()
    return started


def scheduler() -> subprocess.Popen:
    titles = str(Path(sys.executable).with_name("titles"))
    return subprocess.Popen(
        [titles, "scheduler"],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def fired(db: Any) -> list[str]:
    """The declarations whose timer fired, in the order the firings committed (the audit log's order)."""
    from services.review.models import AuditEntry

    with db.uow(readonly=True) as uow:
        return list(
            uow.session.scalars(
                select(AuditEntry.declaration_id).where(AuditEntry.source == "timer").order_by(AuditEntry.id)
            )
        )


def after_wait_tasks(db: Any) -> dict[str, int]:
    from services.review.models import Task

    with db.uow(readonly=True) as uow:
        return dict(
            uow.session.execute(
                select(Task.declaration_id, func.count())
                .where(Task.bpmn_id == "after_wait")
                .group_by(Task.declaration_id)
            ).all()
        )


def assert_each_fired_once(db: Any, started: dict[str, dt.date]) -> None:
    from services.review.models import Timer

    assert sorted(fired(db)) == sorted(started)  # one timer step each: none lost, none doubled
    assert after_wait_tasks(db) == {declaration_id: 1 for declaration_id in started}
    with db.uow(readonly=True) as uow:
        assert uow.session.scalar(select(func.count()).select_from(Timer)) == 0


def pass_days(days: int) -> None:
    from shared import clock

    clock.set_now_for_tests(dt.datetime.combine(DAY + dt.timedelta(days=days), dt.time(12), BEIJING))


def test_timers_due_while_the_scheduler_was_down_fire_once_each_in_due_order(review, tmp_path):
    started = instances_due(review, tmp_path, [4, 1, 5, 3, 2, 8])
    pass_days(6)  # the scheduler is down: five fall due, one (day 8) is still ahead
    process = scheduler()
    try:
        wait_for("the five due timers", lambda: len(fired(review)) == 5, timeout=120)
    finally:
        stop(process)
    by_deadline = sorted((d for d in started if started[d] < DAY + dt.timedelta(days=6)), key=started.get)
    assert fired(review) == by_deadline  # earliest due first
    assert sorted(after_wait_tasks(review)) == sorted(by_deadline)


def test_a_scheduler_killed_in_the_middle_of_a_batch_neither_loses_nor_doubles_a_timer(review, tmp_path):
    started = instances_due(review, tmp_path, list(range(1, 17)), busy=6_000_000)
    pass_days(20)  # all sixteen are due
    first = scheduler()
    try:
        wait_for("the first firings", lambda: len(fired(review)) >= 2, timeout=120, interval=0.01)
        first.send_signal(signal.SIGKILL)  # in the middle of the batch, perhaps in the middle of one instance
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    before_restart = len(fired(review))
    assert 2 <= before_restart < len(started)  # killed half way
    second = scheduler()
    try:
        wait_for("every timer after the restart", lambda: len(fired(review)) >= len(started), timeout=180)
    finally:
        stop(second)
    assert_each_fired_once(review, started)
    assert fired(review) == sorted(started, key=started.get)  # still in due order across the restart


def test_two_schedulers_side_by_side_fire_each_timer_once(review, tmp_path):
    started = instances_due(review, tmp_path, list(range(1, 13)), busy=1_000_000)
    pass_days(15)
    both = [scheduler(), scheduler()]
    try:
        wait_for("every timer", lambda: len(after_wait_tasks(review)) == len(started), timeout=180)
    finally:
        for process in both:
            stop(process)
    assert_each_fired_once(review, started)


def test_a_move_of_the_test_clock_fires_what_it_made_due_without_waiting_for_the_next_tick(
    review, tmp_path, monkeypatch
):
    import threading

    from services.review import scheduler as review_scheduler

    started = instances_due(review, tmp_path, [3])
    ticks: list[object] = []
    look = review_scheduler.earliest_due
    monkeypatch.setattr(review_scheduler, "earliest_due", lambda db: ticks.append(look(db)) or ticks[-1])
    stop_event = threading.Event()
    # A tick a minute: only the scheduler's glance at the clock can fire the timer within the wait below.
    loop = threading.Thread(target=review_scheduler.run, args=(review, stop_event, 60.0), daemon=True)
    loop.start()
    try:
        wait_for("the scheduler's first tick", lambda: ticks)
        assert ticks == [dt.datetime.combine(DAY + dt.timedelta(days=3), dt.time(23, 59, 59), BEIJING)]
        assert fired(review) == []  # not due yet
        pass_days(4)
        wait_for("the timer the move made due", lambda: fired(review) == list(started), timeout=20)
    finally:
        stop_event.set()
        loop.join(30)
    assert_each_fired_once(review, started)
