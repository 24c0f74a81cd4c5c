"""How long one certificate takes to draw and to sign, in the code this interpreter imports.

    .venv/bin/python bench/certificate_signing.py [--count 20]

Runs ``services.certificate.pdf.render`` and ``signing.sign`` as the certificate
consumer does, one after the other, on a scratch data folder with the
development keys. Where the code has the development TSA (issue 13: B-LTA, a
timestamp twice, the CA's CRL fetched at each signature) it is started as a
process of its own, as ``titles run`` has it. To measure another checkout's code
(the code before a change), put it first on the path:

    git -C /work/main archive main | tar -x -C /tmp/before
    PYTHONPATH=/tmp/before .venv/bin/python bench/certificate_signing.py

Nothing in the tests depends on these figures.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVE_TSA = """
from werkzeug.serving import make_server
from services.certificate import dev_tsa
make_server("127.0.0.1", int(__import__("os").environ["TSA_PORT"]), dev_tsa.create_app(), threaded=True).serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the development TSA did not listen on {port}")


def summary(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{label:8} mean {statistics.mean(seconds) * 1000:7.1f} ms   median {statistics.median(seconds) * 1000:7.1f} ms"
        f"   p95 {p95 * 1000:7.1f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=20, help="certificates to sign after one warm-up")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="titles-bench-signing-"))
    os.environ["TITLES_DATA_DIR"] = str(work)
    for name in (
        "CERTIFICATE_SIGNING_KEY",
        "CERTIFICATE_SIGNING_PKCS12",
        "CERTIFICATE_SIGNING_PKCS11_MODULE",
        "CERTIFICATE_TSA_URL",
    ):
        os.environ.pop(name, None)
    tsa = None
    if importlib.util.find_spec("services.certificate.dev_tsa") is not None:
        os.environ["TSA_PORT"] = str(free_port())
        # The TSA runs the code measured too: the checkout this interpreter imports, not the current folder's.
        services = importlib.util.find_spec("services")
        checkout = Path(next(iter(services.submodule_search_locations))).parent if services else None
        tsa = subprocess.Popen(
            [sys.executable, "-c", SERVE_TSA],
            env={**os.environ, "PYTHONPATH": str(checkout)} if checkout else dict(os.environ),
            cwd=work,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    try:
        from services.certificate import pdf, signing

        if tsa is not None:
            wait_for_port(int(os.environ["TSA_PORT"]))
        signing.ensure_ready()
        face = pdf.CertificateFace(
            number="TJZC2026000001",
            holder_name="张伟",
            id_number="120101198806120032",
            series="工程",
            level="副高级",
            specialty="计算机应用技术",
            qualification_name="高级工程师",
            mode="social_review",
            committee_name="天津市工程技术系列高级职称评审委员会",
            approved_on=dt.date(2026, 6, 30),
            issued_on=dt.date(2026, 7, 1),
            verification_code="ABCD2345",
            verification_url="http://127.0.0.1:8004/verify?number=TJZC2026000001&code=ABCD2345",
        )
        signing.sign(pdf.render(face))  # warm-up: keys, fonts, imports
        rendering, signatures, sizes = [], [], []
        for _ in range(args.count):
            start = time.perf_counter()
            page = pdf.render(face)
            drawn = time.perf_counter()
            document = signing.sign(page)
            rendering.append(drawn - start)
            signatures.append(time.perf_counter() - drawn)
            sizes.append(len(document))
    finally:
        if tsa is not None:
            tsa.terminate()
            tsa.wait(timeout=10)
    code = Path(pdf.__file__).resolve().parents[2]
    print(
        f"code: {code}   certificates: {args.count}   "
        f"level: {signing.level() if hasattr(signing, 'level') else 'PAdES B-B (no timestamp)'}"
    )
    print(summary("render", rendering))
    print(summary("sign", signatures))
    print(summary("total", [a + b for a, b in zip(rendering, signatures)]))
    print(f"size     {statistics.mean(sizes) / 1024:7.1f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
