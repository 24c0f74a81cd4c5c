"""The layers point one way, read from the code's own imports (never by importing it).

``shared/`` is a library under the services; ``titles/`` (command line, supervisor, service registry)
sits above them; the review engine knows nothing of the review domain. Every ``import`` counts, at module
level or inside a function (a function-local import hides a cycle, it does not remove it), and so does
``importlib.import_module`` with a literal or an f-string (whose holes match any module name part).
"""

from __future__ import annotations

import ast
import fnmatch
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("shared", "services", "titles")

ENGINE = "services.review.engine"
# What the engine may import from its own service: itself and the tables it loads and saves.
ENGINE_MAY_USE = (ENGINE, "services.review.models")
# The domain and the service layer the engine is given through its ports, never imports.
REVIEW_DOMAIN = tuple(
    f"services.review.{name}" for name in ("queues", "directory", "publicity", "panels", "sla", "service")
)
WEB_AND_BROKER = ("flask", "flask_smorest", "kombu", "amqp")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = modules()


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def _target(name: str) -> str:
    """The deepest module of ours that ``name`` (a module or a module's attribute) names."""
    while name and name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _import_module_argument(node: ast.Call) -> Iterator[str]:
    """The modules ``importlib.import_module(...)`` may load, when its argument says so."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
    if called != "import_module" or not node.args:
        return
    argument = node.args[0]
    if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
        yield argument.value
    elif isinstance(argument, ast.JoinedStr):
        pattern = "".join(part.value if isinstance(part, ast.Constant) else "*" for part in argument.values)
        yield from (name for name in MODULES if fnmatch.fnmatchcase(name, pattern))


def imports(name: str, path: Path) -> set[str]:
    """Every module ``name`` imports (ours by module name, others by their top-level name)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    named: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            named.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            named.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call):
            named.update(_import_module_argument(node))
    return {_target(n) if n.split(".")[0] in PACKAGES else n.split(".")[0] for n in named}


GRAPH = {name: imports(name, path) for name, path in MODULES.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module, and the modules importing themselves
    (Tarjan's algorithm, iterative so that a deep graph needs no deep stack)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root] & graph.keys())))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = len(index)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt] & graph.keys()))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1 or node in graph[node]:
                        found.append(sorted(component))
    return sorted(found)


def offences(importer_prefix: str, forbidden: tuple[str, ...]) -> list[str]:
    return sorted(
        f"{importer} imports {target}"
        for importer, targets in GRAPH.items()
        if within(importer, importer_prefix)
        for target in targets
        if any(within(target, prefix) for prefix in forbidden)
    )


def test_the_reader_sees_function_local_relative_and_dynamic_imports():
    graph = {
        name: imports(name, path)
        for name, path in {"services.review.engine.held": ROOT / "services/review/engine/held.py"}.items()
    }
    assert "services.review.engine.runtime" in graph["services.review.engine.held"]
    tree = ast.parse("import importlib\nimportlib.import_module(f'services.{name}.bootstrap')\n")
    call = next(node for node in ast.walk(tree) if isinstance(node, ast.Call))
    assert "services.review.bootstrap" in set(_import_module_argument(call))
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"d"}, "e": {"a"}}) == [["a", "b", "c"], ["d"]]


def test_there_is_no_import_cycle_in_shared_or_services():
    found = [
        component
        for component in cycles(GRAPH)
        if any(within(name, "shared") or within(name, "services") for name in component)
    ]
    assert found == [], f"{len(found)} import cycle(s):\n" + "\n".join(" <-> ".join(c) for c in found)


def test_shared_is_a_library_that_imports_no_service_and_not_the_command_line():
    assert offences("shared", ("services", "titles")) == []


def test_no_service_imports_the_command_line_or_supervisor():
    assert offences("services", ("titles",)) == []


def test_the_review_engine_knows_nothing_of_the_review_domain_the_web_or_the_broker():
    assert offences(ENGINE, REVIEW_DOMAIN + WEB_AND_BROKER) == []
    outside = [
        line
        for line in offences(ENGINE, ("services",))
        if not any(within(line.split(" imports ")[1], allowed) for allowed in ENGINE_MAY_USE)
    ]
    assert outside == []
