"""Finds each service's bootstrap module, where its parts are wired.

Every ``services/<name>/bootstrap.py`` provides the same four functions:
``database(url=None)``, ``create_app(db=None, verifier=None)``,
``handlers()`` (message type -> handler) and ``seed(db)`` (demonstration data).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from shared.config import SERVICES


def service(name: str) -> ModuleType:
    if name not in SERVICES:
        raise ValueError(f"unknown service {name!r}; services are {', '.join(SERVICES)}")
    return importlib.import_module(f"services.{name}.bootstrap")
