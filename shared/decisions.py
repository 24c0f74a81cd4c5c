"""Decision tables (DMN 1.3) beside the diagrams: load, check and evaluate them.

The rules that change every year (eligibility of the normal category, attendance and vote
thresholds, defence levels, panel sizes, publicity days, service levels) are DMN files in
``bpmn/``. The review diagrams evaluate them through business-rule tasks; the other services
evaluate the same files here, with the same engine (SpiffWorkflow's DMN engine and Python
expressions), so there is one source.

One decision, holding one decision table, per file: SpiffWorkflow 3.2.0 reads no more. Hit
policies UNIQUE and FIRST give the first matching rule's outputs (the engine stops at the first
match of a UNIQUE table without looking for another: ``check`` refuses rules that plainly
overlap), COLLECT gives each output as the list of the matching rules' values. Entries are
Python: a string is quoted (``"工程"``), an input entry may be a comparison (``>= 5``), a
literal, ``-`` (any), or use ``?`` for the input value (``?[0] * 3 >= ?[1] * 2``).
"""

from __future__ import annotations

import ast
import functools
import io
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.dmn.engine.DMNEngine import DMNEngine
from SpiffWorkflow.dmn.parser.BpmnDmnParser import SCHEMAS as DMN_SCHEMAS
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from shared.config import bpmn_dir
from shared.expressions import CompilingEnvironment

DMN13 = "https://www.omg.org/spec/DMN/20191111/MODEL/"
NS = {"dmn": DMN13}
HIT_POLICIES = ("UNIQUE", "FIRST", "COLLECT")
# An output column's name is the variable it sets; a dotted name sets a key of a dict variable.
_OUTPUT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")
# The engine's "?" stands for the input value, outside quoted strings.
_QUESTION = re.compile(r"(\?)(?=(?:[^'\"]|['\"][^'\"]*['\"])*$)")


@dataclass(frozen=True)
class Problem:
    """What is wrong with a table: the file, the decision, the rule row (1-based; None for the
    table as a whole) and the rule it breaks."""

    file: str
    decision: str | None
    row: int | None
    rule: str
    message: str

    @property
    def where(self) -> str:
        return f"{self.decision or '-'}" + (f" row {self.row}" if self.row else "")

    def __str__(self) -> str:
        return f"{self.file}: {self.where}: {self.rule}: {self.message}"


class InvalidTable(Exception):
    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


class DecisionFailed(Exception):
    """A table could not be evaluated against the data given (an expression failed on a row)."""


@dataclass(frozen=True)
class Row:
    id: str
    number: int
    description: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Table:
    """A parsed decision: its file, id, name, the DMN text and SpiffWorkflow's decision table."""

    file_name: str
    decision_id: str
    name: str
    text: str
    table: Any

    @property
    def hit_policy(self) -> str:
        return str(self.table.hit_policy)

    @property
    def inputs(self) -> list[tuple[str, str]]:
        """(label, expression) of each input column."""
        return [(i.label or i.name or i.id, i.expression or "") for i in self.table.inputs]

    @property
    def outputs(self) -> list[str]:
        return [o.name for o in self.table.outputs]

    @property
    def rows(self) -> list[Row]:
        return [
            Row(
                r.id,
                r.row_number,
                (r.description or "").strip(),
                tuple("-" if e.lhs == [None] else (e.lhs[0] or "").strip() for e in r.inputEntries),
                tuple((e.text or "").strip() for e in r.outputEntries),
            )
            for r in self.table.rules
        ]


def decision_id_of(dmn: bytes) -> str | None:
    """The id of the decision a file defines (None if it is not a readable DMN file)."""
    try:
        root = etree.fromstring(dmn)
    except etree.XMLSyntaxError:
        return None
    found = root.find("dmn:decision", NS)
    return None if found is None else found.get("id")


def check(file_name: str, dmn: bytes, expression_problem: Callable[[str], str | None] | None = None) -> list[Problem]:
    """Everything wrong with a DMN file, each naming the decision and the rule row. An
    ``expression_problem`` may add the caller's own rules for every expression."""
    try:
        root = etree.fromstring(dmn)
    except etree.XMLSyntaxError as exc:
        return [Problem(file_name, None, None, "xml_syntax", str(exc))]
    if etree.QName(root).namespace != DMN13:
        return [
            Problem(
                file_name,
                None,
                None,
                "dmn_version",
                f"the file is not DMN 1.3 (namespace {etree.QName(root).namespace!r}); save it as DMN 1.3 ({DMN13})",
            )
        ]
    decisions = root.findall("dmn:decision", NS)
    if len(decisions) != 1:
        return [
            Problem(
                file_name,
                None,
                None,
                "one_decision",
                f"a file holds exactly one decision, found {len(decisions)} (one table per file)",
            )
        ]
    decision_id = decisions[0].get("id")
    tables = decisions[0].findall("dmn:decisionTable", NS)
    if len(tables) != 1:
        return [
            Problem(
                file_name,
                decision_id,
                None,
                "one_decision",
                f"the decision holds exactly one decision table, found {len(tables)}",
            )
        ]
    schema = _schema()
    if not schema.validate(root):
        error = schema.error_log.last_error
        starts = [rule.sourceline or 0 for rule in tables[0].findall("dmn:rule", NS)]
        inside = error.line <= max((node.sourceline or 0) for node in tables[0].iter())
        row = max((n for n, line in enumerate(starts, 1) if line <= error.line), default=None) if inside else None
        return [Problem(file_name, decision_id, row, "dmn_schema", f"line {error.line}: {error.message}")]
    problems = _table_problems(file_name, decision_id, tables[0], expression_problem or (lambda _text: None))
    if not problems:
        try:
            _parser(file_name, dmn)
        except (ValidationException, SpiffWorkflowException) as exc:
            problems.append(Problem(file_name, decision_id, None, "dmn_semantics", _plain(exc)))
    return problems


@functools.lru_cache(maxsize=1)
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(DMN_SCHEMAS[DMN13]))


def _table_problems(
    file_name: str, decision_id: str, table: Any, expression_problem: Callable[[str], str | None]
) -> list[Problem]:
    problems: list[Problem] = []

    def problem(row: int | None, rule: str, message: str) -> None:
        problems.append(Problem(file_name, decision_id, row, rule, message))

    policy = (table.get("hitPolicy") or "UNIQUE").upper()
    if policy not in HIT_POLICIES or table.get("aggregation"):
        problem(
            None,
            "hit_policy",
            f"hit policy {policy}{' ' + table.get('aggregation') if table.get('aggregation') else ''}"
            f" is not one the engine evaluates ({', '.join(HIT_POLICIES)}, no aggregation)",
        )
    inputs = table.findall("dmn:input", NS)
    outputs = table.findall("dmn:output", NS)
    expressions = []
    for number, column in enumerate(inputs, 1):
        text = (column.findtext("dmn:inputExpression/dmn:text", "", NS) or "").strip()
        expressions.append(text)
        label = column.get("label") or column.get("id")
        why = _expression_problem(text, expression_problem) if text else "is empty"
        if why:
            problem(None, "dmn_expression", f"input column {number} ({label}): expression {text!r} {why}")
    names = [(column.get("name") or "").strip() for column in outputs]
    for number, (column, name) in enumerate(zip(outputs, names), 1):
        if not _OUTPUT_NAME.fullmatch(name):
            problem(
                None,
                "output_name",
                f"output column {number} ({column.get('label') or column.get('id')}) "
                f"needs a name: the variable it sets (a Python name, dots for a key), "
                f"not {name!r}",
            )
        elif names.count(name) > 1 and names.index(name) == number - 1:
            problem(None, "duplicate_output", f"output {name!r} is set by {names.count(name)} columns")
    rows = table.findall("dmn:rule", NS)
    tests: list[list[_Matches]] = []
    for number, rule in enumerate(rows, 1):
        entries = rule.findall("dmn:inputEntry", NS)
        results = rule.findall("dmn:outputEntry", NS)
        if len(entries) != len(inputs) or len(results) != len(outputs):
            problem(
                number,
                "rule_shape",
                f"rule {rule.get('id')} has {len(entries)} input and {len(results)} "
                f"output entries for {len(inputs)} inputs and {len(outputs)} outputs",
            )
            tests.append([])
            continue
        row_tests = []
        for column, entry in enumerate(entries, 1):
            text = (entry.findtext("dmn:text", "", NS) or "").strip()
            row_tests.append(_Matches.of(text))
            if text in ("", "-"):
                continue
            why = _expression_problem(_input_test(text), expression_problem) or _precedence(
                expressions[column - 1], text
            )
            if why:
                problem(number, "dmn_expression", f"input entry {text!r} (column {column}) {why}")
        tests.append(row_tests)
        for name, entry in zip(names, results):
            text = (entry.findtext("dmn:text", "", NS) or "").strip()
            if not text:
                problem(number, "missing_output", f"no value for output {name!r} (write None for none)")
                continue
            why = _expression_problem(text, expression_problem)
            if why:
                problem(number, "dmn_expression", f"output entry {text!r} for {name!r} {why}")
    if policy == "UNIQUE":
        for first in range(len(tests)):
            for second in range(first + 1, len(tests)):
                if tests[first] and tests[second] and all(a.overlaps(b) for a, b in zip(tests[first], tests[second])):
                    problem(
                        second + 1,
                        "unique_overlap",
                        f"rows {first + 1} and {second + 1} both match the same inputs in a UNIQUE table: make "
                        f"them exclusive, or use hit policy FIRST if their order decides",
                    )
    return problems


def _input_test(text: str) -> str:
    """An input entry as the engine evaluates it: with ``?`` as the value, or after a value."""
    if _QUESTION.search(text):
        return _QUESTION.sub("dmninputexpr", text)
    try:
        ast.parse(text, mode="eval")
        return text
    except SyntaxError:
        return f"dmninputexpr {text}"


def _precedence(expression: str, entry: str) -> str | None:
    """The engine writes an entry such as ``>= 5`` straight after the input expression, without a space:
    an expression such as ``a or 0`` would then read ``a or (0 >= 5)``, and ``in (...)`` after a name ``a``
    calls a function ``ain``."""
    if not expression or _input_test(entry) != f"dmninputexpr {entry}":
        return None
    try:
        meant = ast.dump(ast.parse(f"({expression}) {entry}", mode="eval"))
    except SyntaxError:
        return None
    try:
        as_written = ast.dump(ast.parse(f"{expression}{entry}", mode="eval"))
    except SyntaxError:
        as_written = None
    if as_written != meant:
        return (
            f"would be read as {expression}{entry}, not as ({expression}) {entry}: put the input "
            f"expression in parentheses, or write the entry with ? (? {entry})"
        )
    return None


def _expression_problem(text: str, extra: Callable[[str], str | None]) -> str | None:
    try:
        ast.parse(text, mode="eval")
    except SyntaxError as exc:
        return f"is not a Python expression: {exc.msg}"
    return extra(text)


def _plain(exc: Exception) -> str:
    return str(exc).strip().rstrip(".")


class _Matches:
    """What an input entry can match, as far as a cheap reading tells: any value, a set of literals,
    all but a set, an interval of numbers, or unknown (then it is assumed not to overlap)."""

    def __init__(
        self,
        kind: str,
        values: frozenset[Any] = frozenset(),
        low: tuple[Any, bool] | None = None,
        high: tuple[Any, bool] | None = None,
    ):
        self.kind, self.values, self.low, self.high = kind, values, low, high

    @classmethod
    def of(cls, text: str) -> _Matches:
        if text in ("", "-"):
            return cls("any")
        try:
            return cls("set", frozenset([_hashable(ast.literal_eval(text))]))
        except (ValueError, SyntaxError, TypeError):
            pass
        try:
            tree = ast.parse(f"dmninputexpr {text}", mode="eval").body
        except SyntaxError:
            return cls("unknown")
        if not (isinstance(tree, ast.Compare) and len(tree.ops) == 1):
            return cls("unknown")
        try:
            value = ast.literal_eval(tree.comparators[0])
        except (ValueError, TypeError, SyntaxError):
            return cls("unknown")
        op = type(tree.ops[0])
        if op in (ast.In, ast.NotIn) and isinstance(value, (list, tuple, set, frozenset)):
            return cls("set" if op is ast.In else "not", frozenset(_hashable(v) for v in value))
        if op is ast.Eq:
            return cls("set", frozenset([_hashable(value)]))
        if op is ast.NotEq:
            return cls("not", frozenset([_hashable(value)]))
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            bounds = {
                ast.Lt: (None, (value, False)),
                ast.LtE: (None, (value, True)),
                ast.Gt: ((value, False), None),
                ast.GtE: ((value, True), None),
            }.get(op)
            if bounds:
                return cls("interval", low=bounds[0], high=bounds[1])
        return cls("unknown")

    def _holds(self, value: Any) -> bool:
        if self.kind == "set":
            return value in self.values
        if self.kind == "not":
            return value not in self.values
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return (self.low is None or value > self.low[0] or (self.low[1] and value == self.low[0])) and (
            self.high is None or value < self.high[0] or (self.high[1] and value == self.high[0])
        )

    def overlaps(self, other: _Matches) -> bool:
        if "unknown" in (self.kind, other.kind):
            return False
        if "any" in (self.kind, other.kind):
            return True
        if self.kind == "set":
            return any(other._holds(v) for v in self.values)
        if other.kind == "set":
            return any(self._holds(v) for v in other.values)
        if self.kind == "interval" and other.kind == "interval":
            low = max((b for b in (self.low, other.low) if b), default=None, key=lambda b: (b[0], not b[1]))
            high = min((b for b in (self.high, other.high) if b), default=None, key=lambda b: (b[0], b[1]))
            if low is None or high is None:
                return True
            return bool(low[0] < high[0] or (low[0] == high[0] and low[1] and high[1]))
        return True  # "all but some" against an interval or another "all but": infinitely many values


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# -- loading and evaluating --------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _parser(file_name: str, dmn: bytes) -> SpiffBpmnParser:
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_dmn_io(io.BytesIO(dmn), filename=file_name)
    for dmn_parser in parser.dmn_parsers.values():
        dmn_parser.parse()
    return parser


@functools.lru_cache(maxsize=64)
def parse(file_name: str, dmn: bytes) -> Table:
    """A checked table (parsed once per content), or InvalidTable naming what is wrong."""
    problems = check(file_name, dmn)
    if problems:
        raise InvalidTable(problems)
    [dmn_parser] = _parser(file_name, dmn).dmn_parsers.values()
    decision = dmn_parser.decision
    return Table(file_name, decision.id, decision.name, dmn.decode("utf-8"), decision.decisionTables[0])


_ENGINE = PythonScriptEngine(environment=CompilingEnvironment())


class _Context:
    """What SpiffWorkflow's DMN engine reads of a task, for an evaluation outside a process."""

    def __init__(self, table: Table, data: dict[str, Any]):
        self.data = data
        self.script_engine = _ENGINE
        self.workflow = self.top_workflow = self
        self.spec = SimpleNamespace(file=table.file_name)
        self.task_spec = SimpleNamespace(bpmn_name=table.decision_id, bpmn_id=table.decision_id, name=table.decision_id)


def evaluate(table: Table, context: Mapping[str, Any]) -> dict[str, Any]:
    """The table's outputs for the context: the first matching rule's (UNIQUE, FIRST), or each
    output as a list over the matching rules (COLLECT); {} when no rule matches."""
    try:
        return dict(DMNEngine(table.table).result(_Context(table, dict(context))))
    except SpiffWorkflowException as exc:
        raise DecisionFailed(f"{table.file_name}: {table.decision_id}: {_plain(exc)}") from exc


@dataclass(frozen=True)
class _Stat:
    path: str
    mtime_ns: int
    size: int


@functools.lru_cache(maxsize=128)
def _read(stat: _Stat) -> tuple[str | None, bytes]:
    content = Path(stat.path).read_bytes()
    return decision_id_of(content), content


def folder_tables(folder: Path | None = None) -> dict[str, tuple[str, bytes]]:
    """The decisions the ``*.dmn`` files of a folder (``bpmn/`` by default) define: decision id ->
    (file name, content); the first file defining one wins. A file is re-read once it changes."""
    found: dict[str, tuple[str, bytes]] = {}
    for path in sorted((folder or bpmn_dir()).glob("*.dmn")):
        try:
            status = path.stat()
            decision_id, content = _read(_Stat(str(path), status.st_mtime_ns, status.st_size))
        except OSError:
            continue
        if decision_id:
            found.setdefault(decision_id, (path.name, content))
    return found


def find(decision_id: str, folder: Path | None = None) -> Table:
    """The decision of that id among the DMN files of ``bpmn/`` (or ``folder``), as the file is now."""
    folder = folder or bpmn_dir()
    found = folder_tables(folder).get(decision_id)
    if found is None:
        raise LookupError(f"no DMN file in {folder} defines decision {decision_id!r}")
    return parse(*found)


def decide(decision_id: str, context: Mapping[str, Any], folder: Path | None = None) -> dict[str, Any]:
    """Evaluate the decision of that id in ``bpmn/`` against the context."""
    return evaluate(find(decision_id, folder), context)
