"""How deep a request's JSON nests, counted without parsing it (shared/web/limits.py)."""

from __future__ import annotations

import pytest

from shared.web.limits import nesting_depth


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        (b"", 0),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"text": "[[[{{{"}', 1),  # brackets in a string are text
        (b'{"text": "a \\" [[[ \\\\"}', 1),  # an escaped quote does not end the string, an escaped backslash does
        (b'[[["open string [[[[[[', 3),  # a string left open runs to the end
        (b'[[["' + b'\\"[' * 1000, 3),  # escaped quotes inside one: still one string
        (b"[" * 40 + b"]" * 40, 40),
    ],
)
def test_nesting_depth(body, depth):
    assert nesting_depth(body) == depth
