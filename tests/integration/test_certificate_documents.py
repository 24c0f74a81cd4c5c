"""The signed PDF (Chinese text, QR code, PAdES signature checked by pyHanko), downloading it,
revocation by the title office, and the rate limit of public verification."""

from __future__ import annotations

import io
import subprocess
from urllib.parse import parse_qs, urlparse

import pypdf
import pytest
from sqlalchemy import select

from shared.messaging.envelope import Envelope
from tests.integration.test_certificate import envelope_of, issue_command, run


def _issue(dbs, **overrides):
    from services.certificate.models import Certificate

    command = issue_command(**overrides)
    assert run(dbs, envelope_of(command)) == "done"
    with dbs["certificate"].uow(readonly=True) as uow:
        return uow.session.scalar(select(Certificate).where(Certificate.declaration_id == command["declaration_id"]))


def _download(clients, auth, number: str, user: str = "applicant"):
    return clients["certificate"].get(f"/api/v1/certificates/{number}/pdf", headers=auth(user))


def _text(pdf: bytes) -> str:
    return "".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def _trust_root(clients) -> bytes:
    response = clients["certificate"].get("/api/v1/signing-certificate")
    assert response.status_code == 200
    assert response.data.startswith(b"-----BEGIN CERTIFICATE-----")
    return response.data


# --------------------------------------------------------------------------- the PDF


def test_the_holder_downloads_a_pdf_whose_chinese_text_extracts_back(dbs, clients, auth):
    certificate = _issue(dbs, mode="independent_appointment", committee_name="天津市示范科技有限公司")
    response = _download(clients, auth, certificate.number)
    assert response.status_code == 200, response.get_json()
    assert response.mimetype == "application/pdf"
    assert f'filename="{certificate.number}.pdf"' in response.headers["Content-Disposition"]

    text = _text(response.data)
    for shown in (
        "电子职称证书",
        certificate.number,
        "张伟",
        "120101198806120032",
        "工程",
        "中级",
        "土木工程",
        "工程师",
        "自主聘任",
        "聘任单位",
        "天津市示范科技有限公司",
        "2024年6月30日",
        f"验证码：{certificate.verification_code}",
        "天津市人力资源和社会保障局",
    ):
        assert shown in text, (shown, text)


def test_the_pdf_carries_a_qr_code_pointing_at_the_verification_page(dbs, clients, auth):
    from services.certificate import verification

    certificate = _issue(dbs)
    url = verification.verification_url(certificate.number, certificate.verification_code)
    query = parse_qs(urlparse(url).query)
    assert query == {"number": [certificate.number], "code": [certificate.verification_code]}
    # The URL answers with the page for people: scanning the code shows the certificate.
    path = urlparse(url).path
    answer = clients["certificate"].get(path, query_string={k: v[0] for k, v in query.items()})
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    assert certificate.number in answer.get_data(as_text=True)
    # The page's address is printed on the PDF (the QR code encodes it with the query).
    document = _download(clients, auth, certificate.number).data
    assert url.split("?", 1)[0] in _text(document)


def test_the_qr_code_scans_to_the_verification_url(dbs, clients, auth, tmp_path):
    """Scanned as a phone would read the printed page: rasterised by poppler at a modest resolution,
    decoded by ZXing. What it reads is the exact verification URL, number and code included."""
    import zxingcpp
    from PIL import Image

    from services.certificate import verification

    certificate = _issue(dbs)
    (tmp_path / "certificate.pdf").write_bytes(_download(clients, auth, certificate.number).data)
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "100",
            "-gray",
            "-png",
            "-singlefile",
            str(tmp_path / "certificate.pdf"),
            str(tmp_path / "page"),
        ],
        check=True,
        timeout=60,
    )
    found = zxingcpp.read_barcodes(Image.open(tmp_path / "page.png"))
    assert [(code.format, code.text) for code in found] == [
        (
            zxingcpp.BarcodeFormat.QRCode,
            verification.verification_url(certificate.number, certificate.verification_code),
        )
    ]


def test_the_signature_validates_with_pyhankos_own_validator(dbs, clients, auth):
    from pyhanko.keys import load_certs_from_pemder_data
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.diff_analysis import ModificationLevel
    from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
    from pyhanko.sign.validation.status import SignatureCoverageLevel
    from pyhanko_certvalidator import ValidationContext

    certificate = _issue(dbs)
    document = _download(clients, auth, certificate.number).data
    reader = PdfFileReader(io.BytesIO(document))
    # PAdES B-LTA: the signature, then the validation data and a document timestamp over everything.
    signature, document_timestamp = reader.embedded_signatures
    assert signature.sig_object["/Type"] == "/Sig" and document_timestamp.sig_object["/Type"] == "/DocTimeStamp"
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"  # PAdES
    roots = list(load_certs_from_pemder_data(_trust_root(clients)))
    status = validate_pdf_signature(signature, ValidationContext(trust_roots=roots))
    assert status.bottom_line, status.pretty_print_details()
    assert status.intact and status.valid and status.trusted
    # Covered: the whole revision signed; what came after is signature maintenance only.
    assert status.coverage == SignatureCoverageLevel.ENTIRE_REVISION
    assert status.modification_level == ModificationLevel.LTA_UPDATES
    assert status.timestamp_validity is not None and status.timestamp_validity.trusted  # RFC 3161 token
    stamp = validate_pdf_timestamp(document_timestamp, ValidationContext(trust_roots=roots))
    assert stamp.valid and stamp.trusted and stamp.modification_level == ModificationLevel.LTA_UPDATES
    dss = reader.root["/DSS"]
    assert len(dss["/CRLs"]) >= 1 and len(dss["/Certs"]) >= 3  # CA, signer, TSA and their CRL


def test_a_tampered_pdf_fails_validation(dbs, clients, auth):
    from services.certificate import signing

    certificate = _issue(dbs)
    document = _download(clients, auth, certificate.number).data
    assert signing.check(document).valid

    # One byte changed inside the signed range (the creator named in the XMP metadata).
    at = document.index(b"titles certificate service")
    tampered = document[:at] + b"X" + document[at + 1 :]
    check = signing.check(tampered)
    assert not check.intact and not check.valid

    # Content added after signing (an incremental update) is not covered by the signature.
    from pyhanko.pdf_utils.generic import NameObject, TextStringObject
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(document))
    writer.root[NameObject("/Lang")] = TextStringObject("en")
    writer.update_root()
    appended = io.BytesIO()
    writer.write(appended)
    assert not signing.check(appended.getvalue()).valid


def test_a_signature_from_an_untrusted_key_is_not_trusted(dbs, clients, auth, tmp_path):
    from services.certificate import signing
    from tests.helpers.pki import own_pki

    certificate = _issue(dbs)
    document = _download(clients, auth, certificate.number).data
    with own_pki(tmp_path / "other") as (other, _):
        check = signing.check(document, [other.ca_cert.read_bytes()])
    assert check.intact and not check.trusted and not check.valid


def test_the_development_pki_is_created_once_under_concurrent_starts(tmp_path):
    import threading

    from services.certificate import dev_pki

    folder = tmp_path / "certificate-pki"
    barrier = threading.Barrier(6)
    results, errors = [], []

    def start() -> None:
        barrier.wait()
        try:
            results.append(dev_pki.ensure(folder, crl_address="http://127.0.0.1:1/crl"))
        except Exception as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(set(results)) == 1
    [pki] = set(results)
    assert sorted(p.name for p in folder.iterdir()) == ["ca.cert.pem", "ca.key.pem", pki.leaves.name]
    assert sorted(p.name for p in pki.leaves.iterdir()) == [
        "crl-url.txt",
        "signer.cert.pem",
        "signer.key.pem",
        "tsa.cert.pem",
        "tsa.key.pem",
    ]
    assert [p.name for p in tmp_path.iterdir()] == ["certificate-pki"]  # no staging folders left
    for key in (pki.ca_key, pki.signer_key, pki.tsa_key):
        assert key.stat().st_mode & 0o077 == 0
    # Other ports: new leaves under the same CA (the certificates point at the CRL where it is served).
    moved = dev_pki.ensure(folder, crl_address="http://127.0.0.1:2/crl")
    assert moved.leaves != pki.leaves and moved.ca_cert == pki.ca_cert


def test_the_signing_key_comes_from_configuration(dbs, clients, auth, tmp_path, monkeypatch):
    from services.certificate import signing
    from tests.helpers.pki import own_pki

    with own_pki(tmp_path / "other") as (other, url):
        monkeypatch.setenv("CERTIFICATE_SIGNING_KEY", str(other.signer_key))
        monkeypatch.setenv("CERTIFICATE_SIGNING_CERT", str(other.signer_cert))
        monkeypatch.setenv("CERTIFICATE_SIGNING_CHAIN", str(other.ca_cert))
        monkeypatch.setenv("CERTIFICATE_TSA_URL", url + "/tsa")
        certificate = _issue(dbs)
        document = _download(clients, auth, certificate.number).data
        configured_root = other.ca_cert.read_bytes()
        assert _trust_root(clients) == configured_root
        assert signing.check(document, [configured_root]).valid
        assert signing.check(document).valid
    for name in ("CERTIFICATE_SIGNING_KEY", "CERTIFICATE_SIGNING_CERT", "CERTIFICATE_SIGNING_CHAIN"):
        monkeypatch.delenv(name)
    assert not signing.check(document).trusted  # the development root does not vouch for it


def test_nobody_else_downloads_my_certificate(dbs, clients, auth):
    mine = _issue(dbs)
    theirs = _issue(dbs, holder="someone-else", holder_name="李四")
    assert _download(clients, auth, theirs.number).status_code == 404
    assert _download(clients, auth, "TJZC1999000001").status_code == 404
    assert _download(clients, auth, mine.number, user="unit").status_code == 403
    assert _download(clients, auth, mine.number, user="title_office").status_code == 200
    assert clients["certificate"].get(f"/api/v1/certificates/{mine.number}/pdf").status_code == 401


def test_the_holder_and_the_title_office_read_one_certificate_by_number(dbs, clients, auth):
    mine = _issue(dbs)
    theirs = _issue(dbs, holder="someone-else", holder_name="李四")
    client = clients["certificate"]
    one = client.get(f"/api/v1/certificates/{mine.number}", headers=auth("applicant"))
    assert one.status_code == 200 and one.get_json()["declaration_id"] == mine.declaration_id
    assert client.get(f"/api/v1/certificates/{theirs.number}", headers=auth("applicant")).status_code == 404
    office = client.get(f"/api/v1/certificates/{theirs.number}", headers=auth("title_office"))
    assert office.status_code == 200 and office.get_json()["holder_name"] == "李四"
    assert client.get(f"/api/v1/certificates/{mine.number}", headers=auth("committee")).status_code == 403


# --------------------------------------------------------------------------- revocation


def _revoke(clients, auth, number: str, reason: str | None = "申报材料造假", user: str = "title_office"):
    body = {} if reason is None else {"reason": reason}
    return clients["certificate"].post(f"/api/v1/certificates/{number}/revoke", json=body, headers=auth(user))


def _verify(clients, certificate):
    return clients["certificate"].get(
        "/api/v1/verify", query_string={"number": certificate.number, "code": certificate.verification_code}
    )


def test_a_revoked_certificates_verification_says_so_with_date_and_reason(dbs, clients, auth):
    certificate = _issue(dbs)
    response = _revoke(clients, auth, certificate.number)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "revoked"

    body = _verify(clients, certificate).get_json()
    assert body["status"] == "revoked"
    assert body["revoked_reason"] == "申报材料造假"
    assert body["revoked_at"] is not None
    assert body["holder_name"] == "张伟" and "*" in body["id_number"]

    mine = clients["certificate"].get("/api/v1/certificates", headers=auth("applicant")).get_json()
    assert [(c["number"], c["status"]) for c in mine] == [(certificate.number, "revoked")]

    model = dbs["certificate"].outbox_model
    with dbs["certificate"].uow(readonly=True) as uow:
        [row] = uow.session.scalars(select(model).where(model.type == "certificate.revoked.v1"))
    event = Envelope.from_json(row.body)
    assert event.correlation_id == certificate.declaration_id
    assert (event.data["number"], event.data["reason"], event.data["holder"], event.data["revoked_by"]) == (
        certificate.number,
        "申报材料造假",
        "applicant",
        "title_office",
    )


def test_only_the_title_office_revokes_and_only_with_a_reason(dbs, clients, auth):
    certificate = _issue(dbs)
    for user in ("applicant", "unit", "committee"):
        assert _revoke(clients, auth, certificate.number, user=user).status_code == 403
    for reason in (None, ""):
        response = _revoke(clients, auth, certificate.number, reason=reason)
        assert response.status_code == 422
        assert [e["field"] for e in response.get_json()["errors"]] == ["reason"]
    response = _revoke(clients, auth, certificate.number, reason="   ")
    assert response.status_code == 422
    assert _verify(clients, certificate).get_json()["status"] == "valid"
    assert _revoke(clients, auth, "TJZC1999000001").status_code == 404


def test_revoking_twice_is_a_conflict_and_announces_once(dbs, clients, auth):
    certificate = _issue(dbs)
    assert _revoke(clients, auth, certificate.number).status_code == 200
    again = _revoke(clients, auth, certificate.number, reason="另一个原因")
    assert again.status_code == 409
    assert _verify(clients, certificate).get_json()["revoked_reason"] == "申报材料造假"
    model = dbs["certificate"].outbox_model
    with dbs["certificate"].uow(readonly=True) as uow:
        assert len(list(uow.session.scalars(select(model).where(model.type == "certificate.revoked.v1")))) == 1


# --------------------------------------------------------------------------- rate limit


def test_public_verification_is_rate_limited(dbs, apps, monkeypatch):
    monkeypatch.setenv("CERTIFICATE_VERIFY_RATE_LIMIT", "3/60")
    apps["certificate"].extensions.pop("certificate.verify_rate", None)
    try:
        client = apps["certificate"].test_client()
        query = {"number": "TJZC2024000001", "code": "ABCDEFGH"}
        statuses = [client.get("/api/v1/verify", query_string=query).status_code for _ in range(4)]
        assert statuses == [404, 404, 404, 429]
        limited = client.get("/api/v1/verify", query_string=query)
        assert limited.mimetype == "application/problem+json"
        assert int(limited.headers["Retry-After"]) >= 1
        # Another address is not affected.
        other = client.get("/api/v1/verify", query_string=query, environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert other.status_code == 404
    finally:
        apps["certificate"].extensions.pop("certificate.verify_rate", None)


def test_a_signing_key_that_does_not_load_stops_the_service_at_start(dbs, tmp_path, monkeypatch):
    from services.certificate import bootstrap

    (tmp_path / "key.pem").write_text("not a key")
    (tmp_path / "cert.pem").write_text("not a certificate")
    monkeypatch.setenv("CERTIFICATE_SIGNING_KEY", str(tmp_path / "key.pem"))
    monkeypatch.setenv("CERTIFICATE_SIGNING_CERT", str(tmp_path / "cert.pem"))
    with pytest.raises(Exception):  # noqa: B017 - whatever the key parser raises: the service must not start
        bootstrap.create_app(dbs["certificate"])


def test_every_signature_names_its_signer_in_its_ess_reference_as_pyhanko_would(dbs, clients, auth):
    """The signer's signing-certificate-v2 attribute is encoded once and reused (services/certificate/
    signing.py): the second signature of a process still names the signer exactly as pyHanko builds it."""
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.general import as_signing_certificate_v2

    from services.certificate import signing

    expected = as_signing_certificate_v2(signing.signer().signing_cert).dump()
    for _ in range(2):
        document = _download(clients, auth, _issue(dbs).number).data
        signature = PdfFileReader(io.BytesIO(document)).embedded_signatures[0]
        [reference] = [
            a["values"][0]
            for a in signature.signer_info["signed_attrs"]
            if a["type"].native == "signing_certificate_v2"
        ]
        assert reference.dump() == expected
