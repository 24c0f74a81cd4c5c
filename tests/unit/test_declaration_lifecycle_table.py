"""The declaration's lifecycle table: every status reachable, the ends final, the service moving only through it."""

from __future__ import annotations

import ast
import pathlib

from services.declaration import lifecycle
from services.declaration.lifecycle import TRANSITIONS, DeclarationStatus

SERVICE = pathlib.Path(lifecycle.__file__).parent
ENDS = {
    DeclarationStatus.REFUSED,
    DeclarationStatus.COMPLETED,
    DeclarationStatus.WITHDRAWN,
    DeclarationStatus.DISCARDED,
}


def _reachable(start: DeclarationStatus) -> set[DeclarationStatus]:
    seen, todo = {start}, [start]
    while todo:
        for after in TRANSITIONS[todo.pop()].values():
            if after not in seen:
                seen.add(after)
                todo.append(after)
    return seen


def test_every_status_has_a_row_and_is_reachable_from_the_start():
    assert set(TRANSITIONS) == set(DeclarationStatus)
    assert _reachable(lifecycle.START) == set(DeclarationStatus)
    # from the draft (the snapshot came and was accepted) every status follows but those before it
    assert _reachable(DeclarationStatus.DRAFT) == set(DeclarationStatus) - {
        DeclarationStatus.PREPARING,
        DeclarationStatus.REFUSED,
    }


def test_the_ends_have_no_way_out_and_everything_else_leads_to_one():
    assert {status for status, moves in TRANSITIONS.items() if not moves} == ENDS
    for status in set(DeclarationStatus) - ENDS:
        assert _reachable(status) & ENDS, status


def test_withdrawal_only_while_submitted():
    assert {s for s in DeclarationStatus if lifecycle.can(s, "withdraw")} == {
        DeclarationStatus.SUBMITTED,
        DeclarationStatus.IN_REVIEW,
    }


def _calls(name: str) -> list[tuple[str, str, int]]:
    found = []
    for path in sorted(SERVICE.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == name
                and isinstance(node.func.value, ast.Name)
                and node.func.value.id == "lifecycle"
            ):
                event = node.args[1]
                assert isinstance(event, ast.Constant), f"{path.name}:{node.lineno}: name the event as it is"
                found.append((event.value, path.name, node.lineno))
    return found


def test_each_transition_the_service_makes_or_asks_for_is_in_the_table():
    moves, asks = _calls("move"), _calls("can")
    assert moves and asks
    for event, where, line in moves + asks:
        assert event in lifecycle.EVENTS, f"{where}:{line}: {event}"
    # and every event of the table is one the service makes
    assert {event for event, _, _ in moves} | {"edit", "request_re_examination"} == set(lifecycle.EVENTS)


def test_the_status_is_set_only_through_the_table():
    """No assignment to ``.status`` in the declaration service but the lifecycle's own (and creation)."""
    for path in sorted(SERVICE.glob("*.py")):
        if path.name == "lifecycle.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = node.targets if isinstance(node, ast.Assign) else []
            for target in targets:
                names = target.elts if isinstance(target, ast.Tuple) else [target]
                assert not any(
                    isinstance(n, ast.Attribute)
                    and n.attr == "status"
                    and isinstance(n.value, ast.Name)
                    and n.value.id == "declaration"
                    for n in names
                ), f"{path.name}:{node.lineno} sets a declaration's status by hand"
