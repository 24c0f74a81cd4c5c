"""What a PDF attachment may hold: a document to read, nothing that runs.

Reviewers open applicants' files in their browsers and PDF readers. A PDF can carry JavaScript, an
action run on opening (OpenAction) or on other events (AA), a launch of another program, embedded
files and XFA forms; none belongs in a diploma scan. The file is parsed with pypdf and every object
the document reaches is looked at, so a name spelt with escapes (``/J#61vaScript``) or hidden in an
object stream is found as well. A file that does not parse as a PDF (an HTML page behind a ``%PDF``
header, say) is not a PDF, whatever its first bytes.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from pypdf import PdfReader
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject

log = logging.getLogger(__name__)

# Keys whose presence anywhere makes the document active, with what a person is told.
ACTIVE_KEYS = {
    "/JS": "JavaScript",
    "/JavaScript": "JavaScript",
    "/OpenAction": "an action run on opening (OpenAction)",
    "/AA": "actions run on events (AA)",
    "/EmbeddedFiles": "embedded files",
    "/EmbeddedFile": "embedded files",
    "/XFA": "an XFA form",
    "/RichMedia": "rich media",
}
# Action types (/S) that run something or send data away.
ACTIVE_ACTIONS = {
    "/JavaScript": "JavaScript",
    "/Launch": "a launch action",
    "/SubmitForm": "a form submission",
    "/ImportData": "a data import",
    "/GoToE": "a jump into an embedded file",
    "/RichMediaExecute": "rich media",
}
MAX_OBJECTS = 200_000  # a 10 MB file holds far fewer; a crafted loop stops here


class NotAPdf(ValueError):
    """The bytes do not parse as a PDF."""


def active_content(content: bytes) -> list[str]:
    """What active content the PDF holds (empty for a plain document); NotAPdf if it does not parse."""
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if len(reader.pages) < 1:
            raise NotAPdf("the PDF has no page")
        root: Any = reader.trailer
    except NotAPdf:
        raise
    except Exception as exc:  # noqa: BLE001 - pypdf raises many kinds for a file that is not a PDF
        raise NotAPdf(f"not a readable PDF ({type(exc).__name__})") from exc
    found: dict[str, None] = {}
    seen: set[tuple[int, int]] = set()
    stack: list[Any] = [root]
    visited = 0
    while stack:
        node = stack.pop()
        if isinstance(node, IndirectObject):
            key = (node.idnum, node.generation)
            if key in seen:
                continue
            seen.add(key)
            try:
                node = node.get_object()
            except Exception:  # noqa: BLE001 - a dangling reference is no active content
                continue
        visited += 1
        if visited > MAX_OBJECTS:
            found["more objects than a document needs"] = None
            break
        if isinstance(node, DictionaryObject):
            for name, value in node.items():
                if name in ACTIVE_KEYS:
                    found[ACTIVE_KEYS[name]] = None
                if name == "/S" and isinstance(value, NameObject) and value in ACTIVE_ACTIONS:
                    found[ACTIVE_ACTIONS[value]] = None
                stack.append(value)
        elif isinstance(node, ArrayObject):
            stack.extend(node)
    return list(found)
