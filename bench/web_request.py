"""CPU time of one request through the review's Flask app, in this process (no HTTP server, no socket).

    .venv/bin/python bench/web_request.py [--requests N] [--repeat N]
    git -C /work/main archive <commit> | tar -x -C /tmp/before          # the code before a change
    PYTHONPATH=/tmp/before .venv/bin/python bench/web_request.py

Three requests as a reviewer's page makes them, each with a token from the development issuer:

- ``GET /health``: the app's own work around a view (no token, no database);
- ``GET /api/v1/clock``: a token checked, a read-only unit of work, a view that reads nothing for anyone
  but the title office (the scenario asks it about seven times a lifecycle);
- ``GET /api/v1/tasks``: the same, and a query (an empty queue, on a scratch SQLite file).

Microseconds of process CPU a request (``time.process_time``; the best of ``--repeat`` rounds). Nothing in
the tests depends on these figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if not os.environ.get("PYTHONPATH"):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PATHS = ("/health", "/api/v1/clock", "/api/v1/tasks")


def review_app(work: Path, keys: Path) -> tuple[Any, Any, dict[str, str]]:
    """The review's database (a scratch SQLite file in ``work``), its app, and a unit reviewer's headers, the
    development issuer's key in ``keys``."""
    from services.review import bootstrap
    from shared.identity import dev_issuer
    from shared.identity.tokens import TokenVerifier
    from shared.migrations import upgrade

    url = f"sqlite:///{work / 'review.db'}"
    upgrade("review", url)
    db = bootstrap.database(url)
    jwks = dev_issuer.write_jwks_file(work / "jwks.json", data_dir=keys)
    app = bootstrap.create_app(db, TokenVerifier(dev_issuer.default_issuer(), "titles", jwks.as_uri()))
    return db, app, {"Authorization": f"Bearer {dev_issuer.issue_token('unit', data_dir=keys)}"}


def environs_of(path: str, headers: dict[str, str], count: int) -> list[dict[str, Any]]:
    from werkzeug.test import EnvironBuilder

    return [EnvironBuilder(path=path, headers=headers).get_environ() for _ in range(count)]


def start_response(status: str, _headers: Any, _exc: Any = None) -> None:
    assert status.startswith("200"), status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="requests a round and path (2000)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds; the best is reported (5)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="titles-bench-web-"))
    os.environ["TITLES_DATA_DIR"] = str(work)
    import logging

    from shared import config

    config.from_environment()
    logging.disable(logging.WARNING)
    db, app, headers = review_app(work, work)

    best = dict.fromkeys(PATHS, float("inf"))
    for _ in range(args.repeat):
        for path in PATHS:
            environs = environs_of(path, headers, args.requests)
            started = time.process_time()
            for environ in environs:
                b"".join(app(environ, start_response))
            best[path] = min(best[path], (time.process_time() - started) / args.requests * 1e6)
    db.dispose()
    print(f"code: {Path(config.__file__).resolve().parents[1]}")
    print(f"a request through the review's app, µs of CPU (best of {args.repeat} × {args.requests}):")
    for path, micros in best.items():
        print(f"  GET {path:20s} {micros:7.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
