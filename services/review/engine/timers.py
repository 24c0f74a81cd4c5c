"""Timers on the system's clock: SpiffWorkflow's timer event definitions, judged by ``shared.clock``.

SpiffWorkflow's own timers read the wall clock (``datetime.now`` inside
``SpiffWorkflow/bpmn/specs/event_definitions/timer.py``, docs/engine.md E13), so the test clock — which
moves every service's "now" at once — would not move them. The three classes below are
SpiffWorkflow's with that one call replaced by ``shared.clock.now()``. They keep SpiffWorkflow's
class names, so a saved instance reads the same with or without them (the serializer's type
names are the class names), and the parser here builds them wherever a diagram has a timer.

A timer's due time is fixed the first time the engine looks at it (``event_value`` in the
waiting task's internal data): a date is evaluated then, a duration counted from then.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from SpiffWorkflow.bpmn.parser.BpmnParser import full_tag
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.specs.control import BoundaryEventSplit
from SpiffWorkflow.bpmn.specs.event_definitions import timer as spiff
from SpiffWorkflow.spiff.parser.event_parsers import (
    SpiffBoundaryEventParser,
    SpiffIntermediateCatchEventParser,
    SpiffIntermediateThrowEventParser,
    SpiffStartEventParser,
)
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG

from shared import clock


def _fired(my_task: Any, due: dt.datetime) -> bool:
    # As SpiffWorkflow: due once the clock is past it (a deadline instant itself is still open).
    if due < clock.now():
        my_task._set_internal_data(event_fired=True)
    return bool(my_task._get_internal_data("event_fired", False))


class TimeDateEventDefinition(spiff.TimeDateEventDefinition):
    """A timer at a date: the expression gives an ISO 8601 instant (with its offset), or None for no
    date at all (a declaration without a modification deadline): then the timer never fires, and
    behind an event-based gateway the other events decide."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            event_value = my_task.workflow.script_engine.evaluate(my_task, self.expression)
            my_task._set_internal_data(event_value=event_value)
        if event_value is None:
            return bool(my_task._get_internal_data("event_fired", False))
        return _fired(my_task, self.parse_time_or_duration(event_value))


class DurationTimerEventDefinition(spiff.DurationTimerEventDefinition):
    """A timer after a duration, counted from when the process reached it."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            duration = self.parse_iso_duration(my_task.workflow.script_engine.evaluate(my_task, self.expression))
            start = clock.now()
            event_value = (start + self.get_timedelta_from_start(duration, start)).isoformat()
            my_task._set_internal_data(event_value=event_value)
        return _fired(my_task, self.get_datetime(event_value))


class CycleTimerEventDefinition(spiff.CycleTimerEventDefinition):
    """A repeating timer ("R3/PT1H"; with no start, the first one an interval from now)."""

    def cycle_complete(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            cycles, start, duration = _recurring(my_task.workflow.script_engine.evaluate(my_task, self.expression))
            event_value = {"cycles": cycles, "next": start.isoformat(), "duration": duration.total_seconds()}
        ready = False
        if event_value["cycles"] != 0:
            next_event = dt.datetime.fromisoformat(event_value["next"])
            if next_event < clock.now():
                event_value["next"] = (next_event + dt.timedelta(seconds=event_value["duration"])).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready


def _recurring(expression: str) -> tuple[int, dt.datetime, dt.timedelta]:
    components = expression.upper().replace("--", "/").strip("R").split("/")
    if len(components) == 2 and components[1].startswith("P"):  # no start given: the first one from now
        start = clock.now()
        duration = spiff.TimerEventDefinition.get_timedelta_from_start(
            spiff.TimerEventDefinition.parse_iso_duration(components[1]), start
        )
        return int(components[0]) if components[0] else -1, start + duration, duration
    parsed: tuple[int, dt.datetime, dt.timedelta] = spiff.TimerEventDefinition.parse_iso_recurring_interval(expression)
    return parsed


# SpiffWorkflow's class -> ours.
CLOCKED = {
    spiff.TimeDateEventDefinition: TimeDateEventDefinition,
    spiff.DurationTimerEventDefinition: DurationTimerEventDefinition,
    spiff.CycleTimerEventDefinition: CycleTimerEventDefinition,
}


class _ClockedTimers:
    """Mixed into SpiffWorkflow's event parsers: a parsed timer becomes ours."""

    def parse_timer_event(self, event: Any) -> Any:
        parsed = super().parse_timer_event(event)  # type: ignore[misc]
        return CLOCKED[type(parsed)](parsed.name, parsed.expression, description=parsed.description)


def _clocked(parser_class: type) -> type:
    return type(parser_class.__name__, (_ClockedTimers, parser_class), {})


class Parser(SpiffBpmnParser):
    """SpiffWorkflow's parser (spiffworkflow: extensions, DMN) with timers on the system's clock."""

    OVERRIDE_PARSER_CLASSES = {
        **SpiffBpmnParser.OVERRIDE_PARSER_CLASSES,
        **{
            full_tag(tag): (_clocked(parser), SpiffBpmnParser.OVERRIDE_PARSER_CLASSES[full_tag(tag)][1])
            for tag, parser in (
                ("startEvent", SpiffStartEventParser),
                ("boundaryEvent", SpiffBoundaryEventParser),
                ("intermediateCatchEvent", SpiffIntermediateCatchEventParser),
                ("intermediateThrowEvent", SpiffIntermediateThrowEventParser),
            )
        },
    }

    def _add_diagram_indexes(self, bpmn: Any) -> None:
        # A task's lane is its lane's id (lane_<role>, engine/contract.py), not its name: a designer
        # names lanes freely (bilingual), the id says whose staff hold its tasks.
        super()._add_diagram_indexes(bpmn)
        self.document_lanes[self._document_key(bpmn)] = {
            ref.text: ref.getparent().get("id")
            for ref in bpmn.xpath(".//bpmn:flowNodeRef", namespaces=self.namespaces)
            if ref.text is not None
        }


def serializer_config() -> dict[type, type]:
    """SpiffWorkflow's serializer configuration with our timers in place of its own (same type names)."""
    config = dict(DEFAULT_CONFIG)
    for theirs, ours in CLOCKED.items():
        config.pop(theirs, None)
        config[ours] = TimerConditionalEventDefinitionConverter
    return config


def is_timer(definition: Any) -> bool:
    return isinstance(definition, spiff.TimerEventDefinition)


def due_at(task: Any) -> dt.datetime | None:
    """When a waiting task's timer is due, if it has one and its time is known.

    Behind an event-based gateway the gateway task holds its events' definitions (a
    MultipleEventDefinition) and the timer's evaluated date in its own internal data; there
    ``waiting_events()`` reports no time at all (docs/engine.md E12)."""
    definition = getattr(task.task_spec, "event_definition", None)
    inner = getattr(definition, "event_definitions", None)
    if not is_timer(definition) and not any(is_timer(d) for d in inner or ()):
        return None
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):  # a cycle: its next firing
        value = value.get("next") if value.get("cycles") != 0 else None
    if not value:
        return None
    due = spiff.TimerEventDefinition.parse_time_or_duration(str(value))
    return due if isinstance(due, dt.datetime) else None


def boundary_due_at(task: Any, interrupting_only: bool = False) -> dt.datetime | None:
    """When the earliest timer on a task's boundary is due (a service level): the timer waits beside the
    task under the split SpiffWorkflow puts before a task with boundary events (for a multi-instance
    task, before the task whose instances these are). ``interrupting_only``: the earliest of those that
    end the task when they fire (a deadline such as the close of voting), not the service levels."""
    parent = task.parent
    while parent is not None and not isinstance(parent.task_spec, BoundaryEventSplit):
        if parent.task_spec.bpmn_id not in (None, task.task_spec.bpmn_id):
            return None  # another element's task: no boundary of ours above it
        parent = parent.parent
    if parent is None:
        return None
    due = [
        at
        for child in parent.children
        if (not interrupting_only or getattr(child.task_spec, "cancel_activity", False))
        and (at := due_at(child)) is not None
    ]
    return min(due) if due else None
