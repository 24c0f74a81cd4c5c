"""Signing certificates' PDFs (PAdES, with pyHanko) and checking a signature.

The key and certificate come from configuration:

- ``CERTIFICATE_SIGNING_KEY``: PEM private key file;
- ``CERTIFICATE_SIGNING_CERT``: PEM certificate of that key;
- ``CERTIFICATE_SIGNING_CHAIN``: optional PEM files of the issuing CAs, comma separated
  (the last one is the trust root a verifier needs);
- ``CERTIFICATE_SIGNING_KEY_PASSPHRASE``: optional.

Without them (the embedded default) a development CA and signing certificate
are generated on first use under ``<data dir>/certificate-signing``.
"""
from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from shared import config

DEV_FOLDER = "certificate-signing"
_cache: dict[tuple, "SigningMaterial"] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class SigningMaterial:
    key: Path
    cert: Path
    chain: tuple[Path, ...]
    passphrase: bytes | None

    @property
    def trust_root(self) -> Path:
        """The certificate a verifier trusts: the top of the chain (or the signer itself)."""
        return self.chain[-1] if self.chain else self.cert


def material() -> SigningMaterial:
    key, cert = os.environ.get("CERTIFICATE_SIGNING_KEY"), os.environ.get("CERTIFICATE_SIGNING_CERT")
    if key and cert:
        chain = tuple(Path(p.strip()) for p in os.environ.get("CERTIFICATE_SIGNING_CHAIN", "").split(",") if p.strip())
        passphrase = os.environ.get("CERTIFICATE_SIGNING_KEY_PASSPHRASE")
        return SigningMaterial(Path(key), Path(cert), chain, passphrase.encode() if passphrase else None)
    folder = development_material(config.data_dir() / DEV_FOLDER)
    return SigningMaterial(folder / "signer.key.pem", folder / "signer.cert.pem", (folder / "ca.cert.pem",), None)


def development_material(folder: Path) -> Path:
    """Create the development CA and signer once; safe when several processes start together.

    Everything is written to a private temporary folder that is then renamed
    into place: renaming onto an existing folder fails, so the first process
    wins and the others use its files.
    """
    if (folder / "ca.cert.pem").exists():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        _write_development_material(staging)
        os.rename(staging, folder)
    except OSError:
        if not (folder / "ca.cert.pem").exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "titles development (不可用于生产)"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(**allowed: bool) -> x509.KeyUsage:
    names = ("digital_signature", "content_commitment", "key_encipherment", "data_encipherment", "key_agreement",
             "key_cert_sign", "crl_sign", "encipher_only", "decipher_only")
    return x509.KeyUsage(**{n: allowed.get(n, False) for n in names})


def _write_development_material(folder: Path) -> None:
    # Real time, not the system's clock: PDF readers check the signer's validity against real time.
    now = dt.datetime.now(dt.timezone.utc)
    # ECDSA P-256: pyHanko reloads the key for every signature, and RSA keys are slow to load.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name("titles development CA")).issuer_name(_name("titles development CA"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(_key_usage(key_cert_sign=True, crl_sign=True), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(_name("titles development certificate signer"))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(digital_signature=True, content_commitment=True), critical=True)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (folder / "ca.cert.pem").write_bytes(ca.public_bytes(pem))
    (folder / "signer.cert.pem").write_bytes(cert.public_bytes(pem))
    key_file = folder / "signer.key.pem"
    key_file.write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    key_file.chmod(0o600)


def _signer(found: SigningMaterial):  # noqa: ANN202 - pyhanko's SimpleSigner
    from pyhanko.sign import signers

    cache_key = (found.key, found.cert, found.chain)
    with _cache_lock:
        signer = _cache.get(cache_key)
        if signer is None:
            signer = signers.SimpleSigner.load(str(found.key), str(found.cert),
                                               ca_chain_files=tuple(str(p) for p in found.chain),
                                               key_passphrase=found.passphrase)
            if signer is None:
                raise RuntimeError(f"cannot load the signing key {found.key} and certificate {found.cert}")
            _cache[cache_key] = signer
        return signer


def ensure_ready() -> SigningMaterial:
    """At start: create the development material if needed, and fail early on a key that does not load."""
    found = material()
    _signer(found)
    return found


def sign(pdf: bytes, reason: str = "电子职称证书", location: str = "天津") -> bytes:
    """The PDF with a PAdES signature over the whole document."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(field_name="Signature", subfilter=fields.SigSeedSubFilter.PADES,
                                            md_algorithm="sha256", reason=reason, location=location)
    return signers.sign_pdf(writer, metadata, signer=_signer(material())).getvalue()


def trust_root_pem() -> bytes:
    return material().trust_root.read_bytes()


@dataclass(frozen=True)
class SignatureCheck:
    intact: bool
    trusted: bool
    whole_document: bool

    @property
    def valid(self) -> bool:
        return self.intact and self.trusted and self.whole_document


def check(pdf: bytes, trust_roots_pem: list[bytes] | None = None) -> SignatureCheck:
    """Validate the PDF's signature with pyHanko's validator against our trust root."""
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    roots = [cert for pem in (trust_roots_pem or [trust_root_pem()]) for cert in load_certs_from_pemder_data(pem)]
    try:
        reader = PdfFileReader(io.BytesIO(pdf))
        signatures = reader.embedded_signatures
        if len(signatures) != 1:
            return SignatureCheck(False, False, False)
        status = validate_pdf_signature(signatures[0], ValidationContext(trust_roots=roots))
    except Exception:  # noqa: BLE001 - a PDF too damaged to parse is simply not valid
        return SignatureCheck(False, False, False)
    return SignatureCheck(intact=bool(status.intact and status.valid), trusted=bool(status.trusted),
                          whole_document=status.coverage == SignatureCoverageLevel.ENTIRE_FILE)
