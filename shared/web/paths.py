"""Path parameters that leave room for a sibling route's fixed word.

``/activities/mine`` and ``/activities/<activity_id>`` both match ``/activities/mine``: the router
picks the fixed route, but the ``Allow`` header (and a method the fixed route lacks) would also
answer for the parameter route. ``<other_than(mine):activity_id>`` keeps the word out of the
parameter, so each path has exactly its own methods.
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import BaseConverter, Map


class OtherThanConverter(BaseConverter):
    """One path segment, any text but the words given."""

    def __init__(self, url_map: Map, *words: str) -> None:
        super().__init__(url_map)
        self.words = tuple(str(w) for w in words)
        taken = "|".join(re.escape(w) for w in self.words)
        self.regex = rf"(?!(?:{taken})$)[^/]+"


def schema_of(converter: OtherThanConverter) -> dict[str, Any]:
    # Not written as a "not" constraint: the word is no invalid id but another operation's path, and
    # a client (or a fuzzer) told it is invalid would expect it to be refused there.
    return {"type": "string"}


def install(app: Any, api: Any) -> None:
    """Before any blueprint is registered: the router and the OpenAPI both know the converter."""
    app.url_map.converters["other_than"] = OtherThanConverter
    api.register_converter(OtherThanConverter, schema_of)
