"""Where the review service's time goes: pyinstrument on its HTTP app under the bench's load.

A second review HTTP front is started in this process (the same ``create_app()`` gunicorn serves, on
the system's database and broker, one request at a time) and the bench's clients are pointed at it
(``REVIEW_URL``) for a few lifecycles; pyinstrument samples every request it serves (wall-clock,
1 ms), and SQL statements are counted per request. Reported: the endpoints with their time and SQL
statements per request, the cost centres below ranked (the first three are "where the time goes"), wall time
by package (self time of the frames in each library or project module; C built-ins count for their
caller's package) and the project's own functions by inclusive time.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
# Frames that only wrap a request: reported by package, never as "where the time goes".
WRAPPERS = ("bench/profiling.py",)
# Cost centres: a frame of this function (in a file ending so) and everything below it; the outermost
# centre on a stack takes the time. What no centre covers is split into SQL (the ORM and the driver) and
# the rest.
CENTRES = [
    ("instance state deserialisation (SpiffWorkflow JSON to workflow)", "deserialize_json", "serializer/workflow.py"),
    ("instance state serialisation (workflow to JSON)", "serialize_json", "serializer/workflow.py"),
    ("waiting for SQLite's write lock (BEGIN IMMEDIATE)", "_on_begin", "shared/db.py"),
    ("SpiffWorkflow running the diagram (task run, engine steps)", "_engine_call", "engine/runtime.py"),
    ("bearer token verification (JWT, RSA)", "verify", "identity/tokens.py"),
    ("commit (flush of the changes, the database's commit)", "commit", "shared/uow.py"),
]
SQL_PACKAGES = ("sqlalchemy", "psycopg", "psycopg_binary", "generated code sqlalchemy")


class ProfiledReview:
    def __init__(self, port: int):
        from pyinstrument import Profiler
        from sqlalchemy import event
        from werkzeug.serving import make_server

        from services.review.bootstrap import create_app, database

        self.profiler = Profiler(interval=0.001)
        self.requests = 0
        self.statements = 0
        # Per endpoint (method and path with ids as {id}): [requests, seconds, SQL statements].
        self.endpoints: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0])
        db = database()
        app = create_app(db)

        @event.listens_for(db.engine, "before_cursor_execute")
        def count(*_: Any) -> None:
            self.statements += 1

        def profiled(environ: dict[str, Any], start_response: Any) -> list[bytes]:
            before, started = self.statements, time.perf_counter()
            self.profiler.start()  # pyinstrument combines the sessions of successive start/stop
            try:
                return list(app(environ, start_response))
            finally:
                self.profiler.stop()
                self.requests += 1
                row = self.endpoints[f"{environ['REQUEST_METHOD']} {ID.sub('{id}', environ['PATH_INFO'])}"]
                row[0] += 1
                row[1] += time.perf_counter() - started
                row[2] += self.statements - before

        self.server = make_server("127.0.0.1", port, profiled, threaded=False)
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> ProfiledReview:
        self.thread.start()
        self.previous = os.environ.get("REVIEW_URL")
        os.environ["REVIEW_URL"] = self.url
        from shared import config  # this process reads the environment it just set

        config.from_environment()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.previous is None:
            os.environ.pop("REVIEW_URL", None)
        else:
            os.environ["REVIEW_URL"] = self.previous
        from shared import config  # this process reads the environment it just set

        config.from_environment()
        self.server.shutdown()
        self.thread.join(timeout=10)


def _package(path: str | None) -> str:
    """The library (site-packages), project package (services/<name>, shared/<part>) or stdlib module of a file."""
    if not path:
        return "(other)"
    path = path.replace("\\", "/")
    if path.startswith("<"):
        return "generated code " + path.split()[0].strip("<>")  # e.g. SQLAlchemy's generated wrappers
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    root = str(ROOT).replace("\\", "/") + "/"
    if path.startswith(root):
        parts = path[len(root) :].split("/")
        return "/".join(parts[:2]).removesuffix(".py") if parts[0] in ("services", "shared") else parts[0]
    if "/lib/python3" in path:
        return "stdlib " + path.split("/lib/python3", 1)[1].split("/", 2)[1].removesuffix(".py")
    return "(other) " + "/".join(path.split("/")[-2:])


def endpoints(server: ProfiledReview) -> list[dict[str, Any]]:
    """Requests, mean time (profiled, one at a time) and SQL statements per request, by endpoint."""
    return [
        {"endpoint": name, "requests": int(n), "mean_ms": seconds / n * 1000, "statements": statements / n}
        for name, (n, seconds, statements) in sorted(server.endpoints.items(), key=lambda kv: -kv[1][1])
    ]


def summarise(profiler: Any, requests: int, top: int = 10) -> dict[str, Any]:
    session = profiler.last_session
    if session is None:
        return {"requests": requests, "seconds": 0.0, "centres": [], "by_package": [], "project_functions": []}
    root = session.root_frame()
    by_package: dict[str, float] = defaultdict(float)
    inclusive: dict[str, float] = defaultdict(float)
    centres: dict[str, float] = defaultdict(float)

    def centre_of(frame: Any) -> str | None:
        path = (frame.file_path or "").replace("\\", "/")
        return next(
            (
                label
                for label, function, suffix in CENTRES
                if frame.function.split(".")[-1] == function and path.endswith(suffix)
            ),
            None,
        )

    def walk(frame: Any, on_stack: frozenset[str], parent_package: str, centre: str | None) -> None:
        children = list(frame.children)
        # pyinstrument keeps a frame's own time in synthetic children ("[self]") without a file, and
        # C functions have "<built-in>": both count for the caller's package.
        builtin = not frame.file_path or frame.file_path == "<built-in>"
        package = parent_package if builtin else _package(frame.file_path)
        centre = centre or centre_of(frame)
        self_time = max(frame.time - sum(c.time for c in children), 0.0)
        by_package[package] += self_time
        centres[
            centre
            or (
                "other SQL (SQLAlchemy ORM and the driver)"
                if package in SQL_PACKAGES
                else "everything else (Flask, marshmallow, the services' own code, ...)"
            )
        ] += self_time
        path = (frame.file_path or "").replace("\\", "/")
        key = None
        if path.startswith(str(ROOT)) and "site-packages" not in path and not path.endswith(WRAPPERS):
            key = f"{frame.function} ({Path(path).relative_to(ROOT)}:{frame.line_no})"
            if key not in on_stack:  # recursion counts once
                inclusive[key] += frame.time
        for child in children:
            walk(child, on_stack | {key} if key else on_stack, package, centre)

    if root is not None:
        walk(root, frozenset(), "(other)", None)
    total = root.time if root is not None else 0.0

    def ranked(values: dict[str, float], name: str, limit: int) -> list[dict[str, Any]]:
        return [
            {name: k, "seconds": v, "share": v / total if total else 0.0}
            for k, v in sorted(values.items(), key=lambda kv: -kv[1])[:limit]
        ]

    return {
        "requests": requests,
        "seconds": total,
        "centres": ranked(centres, "centre", len(centres)),
        "by_package": ranked(by_package, "package", top),
        "project_functions": ranked(inclusive, "function", top * 2),
    }


def text_report(profiler: Any) -> str:
    from pyinstrument.renderers import ConsoleRenderer

    if profiler.last_session is None:
        return ""
    return ConsoleRenderer(unicode=True, color=False, show_all=False, time="seconds", short_mode=False).render(
        profiler.last_session
    )
