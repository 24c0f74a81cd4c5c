"""The Python expressions of the diagrams and decision tables, compiled once per process.

SpiffWorkflow's task-data environment hands each condition, script and table entry to ``eval`` or
``exec`` as a string, which compiles it every time: the costliest part of evaluating a gateway's
condition, and most of a decision table's evaluation. The review engine (gateways, scripts,
business-rule tasks) and the services that evaluate tables themselves (shared/decisions.py) use
this environment alike.
"""

from __future__ import annotations

import functools
from typing import Any

from SpiffWorkflow.bpmn.script_engine import TaskDataEnvironment


class CompilingEnvironment(TaskDataEnvironment):
    """The task-data environment, compiling each distinct expression and script once."""

    def evaluate(self, expression: Any, context: Any, external_context: Any = None) -> Any:
        return super().evaluate(compiled(expression, "eval"), context, external_context)

    def execute(self, script: Any, context: Any, external_context: Any = None) -> Any:
        return super().execute(compiled(script, "exec"), context, external_context)


@functools.lru_cache(maxsize=2048)
def compiled(source: Any, mode: str) -> Any:
    return compile(source, "<string>", mode) if isinstance(source, str) else source
