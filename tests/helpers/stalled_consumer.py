"""A notify consumer whose handler does its work and then hangs before commit.

Run as a process and killed with SIGKILL by the reliability tests: the
message it held must be delivered again, and its uncommitted effect lost.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from services.notify import bootstrap
from shared.messaging.consumer import ServiceConsumer


def main(marker: str) -> None:
    handlers = bootstrap.handlers()
    original = handlers["certificate.issued.v1"]

    def stall(uow, envelope, data):  # noqa: ANN001
        original(uow, envelope, data)
        uow.session.flush()
        Path(marker).write_text(envelope.id)  # tell the test we are inside the handler
        time.sleep(3600)

    handlers["certificate.issued.v1"] = stall
    ServiceConsumer(bootstrap.database(), handlers).run(threading.Event())


if __name__ == "__main__":
    main(sys.argv[1])
