"""Diagrams: parse with SpiffWorkflow's validator, check the project's rules,
deploy as versions identified by content hash, and cache parsed specs.

A diagram may call another process (a call activity's ``calledElement``, e.g. the
return-and-resubmit loop every mode calls). Its version bundles the versions of
the processes it calls, each stored as a version of its own, and its id hashes
them all: changing the called diagram makes a new version of every caller. The
called process is looked up, in order, among the diagrams given together, the
other diagrams in the folder (``bpmn/``), and (when deploying) the versions
already deployed; a call nothing defines is refused with the rule
``known_called_process``.

A business-rule task evaluates a decision table (``spiffworkflow:calledDecisionId``): a DMN file
found the same way (the files given together, the ``*.dmn`` files of the folder, the deployed
versions). A version stores the text of the decisions its diagram uses and its id hashes them,
so changing a table makes a new version of every diagram that uses it; a table that is broken
is refused naming its file, the decision and the rule row."""

from __future__ import annotations

import ast
import builtins
import datetime as dt
import difflib
import functools
import hashlib
import io
import re
from collections import ChainMap
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.parser.process import VALIDATOR
from sqlalchemy import select
from sqlalchemy.orm import defer

from services.review.engine import contract, timers
from services.review.engine.functions import FUNCTIONS
from services.review.engine.messages import INBOUND, OUTBOUND
from services.review.models import Definition
from shared import decisions as tables
from shared.config import bpmn_dir
from shared.contracts.review import NO_OUTCOME, OUTCOMES
from shared.uow import UnitOfWork

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
# An ISO 8601 duration, date(-time) or cycle written bare: a timer expression is
# Python, so it must be quoted ("P5D"), else it fails only when reached (docs/engine.md E1).
# A duration, or what was meant as one with the designators misplaced ("PT5D").
_DURATION = r"P(?:\d+[YMWD])*(?:T(?:\d+(?:[.,]\d+)?[HMS])+)?|P[\dYMWDTHS.,]*\d[\dYMWDTHS.,]*"
_DATE = r"\d{4}-\d{2}-\d{2}(?:T[\d:.,]+(?:Z|[+-]\d{2}:?\d{2})?)?"
_BARE_ISO = re.compile(rf"(?:R\d*/)?(?:{_DURATION}|{_DATE})(?:/(?:{_DURATION}|{_DATE}))?")
# What a mode's process starts with (service.start_review seeds the start task's data with these), and
# what completing a user task adds (service.complete): names a timer may read though no task of the
# diagram sets them.
START_VARIABLES = frozenset(
    {
        "declaration_id",
        "applicant",
        "applicant_name",
        "id_number",
        "unit_code",
        "unit_name",
        "activity_id",
        "committee_code",
        "committee_name",
        "mode",
        "series",
        "level",
        "specialty",
        "qualification_name",
        "category",
        "modification_deadline",
        "settings",
        "departments",
        "title_office_code",
        "department_chain",  # the departments under their old name, for versions deployed before department_chain.bpmn
        # the activity's own settings, which the decision tables take as stricter values (the tables'
        # outputs, quorum, pass_threshold, defence_levels, panel_size, publicity_working_days and
        # service_levels, are set by the diagrams' business-rule tasks)
        "activity_quorum",
        "activity_pass_threshold",
        "activity_defence_levels",
        "activity_panel_size",
        "activity_publicity_working_days",
        "activity_service_levels",
    }
)
USER_TASK_VARIABLES = frozenset(
    {"decision", "reason", "decided_by", "decided_at", "decided_stage", "decided_stage_name", "decided_organisation"}
)
# Evaluation modes and the process that runs each. Social and independent review are one process
# (bpmn/social_review.bpmn): they differ only in the own-staff check of independent review, drawn there behind
# a gateway on the mode.
PROCESS_OF_MODE = {
    "social_review": "social_review",
    "independent_review": "social_review",
    "independent_appointment": "independent_appointment",
}


@dataclass(frozen=True)
class Problem:
    file: str
    element: str | None
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.element or '-'}: {self.rule}: {self.message}"


class InvalidDiagram(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


def content_hash(bpmn: bytes) -> str:
    return hashlib.sha256(bpmn).hexdigest()


def bundle_hash(bpmn: bytes, called: list[Definition], decides: Mapping[str, tuple[str, bytes]] | None = None) -> str:
    """A version's id: the content hash, over the versions of the processes it calls and the
    decision tables it uses too."""
    if not called and not decides:
        return content_hash(bpmn)
    digest = hashlib.sha256(bpmn)
    for version in sorted(called, key=lambda d: (d.process_id, d.id)):
        digest.update(f"\0calls\0{version.process_id}\0{version.id}".encode())
    for decision_id, (_, dmn) in sorted((decides or {}).items()):
        digest.update(f"\0decides\0{decision_id}\0{content_hash(dmn)}".encode())
    return digest.hexdigest()


class Library(ChainMap[str, tuple[str, bytes]]):
    """Where called processes are found (process id -> (file name, content)), and, as
    ``decisions``, the decision tables business-rule tasks call (decision id -> (file name, content))."""

    def __init__(
        self, processes: list[Mapping[str, tuple[str, bytes]]], decisions: list[Mapping[str, tuple[str, bytes]]]
    ):
        # ChainMap only reads its maps here; these are read-only, looked up on demand (Deployed).
        super().__init__(*processes)  # type: ignore[arg-type]
        self.decisions: Mapping[str, tuple[str, bytes]] = ChainMap(*decisions)  # type: ignore[arg-type]


def decisions_in(library: Mapping[str, tuple[str, bytes]] | None) -> Mapping[str, tuple[str, bytes]]:
    """The decision tables a library offers (a plain mapping of processes: those of ``bpmn_dir()``)."""
    found = getattr(library, "decisions", None)
    return found if found is not None else tables.folder_tables(bpmn_dir())


def processes_defined(bpmn: bytes) -> list[str]:
    """The ids of the processes a file defines (none if it does not parse)."""
    try:
        root = etree.fromstring(bpmn)
    except etree.XMLSyntaxError:
        return []
    return [p.get("id") for p in root.iterfind("bpmn:process", NS) if p.get("id")]


def library_of(files: Mapping[str, bytes]) -> dict[str, tuple[str, bytes]]:
    """The processes defined by these files (file name -> content); the first file defining one wins."""
    found: dict[str, tuple[str, bytes]] = {}
    for file_name, bpmn in files.items():
        for process_id in processes_defined(bpmn):
            found.setdefault(process_id, (file_name, bpmn))
    return found


def decisions_of(files: Mapping[str, bytes]) -> dict[str, tuple[str, bytes]]:
    """The decisions defined by the DMN files among these (file name -> content)."""
    found: dict[str, tuple[str, bytes]] = {}
    for file_name, content in files.items():
        decision_id = tables.decision_id_of(content) if file_name.endswith(".dmn") else None
        if decision_id:
            found.setdefault(decision_id, (file_name, content))
    return found


def folder_library(folder: Path) -> dict[str, tuple[str, bytes]]:
    files = {}
    for path in sorted(folder.glob("*.bpmn")):
        try:
            files[path.name] = path.read_bytes()
        except OSError:
            continue
    return library_of(files)


class Deployed(Mapping[str, tuple[str, bytes]]):
    """The latest deployed version of each process, looked up on demand."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    def __getitem__(self, process_id: str) -> tuple[str, bytes]:
        found = self.uow.session.scalar(
            select(Definition)
            .where(Definition.process_id == process_id)
            .order_by(Definition.deployed_at.desc(), Definition.id)
            .limit(1)
        )
        if found is None:
            raise KeyError(process_id)
        return found.file_name, found.bpmn.encode("utf-8")

    def __iter__(self) -> Iterator[str]:
        return iter(self.uow.session.scalars(select(Definition.process_id).distinct()).all())

    def __len__(self) -> int:
        return len(list(iter(self)))


class DeployedDecisions(Mapping[str, tuple[str, bytes]]):
    """The decision tables stored with the latest deployed version that uses each, on demand."""

    def __init__(self, uow: UnitOfWork):
        self.uow = uow

    def _stored(self) -> Iterator[dict[str, Any]]:
        for stored in self.uow.session.scalars(
            select(Definition.decisions)
            .where(Definition.decisions.is_not(None))
            .order_by(Definition.deployed_at.desc(), Definition.id)
        ):
            yield stored or {}

    def __getitem__(self, decision_id: str) -> tuple[str, bytes]:
        for stored in self._stored():
            if decision_id in stored:
                return stored[decision_id]["file_name"], stored[decision_id]["dmn"].encode("utf-8")
        raise KeyError(decision_id)

    def __iter__(self) -> Iterator[str]:
        return iter(sorted({decision_id for stored in self._stored() for decision_id in stored}))

    def __len__(self) -> int:
        return len(list(iter(self)))


def lookup(
    files: Mapping[str, bytes] | None = None, folder: Path | None = None, uow: UnitOfWork | None = None
) -> Library:
    """Where a call activity's process and a business-rule task's decision are found: the files
    given together, then the diagrams and tables in ``folder``, then (with a unit of work) the
    versions already deployed."""
    maps: list[Mapping[str, tuple[str, bytes]]] = [library_of(files or {})]
    decision_maps: list[Mapping[str, tuple[str, bytes]]] = [decisions_of(files or {})]
    if folder is not None:
        maps.append(folder_library(folder))
        decision_maps.append(tables.folder_tables(folder))
    if uow is not None:
        maps.append(Deployed(uow))
        decision_maps.append(DeployedDecisions(uow))
    return Library(maps, decision_maps)


@dataclass(frozen=True)
class Checked:
    process_id: str
    # The processes it calls, directly or through another called process: id -> (file name, content).
    calls: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    direct: tuple[str, ...] = ()
    # The decision tables its own business-rule tasks call: decision id -> (file name, content).
    decides: dict[str, tuple[str, bytes]] = field(default_factory=dict)


def check(file_name: str, bpmn: bytes, library: Library | None = None) -> str:
    """Validate a diagram; returns its process id or raises InvalidDiagram. Called processes are
    looked up in ``library`` (by default the diagrams in ``bpmn_dir()``)."""
    return checked(file_name, bpmn, library).process_id


def checked(file_name: str, bpmn: bytes, library: Library | None = None) -> Checked:
    library = lookup(folder=bpmn_dir()) if library is None else library
    problems: list[Problem] = []
    decides = _resolve_decisions(file_name, bpmn, decisions_in(library), problems)
    process_id, own = _own_problems(file_name, bpmn, _dmn_files(decides))
    problems.extend(own)
    if process_id is None:
        raise InvalidDiagram(problems)
    calls: dict[str, tuple[str, bytes]] = {}
    used = dict(decides)
    direct = _resolve_calls(file_name, bpmn, [process_id], library, calls, problems, used)
    if calls and not problems:
        parser = timers.Parser(validator=VALIDATOR)
        try:
            parser.add_bpmn_io(io.BytesIO(bpmn), file_name)
            for called_file, called_bpmn in calls.values():
                parser.add_bpmn_io(io.BytesIO(called_bpmn), called_file)
            for dmn_file, dmn in _dmn_files(used):
                parser.add_dmn_io(io.BytesIO(dmn), dmn_file)
            parser.get_subprocess_specs(process_id)
        except ValidationException as exc:
            problems.append(Problem(file_name, getattr(exc, "id", None), "bpmn_semantics", str(exc)))
    if problems:
        raise InvalidDiagram(problems)
    return Checked(process_id, calls, tuple(direct), decides)


def _dmn_files(decides: Mapping[str, tuple[str, bytes]]) -> tuple[tuple[str, bytes], ...]:
    return tuple(decides[decision_id] for decision_id in sorted(decides))


def _business_rules(bpmn: bytes) -> list[tuple[str | None, str]]:
    """(element id, called decision id) of each business-rule task."""
    try:
        root = etree.fromstring(bpmn)
    except etree.XMLSyntaxError:
        return []
    return [
        (task.get("id"), (task.findtext(".//spiffworkflow:calledDecisionId", "", NS) or "").strip())
        for task in root.iterfind(".//bpmn:businessRuleTask", NS)
    ]


@functools.lru_cache(maxsize=64)
def table_problems(file_name: str, dmn: bytes) -> tuple[Problem, ...]:
    """A decision table's own problems, each naming the decision and the rule row (``element``)."""
    return tuple(
        Problem(p.file, p.where, p.rule, p.message)
        for p in tables.check(file_name, dmn, lambda text: script_problem(text, False))
    )


def _resolve_decisions(
    file_name: str, bpmn: bytes, found: Mapping[str, tuple[str, bytes]], problems: list[Problem]
) -> dict[str, tuple[str, bytes]]:
    """The decision tables a diagram's business-rule tasks call, checked."""
    decides: dict[str, tuple[str, bytes]] = {}
    for element, decision_id in _business_rules(bpmn):
        if not decision_id:
            problems.append(
                Problem(
                    file_name,
                    element,
                    "known_decision",
                    "a business-rule task needs spiffworkflow:calledDecisionId: the id of the decision it evaluates",
                )
            )
            continue
        table = found.get(decision_id)
        if table is None:
            problems.append(
                Problem(
                    file_name,
                    element,
                    "known_decision",
                    f"calls decision {decision_id!r}, which no DMN file defines (looked among the "
                    f"files given with it, the .dmn files in its folder and, when deploying, the "
                    f"deployed versions)",
                )
            )
            continue
        broken = table_problems(*table)
        if broken:
            problems.extend(broken)
            problems.append(
                Problem(
                    file_name,
                    element,
                    "valid_decision",
                    f"calls decision {decision_id!r} from {table[0]}, which is invalid",
                )
            )
            continue
        decides[decision_id] = table
    return decides


def _call_activities(bpmn: bytes) -> list[tuple[str | None, str]]:
    root = etree.fromstring(bpmn)
    return [(ca.get("id"), (ca.get("calledElement") or "").strip()) for ca in root.iterfind(".//bpmn:callActivity", NS)]


def _resolve_calls(
    file_name: str,
    bpmn: bytes,
    stack: list[str],
    library: Library,
    calls: dict[str, tuple[str, bytes]],
    problems: list[Problem],
    used: dict[str, tuple[str, bytes]],
) -> list[str]:
    """Find what the diagram's call activities call (recursively, into ``calls``, and the decisions
    those use into ``used``); returns the process ids it calls directly."""
    direct: list[str] = []
    for element, called in _call_activities(bpmn):
        if not called:
            problems.append(
                Problem(
                    file_name,
                    element,
                    "known_called_process",
                    "a call activity needs a calledElement: the id of the process it calls",
                )
            )
            continue
        if called in stack:
            problems.append(
                Problem(
                    file_name,
                    element,
                    "no_call_cycle",
                    f"calls {called!r}, which is already running it ({' -> '.join([*stack, called])})",
                )
            )
            continue
        if called not in direct:
            direct.append(called)
        if called in calls:
            continue
        found = library.get(called)
        if found is None:
            problems.append(
                Problem(
                    file_name,
                    element,
                    "known_called_process",
                    f"calls process {called!r}, which no diagram defines (looked among the files "
                    f"given with it, in its folder and, when deploying, the deployed versions)",
                )
            )
            continue
        called_file, called_bpmn = found
        decision_problems: list[Problem] = []
        called_decides = _resolve_decisions(called_file, called_bpmn, decisions_in(library), decision_problems)
        called_id, called_problems = _own_problems(called_file, called_bpmn, _dmn_files(called_decides))
        called_problems = (*decision_problems, *called_problems)
        if called_problems or called_id != called:
            details = "; ".join(str(p) for p in called_problems) or f"it defines {called_id!r}"
            problems.append(
                Problem(
                    file_name,
                    element,
                    "valid_called_process",
                    f"calls {called!r} from {called_file}, which is invalid: {details}",
                )
            )
            continue
        calls[called] = found
        used.update(called_decides)
        _resolve_calls(called_file, called_bpmn, [*stack, called], library, calls, problems, used)
    return direct


@functools.lru_cache(maxsize=128)
def _own_problems(
    file_name: str, bpmn: bytes, dmn: tuple[tuple[str, bytes], ...] = ()
) -> tuple[str | None, tuple[Problem, ...]]:
    """One file on its own (with the decision tables it calls, ``dmn``): its process id (None when
    unusable) and its problems."""
    problems: list[Problem] = []
    parser = timers.Parser(validator=VALIDATOR)
    try:
        parser.add_bpmn_io(io.BytesIO(bpmn), file_name)
        for dmn_file, content in dmn:
            parser.add_dmn_io(io.BytesIO(content), dmn_file)
        process_ids = parser.get_process_ids()
    except ValidationException as exc:
        return None, (Problem(file_name, getattr(exc, "id", None), "bpmn_schema", str(exc)),)
    except etree.XMLSyntaxError as exc:
        return None, (Problem(file_name, None, "xml_syntax", str(exc)),)
    if len(process_ids) != 1:
        return None, (Problem(file_name, None, "one_process", f"expected one process, found {process_ids}"),)
    process_id = process_ids[0]
    try:
        parser.get_spec(process_id)
    except ValidationException as exc:
        if not str(exc).startswith("No DMN Diagram available"):  # a missing table is known_decision
            problems.append(Problem(file_name, getattr(exc, "id", None), "bpmn_semantics", str(exc)))
    problems.extend(_project_rules(file_name, etree.fromstring(bpmn), dmn))
    return process_id, tuple(problems)


def _project_rules(file_name: str, root: Any, dmn: tuple[tuple[str, bytes], ...] = ()) -> list[Problem]:
    problems: list[Problem] = list(_contract_rules(file_name, root))
    messages = {m.get("id"): m.get("name") for m in root.iterfind(".//bpmn:message", NS)}
    for kind, known in (
        ("intermediateThrowEvent", OUTBOUND),
        ("endEvent", OUTBOUND),
        ("intermediateCatchEvent", INBOUND),
        ("boundaryEvent", INBOUND),
    ):
        for event in root.iterfind(f".//bpmn:{kind}", NS):
            for definition in event.iterfind("bpmn:messageEventDefinition", NS):
                name = messages.get(definition.get("messageRef"))
                if name not in known:
                    problems.append(
                        Problem(
                            file_name,
                            event.get("id"),
                            "known_message",
                            f"message {name!r} is not one the services handle ({', '.join(known)})",
                        )
                    )
    problems.extend(_timer_rules(file_name, root, dmn))
    problems.extend(_script_rules(file_name, root))
    for operator in root.iterfind(".//spiffworkflow:serviceTaskOperator", NS):
        if operator.get("id") not in contract.OPERATIONS:
            task = operator.getparent().getparent()
            problems.append(
                Problem(
                    file_name,
                    task.get("id"),
                    "known_operation",
                    f"service operation {operator.get('id')!r} is not one of {', '.join(contract.OPERATIONS)}",
                )
            )
    return problems


def _properties(element: Any) -> dict[str, str]:
    """An element's own spiffworkflow properties (not those of elements nested in it)."""
    return {
        p.get("name"): p.get("value") or ""
        for p in element.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS)
    }


def _unknown_property(name: str, known: tuple[str, ...]) -> str:
    near = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {near[0]!r}?)" if near else ""
    return f"property {name!r} is not one the code reads{hint}; known: {', '.join(known)}"


def _contract_rules(file_name: str, root: Any) -> Iterator[Problem]:
    """The diagram <-> code contract (engine/contract.py, README "Diagram contract"): lanes are roles by
    id, user tasks carry known properties with known values and sit in a lane whose role holds tasks,
    a gateway's decision test names a decision the task before it offers, end events carry an outcome."""
    lane_of: dict[str, str] = {}
    for lane in root.iterfind(".//bpmn:lane", NS):
        lane_id = lane.get("id") or ""
        role = contract.role_of_lane(lane_id) if lane_id.startswith(contract.LANE_PREFIX) else None
        if role not in contract.LANE_ROLES:
            yield Problem(
                file_name,
                lane_id,
                "known_role",
                f"lane id {lane_id!r} is not lane_<role> for a role of "
                f"{', '.join(contract.LANE_ROLES)} (the lane's name is free: e.g. 'Work unit (工作单位)')",
            )
            continue
        for ref in lane.iterfind("bpmn:flowNodeRef", NS):
            lane_of.setdefault((ref.text or "").strip(), role)
    for task in root.iterfind(".//bpmn:userTask", NS):
        yield from _task_rules(file_name, task, lane_of.get(task.get("id") or ""))
    yield from _decision_tests(file_name, root)
    for end in root.iterfind(".//bpmn:endEvent", NS):
        props = _properties(end)
        for name in props:
            if name != "outcome":
                yield Problem(file_name, end.get("id"), "known_property", _unknown_property(name, ("outcome",)))
        outcome = props.get("outcome")
        inside = end.getparent().tag == f"{{{NS['bpmn']}}}subProcess"
        if outcome not in contract.END_OUTCOMES:
            yield Problem(
                file_name,
                end.get("id"),
                "known_outcome",
                f"an end event needs the property outcome: one of {', '.join(OUTCOMES)} (what statistics "
                f"and notices know), or {NO_OUTCOME!r} for an end that is no outcome of the declaration "
                f"(a side branch, a sub-process or called process); found {outcome!r}",
            )
        elif inside and outcome != NO_OUTCOME:
            yield Problem(
                file_name,
                end.get("id"),
                "known_outcome",
                f"an end event of a sub-process ends the sub-process only: its outcome is {NO_OUTCOME!r} "
                f"(the process reads the sub-process's data and reaches an outcome of its own)",
            )


def _task_rules(file_name: str, task: Any, role: str | None) -> Iterator[Problem]:
    element = task.get("id")
    props = _properties(task)
    for needed in contract.REQUIRED_TASK_PROPERTIES:
        if not props.get(needed):
            yield Problem(file_name, element, "task_property", f"user task needs the property {needed!r}")
    for name in props:
        if name not in contract.TASK_PROPERTIES:
            yield Problem(file_name, element, "known_property", _unknown_property(name, contract.TASK_PROPERTIES))
    words = [word.strip() for word in props.get("decisions", "").split(",") if word.strip()]
    for word in sorted(set(words) - set(contract.DECISIONS)):
        yield Problem(
            file_name,
            element,
            "known_decision_word",
            f"decision {word!r} is not one the services know ({', '.join(contract.DECISIONS)})",
        )
    for word in sorted({word for word in words if words.count(word) > 1}):
        yield Problem(file_name, element, "known_decision_word", f"decision {word!r} is listed twice")
    if role not in contract.TASK_ROLES:
        where = "in no lane" if role is None else f"in the {role} lane"
        yield Problem(
            file_name,
            element,
            "task_lane",
            f"a user task is {where}: it must be in the lane of a role whose staff hold tasks "
            f"(lane_<role> for {', '.join(contract.TASK_ROLES)})",
        )
    action = props.get("action")
    if action and action not in contract.ACTIONS:
        yield Problem(
            file_name,
            element,
            "known_action",
            f"action {action!r} is not one the services complete ({', '.join(contract.ACTIONS)})",
        )
    elif action and role in contract.TASK_ROLES and role not in contract.ACTIONS[action]:
        yield Problem(
            file_name,
            element,
            "action_lane",
            f"action {action!r} completes tasks of the {', '.join(contract.ACTIONS[action])} lane, "
            f"not of the {role} lane",
        )
    guard = props.get("guard")
    if guard and guard not in contract.GUARDS:
        yield Problem(
            file_name,
            element,
            "known_guard",
            f"guard {guard!r} is not a check the services run ({', '.join(contract.GUARDS)})",
        )


def _decision_tests(file_name: str, root: Any) -> Iterator[Problem]:
    """A condition testing ``decision == "x"`` (or !=, in) must name a decision that the user tasks
    nearest before it offer (walking back through gateways, events and automatic tasks; a sub-process
    offers its user tasks' decisions; behind a call activity the called process's outputs are not
    known here, so the test is not checked)."""
    nodes = {n.get("id"): n for n in root.iter() if n.get("id") and isinstance(n.tag, str)}
    incoming: dict[str, list[str]] = {}
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        incoming.setdefault(flow.get("targetRef"), []).append(flow.get("sourceRef"))
    user_task, sub_process, call = (f"{{{NS['bpmn']}}}{tag}" for tag in ("userTask", "subProcess", "callActivity"))
    for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
        condition = flow.find("bpmn:conditionExpression", NS)
        tested = _decisions_tested((condition.text or "") if condition is not None else "")
        if not tested:
            continue
        offered: set[str] = set()
        found_task, unknown = False, False
        todo, seen = [flow.get("sourceRef")], set()
        while todo:
            node_id = todo.pop()
            if node_id in seen or node_id not in nodes:
                continue
            seen.add(node_id)
            node = nodes[node_id]
            if node.tag == user_task or node.tag == sub_process:
                found_task = True
                tasks = [node] if node.tag == user_task else list(node.iterfind(".//bpmn:userTask", NS))
                for task in tasks:
                    offered.update(w.strip() for w in _properties(task).get("decisions", "").split(","))
            elif node.tag == call:
                unknown = True
            else:
                todo.extend(incoming.get(node_id, []))
        if unknown or not found_task:
            continue
        for word in sorted(tested - offered):
            yield Problem(
                file_name,
                flow.get("id"),
                "offered_decision",
                f"the condition tests decision {word!r}, which the user task before it does not offer "
                f"(it offers {', '.join(sorted(offered - {''})) or 'nothing'}): the condition never holds",
            )


def _decisions_tested(text: str) -> set[str]:
    """The decision words a condition compares ``decision`` with (==, !=, in, not in)."""
    try:
        tree = ast.parse(text.strip() or "None", mode="eval")
    except SyntaxError:
        return set()  # refused by the script rules
    words: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        if not any(isinstance(o, ast.Name) and o.id == "decision" for o in operands):
            continue
        for operand in operands:
            values = operand.elts if isinstance(operand, (ast.Tuple, ast.List, ast.Set)) else [operand]
            words.update(v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str))
    return words


def _timer_rules(file_name: str, root: Any, dmn: tuple[tuple[str, bytes], ...] = ()) -> list[Problem]:
    """Every timer's expression parses, is simple, gives a literal of its kind in ISO 8601, and reads
    only what the process data can give it when the timer is reached."""
    problems: list[Problem] = []
    known: set[str] | None = None
    for kind in ("timeDate", "timeDuration", "timeCycle"):
        for expression in root.iterfind(f".//bpmn:timerEventDefinition/bpmn:{kind}", NS):
            text = (expression.text or "").strip()
            event = expression.getparent().getparent()

            def refuse(rule: str, message: str, event: Any = event) -> None:
                problems.append(Problem(file_name, event.get("id"), rule, message))

            try:
                tree = ast.parse(text, mode="eval")
            except SyntaxError:
                tree = None
            if tree is None or (not isinstance(tree.body, ast.Constant) and _BARE_ISO.fullmatch(text)):
                refuse(
                    "timer_expression",
                    f"timer expression {text!r} must be a Python expression: "
                    f"quote a literal ISO 8601 value ('\"P5D\"')",
                )
                continue
            if isinstance(tree.body, ast.Constant):
                if not _valid_timer(kind, tree.body.value):
                    refuse(
                        "timer_expression", f"timer value {tree.body.value!r} is not an ISO 8601 {_TIMER_KIND[kind]}"
                    )
                continue
            unsafe = script_problem(text, False)
            if unsafe:
                refuse("simple_script", f"timer expression {text!r}: {unsafe}")
                continue
            known = _variables_known(root, dmn) if known is None else known
            for name in _names_read(tree):
                if name not in known and name not in FUNCTIONS and name not in _BUILTINS:
                    refuse(
                        "timer_data",
                        f"timer expression {text!r} reads {name!r}, which the process data cannot "
                        f"give it: it is no start variable, no variable a task of this diagram sets "
                        f"(script, result, message or decision variable), and no function the "
                        f"engine offers ({', '.join(FUNCTIONS)})",
                    )
    return problems


_TIMER_KIND = {"timeDate": "date and time", "timeDuration": "duration", "timeCycle": "repeating interval"}
_BUILTINS = frozenset(name for name in dir(builtins) if not name.startswith("_"))  # (unsafe ones refused above)


def _valid_timer(kind: str, value: Any) -> bool:
    """Whether a literal timer value parses as the engine will parse it when the timer is reached:
    a date for timeDate, a duration (P...) for timeDuration, a repeating interval for timeCycle."""
    if not isinstance(value, str):
        return False
    try:
        if kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(value)
            return True
        if kind == "timeDuration":
            return value.upper().startswith("P") and bool(TimerEventDefinition.parse_iso_duration(value))
        return isinstance(TimerEventDefinition.parse_time_or_duration(value), dt.datetime)
    except Exception:  # noqa: BLE001 - the engine's parsers raise bare Exceptions
        return False


def _names_read(tree: Any) -> list[str]:
    """The names an expression reads from outside itself (not those its comprehensions bind)."""
    bound = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    return list(
        dict.fromkeys(
            node.id
            for node in ast.walk(tree)
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound
        )
    )


def _variables_known(root: Any, dmn: tuple[tuple[str, bytes], ...] = ()) -> set[str]:
    """What the process data can hold when any of the diagram's tasks runs: what the process starts
    with (its data inputs, for a called process), what completing a user task adds, and what a task
    of the diagram sets — script assignments, service results, message variables, decision
    outputs, multi-instance items and data objects."""
    known = set(START_VARIABLES) | set(USER_TASK_VARIABLES)
    known.update(i.get("name") or i.get("id") for i in root.iterfind(".//bpmn:ioSpecification/bpmn:dataInput", NS))
    scripts = [s.text for s in root.iterfind(".//bpmn:script", NS)]
    scripts += [s.text for tag in ("preScript", "postScript") for s in root.iterfind(f".//spiffworkflow:{tag}", NS)]
    for text in scripts:
        try:
            tree = ast.parse(text or "")
        except SyntaxError:
            continue  # refused by the script rules
        known.update(n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store))
    known.update(o.get("resultVariable") for o in root.iterfind(".//spiffworkflow:serviceTaskOperator", NS))
    known.update((v.text or "").strip() for v in root.iterfind(".//spiffworkflow:messageVariable", NS))
    for tag in ("inputDataItem", "outputDataItem"):
        known.update(i.get("name") or i.get("id") for i in root.iterfind(f".//bpmn:{tag}", NS))
    known.update(d.get("id") for d in root.iterfind(".//bpmn:dataObject", NS))
    known.update(_decision_outputs(dmn))
    known.discard(None)
    return known


def _decision_outputs(dmn: tuple[tuple[str, bytes], ...]) -> set[str]:
    """The variables the decision tables a diagram calls set: each output column's name (a dotted
    name, ``service_levels.meeting``, sets a key of its first part)."""
    outputs: set[str] = set()
    for _, content in dmn:
        try:
            root = etree.fromstring(content)
        except etree.XMLSyntaxError:
            continue  # refused with the table's own problems
        outputs.update((o.get("name") or "").split(".")[0] for o in root.iter(f"{{{tables.DMN13}}}output"))
    outputs.discard("")
    return outputs


# Scripts are simple expressions and assignments (the engine is no sandbox: docs/engine.md E10).
_SCRIPT_STATEMENTS = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Expr, ast.Delete, ast.If, ast.Pass)
_FORBIDDEN_NODES = {
    ast.Import: "import",
    ast.ImportFrom: "import",
    ast.FunctionDef: "def",
    ast.AsyncFunctionDef: "def",
    ast.ClassDef: "class",
    ast.Lambda: "lambda",
    ast.While: "while",
    ast.For: "for loop",
    ast.With: "with",
    ast.Try: "try",
    ast.Global: "global",
    ast.Nonlocal: "nonlocal",
    ast.Await: "await",
    ast.Yield: "yield",
    ast.YieldFrom: "yield",
    ast.Raise: "raise",
}
_FORBIDDEN_NAMES = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "input",
        "breakpoint",
        "help",
        "memoryview",
        "type",
        "object",
        "__import__",
        "__builtins__",
    }
)


def script_problem(text: str, statements: bool) -> str | None:
    """Why a script or expression is not simple (None when it is)."""
    try:
        tree = ast.parse(text, mode="exec" if statements else "eval")
    except SyntaxError as exc:
        return f"does not parse: {exc.msg} (line {exc.lineno})"
    if statements:
        for statement in tree.body:  # type: ignore[attr-defined]
            if not isinstance(statement, _SCRIPT_STATEMENTS):
                return f"a script may hold only expressions and assignments, not {type(statement).__name__}"
    for node in ast.walk(tree):
        kind = _FORBIDDEN_NODES.get(type(node))
        if kind:
            return f"{kind} is not allowed in a script"
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            return f"attribute {node.attr!r} is private"
        if isinstance(node, ast.Name) and (node.id in _FORBIDDEN_NAMES or node.id.startswith("__")):
            return f"name {node.id!r} is not allowed in a script"
    return None


def _script_rules(file_name: str, root: Any) -> list[Problem]:
    problems: list[Problem] = []

    def owner_id(node: Any) -> str | None:
        while node is not None and not node.get("id"):
            node = node.getparent()
        return None if node is None else node.get("id")

    scripts = [(s, True) for s in root.iterfind(".//bpmn:script", NS)]
    scripts += [(s, True) for tag in ("preScript", "postScript") for s in root.iterfind(f".//spiffworkflow:{tag}", NS)]
    scripts += [(s, False) for s in root.iterfind(".//bpmn:conditionExpression", NS)]
    for node, statements in scripts:
        problem = script_problem((node.text or "").strip() or "None", statements)
        if problem:
            problems.append(Problem(file_name, owner_id(node), "simple_script", problem))
    for prop in root.iterfind(".//spiffworkflow:property", NS):
        if prop.get("name") in ("organisation", "assignee") and prop.get("value"):
            problem = script_problem(prop.get("value"), False)
            if problem:
                problems.append(
                    Problem(file_name, owner_id(prop), "simple_script", f"property {prop.get('name')}: {problem}")
                )
    return problems


def deploy(uow: UnitOfWork, file_name: str, bpmn: bytes, library: Library | None = None) -> tuple[Definition, bool]:
    """Store a validated diagram version, with the versions of the processes it calls; returns it
    and whether it is new. Called processes are looked up in ``library`` (by default the diagrams
    in ``bpmn_dir()``, then the deployed versions)."""
    library = lookup(folder=bpmn_dir(), uow=uow) if library is None else library
    result = checked(file_name, bpmn, library)
    called: dict[str, Definition] = {}
    for process_id in result.direct:
        called_file, called_bpmn = result.calls[process_id]
        version, _ = deploy(uow, called_file, called_bpmn, library)
        called[version.id] = version
        for inner in called_versions(uow, version):
            called[inner.id] = inner
    bundle = sorted(called.values(), key=lambda d: (d.process_id, d.id))
    digest = bundle_hash(bpmn, bundle, result.decides)
    existing = uow.session.get(Definition, digest)
    if existing is not None:
        return existing, False
    stored = {
        decision_id: {"file_name": dmn_file, "dmn": dmn.decode("utf-8")}
        for decision_id, (dmn_file, dmn) in sorted(result.decides.items())
    }
    definition = Definition(
        id=digest,
        process_id=result.process_id,
        file_name=file_name,
        bpmn=bpmn.decode("utf-8"),
        calls=[d.id for d in bundle] or None,
        decisions=stored or None,
    )
    uow.session.add(definition)
    uow.session.flush()
    return definition, True


def deploy_directory(uow: UnitOfWork, directory: Path | None = None) -> list[tuple[Definition, bool]]:
    """Deploy every diagram of the folder; a call activity takes its process from the folder first."""
    folder = directory or bpmn_dir()
    paths = sorted(folder.glob("*.bpmn"))
    if not paths:
        raise FileNotFoundError(f"no .bpmn files in {folder}")
    library = lookup(folder=folder, uow=uow)
    return [deploy(uow, path.name, path.read_bytes(), library) for path in paths]


# The diagram and its decision tables are loaded when read (a version not yet parsed in this process): a
# review's start took them, and those of the four processes it calls, from the database every time.
_LATEST = (
    select(Definition)
    .options(defer(Definition.bpmn), defer(Definition.decisions))
    .order_by(Definition.deployed_at.desc())
    .limit(1)
)


def latest(uow: UnitOfWork, process_id: str) -> Definition:
    found = uow.session.scalar(_LATEST.where(Definition.process_id == process_id))
    if found is None:
        raise LookupError(f"no version of process {process_id!r} is deployed; run `titles deploy`")
    return found


def called_versions(uow: UnitOfWork, definition: Definition) -> list[Definition]:
    """The versions of the processes a version calls (directly or not), as deployed with it."""
    found = []
    for version_id in definition.calls or []:
        version = uow.session.get(Definition, version_id)
        if version is None:
            raise LookupError(f"version {definition.id[:12]} calls version {version_id[:12]}, which is not stored")
        found.append(version)
    return found


@functools.lru_cache(maxsize=64)
def specs(
    definition_id: str,
    bpmn: str,
    process_id: str,
    called: tuple[tuple[str, str], ...] = (),
    dmn: tuple[tuple[str, str], ...] = (),
) -> tuple[Any, dict[str, Any]]:
    """Parsed process spec and subprocess specs, the called processes' among them (``called``:
    their file names and contents), with the decision tables stored with them (``dmn``). Parsing
    is pure; cache by version."""
    parser = timers.Parser(validator=VALIDATOR)
    parser.add_bpmn_io(io.BytesIO(bpmn.encode("utf-8")), definition_id)
    for file_name, text in called:
        parser.add_bpmn_io(io.BytesIO(text.encode("utf-8")), file_name)
    for file_name, text in dmn:
        parser.add_dmn_io(io.BytesIO(text.encode("utf-8")), file_name)
    found = parser.get_spec(process_id), parser.get_subprocess_specs(process_id)
    _PARSED[definition_id] = found
    _VERSION_OF_SPEC[id(found[0])] = definition_id  # an index of _PARSED; version_of checks identity
    return found


# Versions parsed in this process, by id (a version never changes): what a stored state that names its
# version instead of carrying its specs runs on (engine/state.py).
_PARSED: dict[str, tuple[Any, dict[str, Any]]] = {}
_VERSION_OF_SPEC: dict[int, str] = {}


def parsed(definition_id: str) -> tuple[Any, dict[str, Any]] | None:
    return _PARSED.get(definition_id)


def version_of(spec: Any, subprocess_specs: dict[str, Any]) -> str | None:
    """The id of the parsed version these specs are (None: specs built otherwise, e.g. restored)."""
    definition_id = _VERSION_OF_SPEC.get(id(spec))
    if definition_id is None:
        return None
    parsed_spec, parsed_subs = _PARSED[definition_id]
    return definition_id if parsed_spec is spec and subprocess_specs == parsed_subs else None


def stored_decisions(definitions_: list[Definition]) -> dict[str, tuple[str, str]]:
    """The decision tables stored with these versions: decision id -> (file name, DMN text)."""
    return {
        decision_id: (table["file_name"], table["dmn"])
        for definition in definitions_
        for decision_id, table in sorted((definition.decisions or {}).items())
    }


def specs_of(uow: UnitOfWork, definition: Definition) -> tuple[Any, dict[str, Any]]:
    """The specs of a deployed version, with the versions of the processes it calls and the
    decision tables stored with them. A version parsed before is not read again (a version never changes)."""
    found = parsed(definition.id)
    if found is not None:
        return found
    versions = called_versions(uow, definition)
    called = tuple((d.file_name, d.bpmn) for d in versions)
    dmn = tuple(stored_decisions([definition, *versions]).values())
    return specs(definition.id, definition.bpmn, definition.process_id, called, dmn)
