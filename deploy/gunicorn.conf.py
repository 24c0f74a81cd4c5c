"""gunicorn settings for every HTTP service (and the development issuer).

    gunicorn -c deploy/gunicorn.conf.py "services.profile.bootstrap:create_app()"

Environment: TITLES_SERVICE names the service (for its default port and
logs), PORT or <SERVICE>_PORT overrides the port, WEB_CONCURRENCY the
number of worker processes, WEB_THREADS the threads per worker. ``titles run``
names the group ``web`` and passes a ``-b`` per port on the command line
(titles/groups.py), which takes the place of ``bind`` here.
"""

import os as _os

from shared import config as _config
from shared import gc_tuning as _gc_tuning
from shared.observability import logging as _json_logging

_service = _os.environ.get("TITLES_SERVICE", "profile")
_port = _os.environ.get("PORT") or (_config.port(_service) if _service in _config.PORTED else 8000)

bind = _os.environ.get("BIND", f"{_os.environ.get('HOST', '127.0.0.1')}:{_port}")
workers = int(_os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(_os.environ.get("WEB_THREADS", "4"))
worker_class = "gthread"
timeout = 30
graceful_timeout = 10
accesslog = None  # the app logs each request as JSON with its correlation id
proc_name = f"titles-{_service}"


def post_fork(server, worker):  # noqa: ANN001, ARG001 - gunicorn hook
    _json_logging.configure(_service)


def post_worker_init(worker):  # noqa: ANN001 - gunicorn hook
    # The app is loaded: what it built lives as long as the worker (shared/gc_tuning.py).
    _gc_tuning.settle()


def child_exit(server, worker):  # noqa: ANN001, ARG001 - gunicorn hook
    # Multiprocess metrics: drop the gauges of a worker that has gone.
    if _os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
