"""Signing certificates' PDFs (PAdES with long-term validation data, pyHanko) and checking a signature.

What a signature carries (PAdES baseline B-LTA):

- the CMS signature (PAdES, ``ETSI.CAdES.detached``) with an RFC 3161 timestamp
  from the timestamp authority ``CERTIFICATE_TSA_URL`` (B-T);
- the certificate chains of the signer and of the TSA and their revocation data
  (CRLs or OCSP responses, fetched at signing from the addresses in the
  certificates; a CRL is kept for the signatures of the next few minutes) in
  the document security store (B-LT);
- a document timestamp over all of that (B-LTA), the proof of existence of the
  validation data that lets pyHanko's long-term validation judge the signature
  at its time once the signer's certificate has expired (a B-LT signature
  without it is judged only while its revocation data is fresh).

``CERTIFICATE_TSA_URL=none`` signs without timestamps: the chain and revocation
data are embedded all the same (B-B), but nobody can check the signature once
the signer's certificate has expired. Not for production.

The signing key comes from configuration only (README: "Signing keys in
production"): a PKCS#11 token (``CERTIFICATE_SIGNING_PKCS11_MODULE`` ...), a
PKCS#12 file (``CERTIFICATE_SIGNING_PKCS12``) or PEM files
(``CERTIFICATE_SIGNING_KEY``, ``CERTIFICATE_SIGNING_CERT``). Without any, the
development PKI (``dev_pki``) signs and the development TSA (``dev_tsa``)
timestamps: the embedded default of ``make run`` and the tests.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import io
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.certificate import dev_pki
from shared import config

log = logging.getLogger(__name__)
_cache: dict[tuple, object] = {}
_cache_lock = threading.Lock()


class SigningConfigurationError(RuntimeError):
    """The signing settings name something that cannot be used."""


# --------------------------------------------------------------------------- settings


def _env(name: str) -> str | None:
    value = config.settings().certificate_signing.get(name, "").strip()
    return value or None


def _files(name: str) -> tuple[Path, ...]:
    return tuple(
        Path(p.strip()) for p in (config.settings().certificate_signing.get(name) or "").split(",") if p.strip()
    )


def source() -> str:
    """Where the key is: ``pkcs11``, ``pkcs12``, ``pem`` or ``development``."""
    if _env("CERTIFICATE_SIGNING_PKCS11_MODULE"):
        return "pkcs11"
    if _env("CERTIFICATE_SIGNING_PKCS12"):
        return "pkcs12"
    if _env("CERTIFICATE_SIGNING_KEY") and _env("CERTIFICATE_SIGNING_CERT"):
        return "pem"
    return "development"


def tsa_url() -> str | None:
    """``CERTIFICATE_TSA_URL``; the development TSA by default; ``none`` for no timestamp at all."""
    configured = config.settings().certificate_tsa_url
    if configured is None:
        return dev_pki.trust_services_url() + "/tsa"
    return None if configured.lower() == "none" else configured


def level() -> str:
    """The PAdES baseline level the signatures reach."""
    return "B-B" if tsa_url() is None else "B-LTA"


def _settings_key() -> tuple:
    signing = config.settings().certificate_signing
    names = sorted(k for k in signing if k.startswith("CERTIFICATE_SIGNING_") or k == "CERTIFICATE_TRUST_ROOTS")
    return (str(config.data_dir()), dev_pki.crl_url(), *((k, signing[k]) for k in names))


# --------------------------------------------------------------------------- the signer


def _load_signer():  # noqa: ANN202 - a pyhanko Signer
    from pyhanko.keys import load_certs_from_pemder
    from pyhanko.sign import signers

    chain = list(load_certs_from_pemder([str(p) for p in _files("CERTIFICATE_SIGNING_CHAIN")]))
    kind = source()
    if kind == "pkcs11":
        return _pkcs11_signer(chain)
    if kind == "pkcs12":
        passphrase = _env("CERTIFICATE_SIGNING_PKCS12_PASSPHRASE")
        signer = signers.SimpleSigner.load_pkcs12(
            _env("CERTIFICATE_SIGNING_PKCS12"),
            other_certs=chain,
            passphrase=passphrase.encode() if passphrase else None,
        )
        where = _env("CERTIFICATE_SIGNING_PKCS12")
    elif kind == "pem":
        passphrase = _env("CERTIFICATE_SIGNING_KEY_PASSPHRASE")
        signer = signers.SimpleSigner.load(
            _env("CERTIFICATE_SIGNING_KEY"),
            _env("CERTIFICATE_SIGNING_CERT"),
            ca_chain_files=tuple(str(p) for p in _files("CERTIFICATE_SIGNING_CHAIN")),
            key_passphrase=passphrase.encode() if passphrase else None,
        )
        where = f"{_env('CERTIFICATE_SIGNING_KEY')} and {_env('CERTIFICATE_SIGNING_CERT')}"
    else:
        pki = dev_pki.ensure()
        signer = signers.SimpleSigner.load(
            str(pki.signer_key), str(pki.signer_cert), ca_chain_files=(str(pki.ca_cert),)
        )
        where = str(pki.leaves)
    if signer is None:
        raise SigningConfigurationError(f"cannot load the signing key and certificate from {where}")
    return _key_parsed_once()(
        signer.signing_cert,
        signer.signing_key,
        signer.cert_registry,
        signature_mechanism=signer._signature_mechanism,
        prefer_pss=signer.prefer_pss,
        embed_roots=signer.embed_roots,
    )


@functools.cache
def _key_parsed_once() -> type:
    """pyHanko's SimpleSigner parses its private key again for every signature, and OpenSSL checks an RSA
    key's primes when it does (some 27 ms for 2048 bits): this one keeps the parsed RSA key, and its
    certificate reference as encoded the first time. Other keys and mechanisms sign as pyHanko does."""
    from asn1crypto import cms
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
    from pyhanko.sign import signers
    from pyhanko.sign.attributes import CMSAttributeProvider, SigningCertificateV2Provider
    from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
    from pyhanko_certvalidator.util import get_pyca_cryptography_hash

    class EncodedOnce(CMSAttributeProvider):
        """An attribute that is the same in every signature, given as it was encoded the first time."""

        def __init__(self, attribute_type: str, der: bytes):
            self.attribute_type, self.der = attribute_type, der

        async def get_attribute(self, dry_run: bool = False) -> Any:
            return cms.CMSAttribute.load(self.der)

    class KeyParsedOnce(signers.SimpleSigner):
        parsed: Any = None
        signing_certificate: bytes | None = None

        def _signed_attr_providers(self, *args: Any, **kwargs: Any) -> Any:
            # The signer's ESS certificate reference: asn1crypto builds it from the parsed certificate by
            # copying and re-encoding every part of its issuer's name, again for each signature.
            for provider in super()._signed_attr_providers(*args, **kwargs):
                if isinstance(provider, SigningCertificateV2Provider) and provider.signing_cert is self.signing_cert:
                    if self.signing_certificate is None:
                        reference = as_signing_certificate_v2(self.signing_cert)
                        self.signing_certificate = simple_cms_attribute(provider.attribute_type, reference).dump()
                    yield EncodedOnce(provider.attribute_type, self.signing_certificate)
                else:
                    yield provider

        def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
            mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
            try:
                algorithm = mechanism.signature_algo
            except ValueError:
                algorithm = mechanism["algorithm"].native
            if algorithm != "rsassa_pkcs1v15":
                return super().sign_raw(data, digest_algorithm)
            if self.parsed is None:
                self.parsed = serialization.load_der_private_key(self.signing_key.dump(), password=None)
            if not isinstance(self.parsed, RSAPrivateKey):
                return super().sign_raw(data, digest_algorithm)
            return self.parsed.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))

    return KeyParsedOnce


def _pkcs11_signer(chain: list):  # noqa: ANN202 - pyhanko's PKCS11Signer
    try:
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign import pkcs11
    except ImportError as exc:  # the pkcs11 extra of pyhanko
        raise SigningConfigurationError(f"PKCS#11 signing needs python-pkcs11: {exc}") from exc

    slot = _env("CERTIFICATE_SIGNING_PKCS11_SLOT")
    token = _env("CERTIFICATE_SIGNING_PKCS11_TOKEN")
    pin = _env("CERTIFICATE_SIGNING_PKCS11_PIN")
    pin_file = _env("CERTIFICATE_SIGNING_PKCS11_PIN_FILE")
    if pin is None and pin_file:
        pin = Path(pin_file).read_text().strip()
    module = _env("CERTIFICATE_SIGNING_PKCS11_MODULE") or ""  # set, or this signer is not chosen
    key_label = _env("CERTIFICATE_SIGNING_PKCS11_KEY_LABEL")
    if not key_label:
        raise SigningConfigurationError("CERTIFICATE_SIGNING_PKCS11_KEY_LABEL names the signing key on the token")
    try:
        session = pkcs11.open_pkcs11_session(
            module,
            slot_no=int(slot) if slot else None,
            token_criteria=TokenCriteria(label=token) if token else None,
            user_pin=pin,
        )
    except Exception as exc:  # noqa: BLE001 - python-pkcs11 raises many kinds
        raise SigningConfigurationError(f"cannot open the PKCS#11 token: {exc!r}") from exc
    # Raw mechanism: the digest is computed here and the token signs it (CKM_ECDSA, CKM_RSA_PKCS), for
    # tokens without the combined hash-and-sign mechanisms (SoftHSM has no CKM_ECDSA_SHA256).
    raw = (_env("CERTIFICATE_SIGNING_PKCS11_RAW_MECHANISM") or "0").lower() in ("1", "true", "yes")
    signer = pkcs11.PKCS11Signer(
        session,
        key_label=key_label,
        cert_label=_env("CERTIFICATE_SIGNING_PKCS11_CERT_LABEL") or key_label,
        ca_chain=chain,
        use_raw_mechanism=raw,
    )
    signer.signing_cert  # noqa: B018 - find the key and certificate now, not at the first certificate
    return signer


def signer():  # noqa: ANN201 - a pyhanko Signer
    """The configured signer, loaded once per process (a PKCS#11 session stays open)."""
    key = _settings_key()
    with _cache_lock:
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = _load_signer()
        return found


def trust_roots() -> list:
    """The certificates a verifier trusts: ``CERTIFICATE_TRUST_ROOTS`` (PEM files), else the self-signed
    certificate at the top of the signer's chain."""
    from pyhanko.keys import load_certs_from_pemder

    configured = _files("CERTIFICATE_TRUST_ROOTS")
    if configured:
        return list(load_certs_from_pemder([str(p) for p in configured]))
    if source() == "development":
        return list(load_certs_from_pemder([str(dev_pki.ensure().ca_cert)]))
    current = signer()
    candidates = [current.signing_cert, *current.cert_registry]
    roots = [c for c in candidates if c.self_signed != "no"]  # asn1crypto answers "yes", "maybe" or "no"
    if not roots:
        raise SigningConfigurationError(
            "the signer's chain ends without a self-signed root: name the trust root in CERTIFICATE_TRUST_ROOTS"
        )
    return roots[:1]


def _tsa_roots() -> list:
    from pyhanko.keys import load_certs_from_pemder

    return list(load_certs_from_pemder([str(p) for p in _files("CERTIFICATE_TSA_TRUST_ROOTS")]))


def trust_root_pem() -> bytes:
    from asn1crypto import pem

    return b"".join(pem.armor("CERTIFICATE", cert.dump()) for cert in trust_roots())


def ensure_ready() -> None:
    """At start: load the key (creating the development PKI if needed), its trust root, and the fonts
    and colour profile of the page; fail early on anything missing."""
    from services.certificate import fonts, pdfa

    signer()
    trust_roots()
    if level() == "B-B":
        log.warning(
            "CERTIFICATE_TSA_URL=none: certificates are signed without timestamps and cannot be "
            "verified once the signing certificate expires"
        )
    fonts.fonts()
    pdfa.icc_profile()


# --------------------------------------------------------------------------- signing


def _timeout() -> int:
    return int(_env("CERTIFICATE_TSA_TIMEOUT_S") or 10)


# The requests clients, not pyHanko's default aiohttp ones: those build a new session (and TLS context) for
# every timestamp and every fetch, about a fifth of a second per certificate on two cores. One per TSA and
# process: pyHanko sizes each signature's room with a dummy token it asks the TSA for once per timestamper.
def _timestamper():  # noqa: ANN202
    from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper

    url = tsa_url()
    if not url:
        return None
    key = ("timestamper", url, _timeout())
    with _cache_lock:
        found = _cache.get(key)
        if found is None:
            found = _cache[key] = RequestsHTTPTimeStamper(url, timeout=_timeout())
        return found


def _signing_context():  # noqa: ANN202 - a ValidationContext
    from pyhanko_certvalidator import ValidationContext

    # "require": every certificate of both chains needs revocation data, fetched (or kept, below); signing
    # fails rather than issue a signature nobody could check once the certificates expire.
    return ValidationContext(
        trust_roots=trust_roots() + _tsa_roots(),
        allow_fetching=True,
        revocation_mode="require",
        fetcher_backend=_keeping_backend()(_timeout()),
    )


# --------------------------------------------------------------------------- revocation data kept

# A CA publishes a CRL now and then, valid until its nextUpdate (the development CA's: a new one every few
# minutes, valid a day). Fetched again for every signature, the signer's and the TSA's CRLs cost each
# certificate its HTTP requests (a session and connection each) and their parsing. A CRL fetched at signing
# is kept for REVOCATION_KEPT_S at most, never past its nextUpdate: a revocation the CA publishes reaches
# the signatures within that time, and no signature carries a CRL out of date when it was made.
REVOCATION_KEPT_S = 300.0
# (CRL address, the issuer's key identifier) -> (monotonic deadline, asn1crypto CertificateList): by issuer
# too, so a CA replaced at the same address is never answered with its predecessor's list.
_kept: dict[tuple[str, bytes], tuple[float, Any]] = {}


def _kept_crl(key: tuple[str, bytes]) -> Any:
    found = _kept.get(key)
    if found is None:
        return None
    deadline, crl = found
    next_update = crl["tbs_cert_list"]["next_update"].native
    if time.monotonic() >= deadline or next_update is None or next_update <= dt.datetime.now(dt.UTC):
        _kept.pop(key, None)
        return None
    return crl


def forget_revocation_data() -> None:
    """Fetch every CRL again at the next signature."""
    _kept.clear()


@functools.cache
def _keeping_backend() -> type:
    """pyHanko's requests fetchers, with a CRL fetcher that keeps what it fetched (above)."""
    from pyhanko_certvalidator.fetchers.api import Fetchers
    from pyhanko_certvalidator.fetchers.common_utils import (
        FetchBudget,
        crl_job_results_as_completed,
        enumerate_delivery_point_urls,
    )
    from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend
    from pyhanko_certvalidator.fetchers.requests_fetchers.cert_fetch_client import RequestsCertificateFetcher
    from pyhanko_certvalidator.fetchers.requests_fetchers.crl_client import RequestsCRLFetcher
    from pyhanko_certvalidator.fetchers.requests_fetchers.ocsp_client import RequestsOCSPFetcher
    from pyhanko_certvalidator.util import get_relevant_crl_dps, issuer_serial

    class KeepingCRLFetcher(RequestsCRLFetcher):
        async def _fetch(self, cert: Any, *, use_deltas: bool) -> Any:
            # pyHanko's own, but each address through _kept_or_fetched, which knows the certificate's issuer.
            # Without the issuer's key identifier (an attribute certificate has none), by the certificate's
            # issuer and serial: kept for that certificate alone, never mistaken for another CA's.
            issuer = getattr(cert, "authority_key_identifier", None) or issuer_serial(cert)
            jobs = [
                self._kept_or_fetched(url, issuer)
                for point in get_relevant_crl_dps(cert, use_deltas=use_deltas)
                for url in enumerate_delivery_point_urls(point)
            ]
            async for crl in crl_job_results_as_completed(jobs):
                yield crl

        async def _kept_or_fetched(self, url: str, issuer: bytes) -> Any:
            crl = _kept_crl((url, issuer))
            if crl is None:
                crl = await self._fetch_single(url)
                _kept[(url, issuer)] = (time.monotonic() + REVOCATION_KEPT_S, crl)
                return crl

            async def kept() -> Any:
                return crl

            # Through the fetcher's own bookkeeping, as a fetch: pyHanko embeds what its fetchers returned.
            return await self._perform_fetch(url, kept)

    class KeepingBackend(RequestsFetcherBackend):
        def get_fetchers(self) -> Fetchers:
            # As pyHanko's, with the keeping CRL fetcher: one budget of requests for the three.
            timeout, budget = self.per_request_timeout, FetchBudget(self.limits)
            return Fetchers(
                ocsp_fetcher=RequestsOCSPFetcher(per_request_timeout=timeout, budget=budget),
                crl_fetcher=KeepingCRLFetcher(per_request_timeout=timeout, budget=budget),
                cert_fetcher=RequestsCertificateFetcher(per_request_timeout=timeout, budget=budget),
            )

    return KeepingBackend


def sign(pdf: bytes, reason: str = "电子职称证书", location: str = "天津") -> bytes:
    """The PDF with a PAdES signature over the whole document and its long-term validation data."""
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
    from pyhanko.sign import fields, signers
    from pyhanko.sign.general import SigningError

    reached = level()
    metadata = signers.PdfSignatureMetadata(
        field_name="Signature",
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        embed_validation_info=True,
        validation_context=_signing_context(),
        use_pades_lta=reached == "B-LTA",
        timestamp_field_name="DocumentTimestamp" if reached == "B-LTA" else None,
    )
    pdf_signer = signers.PdfSigner(metadata, signer=signer(), timestamper=_timestamper())
    # The room for the signature: what pyHanko estimated for the first one (a whole trial signature, with its
    # own timestamp token), reused while it holds; a signature that outgrows it is estimated again.
    room_key = ("room", _settings_key(), tsa_url(), reached)
    room = _cache.get(room_key)
    try:
        signed = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf)), bytes_reserved=room).getvalue()
    except SigningError as exc:
        if room is None or "larger than expected" not in str(exc):
            raise
        log.warning("the signature outgrew the room of earlier ones (%s bytes): estimated again", room)
        room = None
        signed = pdf_signer.sign_pdf(IncrementalPdfFileWriter(io.BytesIO(pdf))).getvalue()
    if room is None:
        _cache[room_key] = _room_of(signed)
    return signed


def _room_of(signed: bytes) -> int:
    """The bytes the signature's /Contents reserves in ``signed`` (hex digits, twice its binary length)."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    signature = PdfFileReader(io.BytesIO(signed)).embedded_regular_signatures[0]
    return 2 * len(signature.sig_object["/Contents"])


# --------------------------------------------------------------------------- checking


@dataclass(frozen=True)
class SignatureCheck:
    intact: bool  # the signed bytes are unchanged and the signature is mathematically sound
    trusted: bool  # the signer's chain leads to our trust root, with the embedded revocation data
    whole_document: bool  # nothing but validation data and document timestamps was added after signing
    timestamped: bool = False
    signed_at: dt.datetime | None = None

    @property
    def valid(self) -> bool:
        return self.intact and self.trusted and self.whole_document


def validation_spec(roots: list, nonrevoked: tuple = ()):  # noqa: ANN201
    """pyHanko's AdES validation settings: our trust roots, revocation data required, nothing fetched
    (a check answers from what the document carries)."""
    from pyhanko.sign.validation.policy_decl import (
        LocalKnowledge,
        PdfSignatureValidationSpec,
        RevinfoOnlineFetchingRule,
        RevocationInfoGatheringSpec,
        SignatureValidationSpec,
    )
    from pyhanko_certvalidator.context import CertValidationPolicySpec
    from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
    from pyhanko_certvalidator.registry import SimpleTrustManager

    return PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=roots),
                revinfo_policy=CertRevTrustPolicy(revocation_checking_policy=REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
            local_knowledge=LocalKnowledge(nonrevoked_assertions=list(nonrevoked)),
        )
    )


def validate_lta(pdf: bytes, roots: list, at: dt.datetime | None = None, nonrevoked: tuple = ()):  # noqa: ANN201
    """pyHanko's PAdES long-term validation (ETSI EN 319 102-1) of the PDF's one signature, at ``at``
    (now by default): its AdESLTAValidationResult."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation.ades import ades_lta_validation
    from pyhanko_certvalidator.ltv.types import ValidationTimingInfo

    reader = PdfFileReader(io.BytesIO(pdf))
    [signature] = [s for s in reader.embedded_signatures if s.sig_object.get("/Type") != "/DocTimeStamp"]
    timing = None
    if at is not None:
        timing = ValidationTimingInfo(validation_time=at, best_signature_time=at, point_in_time_validation=True)
    return asyncio.run(ades_lta_validation(signature, validation_spec(roots, nonrevoked), timing_info=timing))


def _classic_status(pdf: bytes, roots: list):  # noqa: ANN202 - a PdfSignatureStatus
    """pyHanko's validation at the current time with the revocation data in the document's DSS: for a
    signature without a timestamp (B-B), which the AdES "with time" validation cannot judge."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko.sign.validation.dss import DocumentSecurityStore

    reader = PdfFileReader(io.BytesIO(pdf))
    [signature] = [s for s in reader.embedded_signatures if s.sig_object.get("/Type") != "/DocTimeStamp"]
    dss = DocumentSecurityStore.read_dss(reader) if "/DSS" in reader.root else None
    settings: dict[str, Any] = {"trust_roots": roots, "allow_fetching": False, "revocation_mode": "hard-fail"}
    context = dss.as_validation_context(settings) if dss else None
    if context is None:
        from pyhanko_certvalidator import ValidationContext

        context = ValidationContext(**settings)
    return validate_pdf_signature(signature, context)


def check(pdf: bytes, trust_roots_pem: list[bytes] | None = None) -> SignatureCheck:
    """Validate the PDF's signature against our trust roots with the validation data it carries:
    PAdES long-term validation when it is timestamped (it stays checkable after the signer's
    certificate expired), a validation at the current time otherwise."""
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.sign.ades.report import AdESIndeterminate, AdESPassed
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    try:
        if trust_roots_pem is None:
            roots = trust_roots() + _tsa_roots()
        else:
            roots = [cert for pem in trust_roots_pem for cert in load_certs_from_pemder_data(pem)]
        result = validate_lta(pdf, roots)
        status, passed = result.api_status, result.ades_subindic == AdESPassed.OK
        if (
            result.ades_subindic == AdESIndeterminate.SIG_CONSTRAINTS_FAILURE
            and status is not None
            and status.timestamp_validity is None
        ):
            status = _classic_status(pdf, roots)
            passed = status.bottom_line
    except Exception:  # noqa: BLE001 - a PDF too damaged to parse (or with other signatures) is not valid
        log.info("signature check failed to run", exc_info=True)
        return SignatureCheck(False, False, False)
    if status is None:
        return SignatureCheck(False, False, False)
    coverage_ok = status.coverage == SignatureCoverageLevel.ENTIRE_FILE or (
        status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
        and status.modification_level in (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
    )
    timestamp = status.timestamp_validity
    return SignatureCheck(
        intact=bool(status.intact and status.valid),
        trusted=bool(status.trusted) and passed,
        whole_document=coverage_ok,
        timestamped=bool(timestamp and timestamp.valid and timestamp.trusted),
        signed_at=timestamp.timestamp if timestamp else None,
    )
