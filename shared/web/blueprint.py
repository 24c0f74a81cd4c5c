"""The services' Blueprint: flask-smorest's, with a parser that builds each arguments schema once.

webargs builds a new instance of a schema given as a class (``@blp.arguments(TaskQuery)``) on every
request, and marshmallow deep-copies every declared field to make one: a tenth of a small listing's
time in one process. Loading keeps no state on the schema, so one instance per class serves every
request and thread; flask-smorest already does the same for response schemas.
"""

from __future__ import annotations

import threading
from typing import Any

import flask_smorest
import marshmallow as ma
from webargs.flaskparser import FlaskParser


class SchemaOnceParser(FlaskParser):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._schemas: dict[type[ma.Schema], ma.Schema] = {}
        self._lock = threading.Lock()

    def _get_schema(self, argmap: Any, req: Any) -> ma.Schema:
        if isinstance(argmap, type) and issubclass(argmap, ma.Schema):
            schema = self._schemas.get(argmap)
            if schema is None:
                with self._lock:
                    schema = self._schemas.setdefault(argmap, argmap())
            return schema
        return super()._get_schema(argmap, req)


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]  # flask-smorest has no type hints
    ARGUMENTS_PARSER = SchemaOnceParser()
