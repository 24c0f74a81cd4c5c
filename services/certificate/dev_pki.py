"""The development PKI of the embedded default: a CA, the certificate signer and a timestamp authority.

Never for production (README: "Signing keys in production"). Kept under
``<data dir>/certificate-pki``:

- ``ca.key.pem``, ``ca.cert.pem``: the development CA (30 years), the trust root
  a verifier is given (``GET /api/v1/signing-certificate``);
- ``leaf-<hash>/``: the signer (ECDSA P-256) and the TSA (RSA 2048: pyHanko's
  test TSA signs with RSA only) certificates, issued by the CA with a CRL
  distribution point at the development trust services (``dev_tsa``). The
  folder is named after that address, so running on other ports issues new
  leaves under the same CA instead of certificates pointing nowhere.

Real time throughout, not the system's clock (``shared.clock``, which the test
clock moves): readers check certificates, CRLs and timestamps against real time.

Each folder is written to a private temporary folder and renamed into place:
renaming onto an existing folder fails, so when several processes start at
once the first wins and the others use its files.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from shared import config

FOLDER = "certificate-pki"
CA_YEARS, SIGNER_YEARS, TSA_YEARS = 30, 2, 25
CRL_HOURS = 24


@dataclass(frozen=True)
class DevPki:
    folder: Path
    leaves: Path

    @property
    def ca_cert(self) -> Path:
        return self.folder / "ca.cert.pem"

    @property
    def ca_key(self) -> Path:
        return self.folder / "ca.key.pem"

    @property
    def signer_cert(self) -> Path:
        return self.leaves / "signer.cert.pem"

    @property
    def signer_key(self) -> Path:
        return self.leaves / "signer.key.pem"

    @property
    def tsa_cert(self) -> Path:
        return self.leaves / "tsa.cert.pem"

    @property
    def tsa_key(self) -> Path:
        return self.leaves / "tsa.key.pem"


def trust_services_url() -> str:
    """Where the development trust services (TSA and CRL) answer: ``TSA_URL``, else port ``TSA_PORT`` (8007)."""
    return config.service_url("tsa").rstrip("/")


def crl_url() -> str:
    return trust_services_url() + "/crl"


def ensure(folder: Path | None = None, crl_address: str | None = None) -> DevPki:
    """The development PKI, created on first use."""
    folder = folder or config.data_dir() / FOLDER
    crl_address = crl_address or crl_url()
    _create_once(folder, _write_ca)
    leaves = folder / ("leaf-" + hashlib.sha256(crl_address.encode()).hexdigest()[:12])
    _create_once(
        leaves,
        lambda staging: _write_leaves(
            staging, _load_cert(folder / "ca.cert.pem"), _load_key(folder / "ca.key.pem"), crl_address
        ),
    )
    return DevPki(folder, leaves)


def _create_once(folder: Path, write: Callable[[Path], None]) -> None:
    if folder.exists():
        return
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        write(staging)
        os.rename(staging, folder)
    except OSError:
        if not folder.exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "titles development (不可用于生产)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    names = (
        "digital_signature",
        "content_commitment",
        "key_encipherment",
        "data_encipherment",
        "key_agreement",
        "key_cert_sign",
        "crl_sign",
        "encipher_only",
        "decipher_only",
    )
    return x509.KeyUsage(**{n: allowed.get(n, False) for n in names})


def _years(now: dt.datetime, years: int) -> dt.datetime:
    return now + dt.timedelta(days=365 * years + years // 4)


def _write_key(path: Path, key) -> None:  # noqa: ANN001 - any private key
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    path.chmod(0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load_key(path: Path):  # noqa: ANN202 - any private key
    # Parsing checks an RSA key's primes, some 27 ms for 2048 bits: once per file as it is now.
    stat = path.stat()
    return _parsed_key(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16)
def _parsed_key(path: str, mtime_ns: int, size: int):  # noqa: ANN202 - the file's identity is the key
    return serialization.load_pem_private_key(Path(path).read_bytes(), password=None)


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _write_ca(folder: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    # Each development CA is named apart (revocation data is matched to its CA by name first).
    name = _name(f"titles development CA {secrets.token_hex(4)}")
    ca = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(_years(now, CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_key(folder / "ca.key.pem", key)
    _write_cert(folder / "ca.cert.pem", ca)


def issue_leaf(
    ca: x509.Certificate,
    ca_key,
    public_key,
    common_name: str,  # noqa: ANN001
    not_before: dt.datetime,
    not_after: dt.datetime,
    crl_address: str,
    time_stamping: bool = False,
) -> x509.Certificate:
    """A certificate of the development CA: a document signer, or a TSA (``time_stamping``)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.CRLDistributionPoints(
                [x509.DistributionPoint([x509.UniformResourceIdentifier(crl_address)], None, None, None)]
            ),
            critical=False,
        )
    )
    if time_stamping:
        builder = builder.add_extension(
            _key_usage(digital_signature=True, content_commitment=True), critical=True
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
    else:
        builder = builder.add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
    return builder.sign(ca_key, hashes.SHA256())


def _write_leaves(folder: Path, ca: x509.Certificate, ca_key, crl_address: str) -> None:  # noqa: ANN001
    now = dt.datetime.now(dt.UTC)
    start = now - dt.timedelta(hours=1)
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = issue_leaf(
        ca,
        ca_key,
        signer_key.public_key(),
        "titles development certificate signer",
        start,
        _years(now, SIGNER_YEARS),
        crl_address,
    )
    tsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    tsa = issue_leaf(
        ca,
        ca_key,
        tsa_key.public_key(),
        "titles development timestamp authority",
        start,
        _years(now, TSA_YEARS),
        crl_address,
        time_stamping=True,
    )
    _write_key(folder / "signer.key.pem", signer_key)
    _write_cert(folder / "signer.cert.pem", signer)
    _write_key(folder / "tsa.key.pem", tsa_key)
    _write_cert(folder / "tsa.cert.pem", tsa)
    (folder / "crl-url.txt").write_text(crl_address + "\n")


def crl(pki: DevPki, now: dt.datetime | None = None) -> bytes:
    """A fresh CRL of the development CA (DER): it revokes nothing, valid for a day."""
    now = now or dt.datetime.now(dt.UTC)
    ca_key = _load_key(pki.ca_key)
    ca = _load_cert(pki.ca_cert)
    revocations = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(hours=CRL_HOURS))
        .add_extension(x509.CRLNumber(int(now.timestamp() * 1000)), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return revocations.public_bytes(serialization.Encoding.DER)
