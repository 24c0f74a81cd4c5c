"""A development PKI of its own with its trust services (TSA and CRL) on a thread: an "other" signer
and authority for tests of configured keys and of untrusted signatures."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from werkzeug.serving import make_server


@contextmanager
def own_pki(folder: Path) -> Iterator[tuple[object, str]]:
    """(the DevPki in ``folder``, its trust services' base URL) while serving."""
    from services.certificate import dev_pki, dev_tsa

    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    pki = dev_pki.ensure(folder, crl_address=url + "/crl")
    server.app = dev_tsa.create_app(pki)
    thread = threading.Thread(target=server.serve_forever, daemon=True, name="other-tsa")
    thread.start()
    try:
        yield pki, url
    finally:
        server.shutdown()
        thread.join(timeout=10)
