"""Certificates that open correctly anywhere and stay verifiable for decades (issue 13):
every font embedded and the page read back by poppler, PDF/A-2b, and PAdES long-term validation
that still succeeds ten years on, after the signer's certificate expired."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import re
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_certificate_documents import _download, _issue

FIELDS = {
    "姓名": "张伟",
    "身份证号": "120101198806120032",
    "系列": "工程",
    "层级": "中级",
    "专业": "土木工程",
    "资格名称": "工程师",
    "评价方式": "社会化评审",
    "评审委员会": "天津市工程系列中级职称评审委员会",
    "批准日期": "2024年6月30日",
}


def _poppler(tool: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60, check=True)


def _signed(dbs, clients, auth, tmp_path: Path, **overrides) -> tuple[object, Path]:
    certificate = _issue(dbs, **overrides)
    path = tmp_path / f"{certificate.number}.pdf"
    path.write_bytes(_download(clients, auth, certificate.number).data)
    return certificate, path


# --------------------------------------------------------------------------- fonts and poppler


def test_every_font_is_embedded_and_poppler_reads_back_every_field(dbs, clients, auth, tmp_path):
    certificate, path = _signed(dbs, clients, auth, tmp_path)

    fonts = _poppler("pdffonts", str(path)).stdout.splitlines()[2:]
    assert fonts, "the page names no font"
    for row in fonts:
        # name type encoding emb sub uni object generation; the name may hold no spaces
        name, *_, emb, sub, uni, _obj, _gen = row.split()
        assert (emb, sub, uni) == ("yes", "yes", "yes"), row  # embedded, subset, mapped to Unicode
        assert "STSong" not in name and "Helvetica" not in name and "Times" not in name, row

    # Text extracted through the embedded fonts' own mapping: each field, by its label.
    text = _poppler("pdftotext", "-layout", str(path), "-").stdout
    flat = re.sub(r"[ \u3000]+", "", text)
    for label, value in {**FIELDS, "证书编号": certificate.number, "验证码": certificate.verification_code}.items():
        assert f"{label}：{value}" in flat, (label, value, text)
    assert "电子职称证书" in flat and "天津市人力资源和社会保障局" in flat


def test_poppler_renders_the_page_without_a_missing_font(dbs, clients, auth, tmp_path):
    from PIL import Image

    _, path = _signed(dbs, clients, auth, tmp_path)
    rendered = _poppler("pdftoppm", "-r", "40", "-gray", "-png", "-singlefile", str(path), str(tmp_path / "page"))
    # poppler says so on stderr when it substitutes a font or finds a glyph missing
    assert rendered.stderr == ""
    with Image.open(tmp_path / "page.png") as page:
        histogram = page.histogram()
    dark = sum(histogram[:128])
    assert 0 < dark < 0.2 * sum(histogram)  # ink on the page, and the page is not black


def test_a_character_of_a_name_is_drawn_by_the_next_font_that_has_it(monkeypatch):
    from services.certificate import fonts

    snowman = "\u2603"  # not in WenQuanYi Micro Hei; DejaVu Sans has it
    with pytest.raises(fonts.MissingGlyph, match="U\\+2603"):
        fonts.runs(f"张{snowman}")
    monkeypatch.setenv("CERTIFICATE_FONTS", f"{fonts.DEFAULT_FONTS},/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    first, fallback = fonts.fonts()
    assert fonts.runs(f"张伟{snowman}A") == [(first.name, "张伟"), (fallback.name, snowman), (first.name, "A")]


def test_a_missing_font_file_stops_the_service_at_start(dbs, monkeypatch, tmp_path):
    from services.certificate import bootstrap, fonts

    monkeypatch.setenv("CERTIFICATE_FONTS", str(tmp_path / "nowhere.ttf"))
    with pytest.raises(fonts.MissingFont, match="fonts-wqy-microhei"):
        bootstrap.create_app(dbs["certificate"])


# --------------------------------------------------------------------------- PDF/A-2b


def test_the_pdf_is_pdfa_2b_with_xmp_metadata_and_an_srgb_output_intent(dbs, clients, auth, tmp_path):
    from pyhanko.pdf_utils.metadata import model
    from pyhanko.pdf_utils.reader import PdfFileReader

    certificate, path = _signed(dbs, clients, auth, tmp_path)
    reader = PdfFileReader(io.BytesIO(path.read_bytes()))
    root = reader.root

    # The XMP claims PDF/A-2b, and still does after the signature and its validation data were added.
    fields = {name: value for structure in root["/Metadata"].xmp for name, value in structure}
    pdfaid = model.NS["pdfaid"]
    assert fields[model.ExpandedName(pdfaid, "part")].value == "2"
    assert fields[model.ExpandedName(pdfaid, "conformance")].value == "B"
    assert "/Filter" not in root["/Metadata"]  # metadata stays readable without decoding
    assert "/Info" not in reader.trailer  # nothing to disagree with the XMP
    assert "/Encrypt" not in reader.trailer and len(reader.trailer["/ID"]) == 2

    [intent] = [i.get_object() for i in root["/OutputIntents"]]
    assert intent["/S"] == "/GTS_PDFA1" and intent["/OutputConditionIdentifier"] == "sRGB IEC61966-2.1"
    profile = intent["/DestOutputProfile"]
    data = profile.data
    assert profile["/N"] == 3 and data[36:40] == b"acsp" and data[16:20] == b"RGB "
    assert data[8] <= 4  # an ICC version PDF 1.7 knows

    # Every font program is in the file; every annotation (the signature fields) is printable, none hidden.
    page = reader.root["/Pages"]["/Kids"][0]
    for font in page["/Resources"]["/Font"].values():
        descriptor = font.get_object()["/FontDescriptor"]
        assert "/FontFile2" in descriptor or "/FontFile3" in descriptor
    for annotation in page.get("/Annots", []):
        flags = annotation.get_object()["/F"]
        assert flags & 4 and not flags & 2  # Print set, Hidden clear


# --------------------------------------------------------------------------- long-term validation


def _short_lived_signer(folder: Path, hours: int) -> dict[str, str]:
    """A signing certificate of the development CA valid for ``hours``, as the settings naming it."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from services.certificate import dev_pki

    pki = dev_pki.ensure()
    ca_key = dev_pki._load_key(pki.ca_key)
    ca = dev_pki._load_cert(pki.ca_cert)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = dev_pki.issue_leaf(
        ca,
        ca_key,
        key.public_key(),
        "short-lived signer",
        now - dt.timedelta(minutes=5),
        now + dt.timedelta(hours=hours),
        dev_pki.crl_url(),
    )
    folder.mkdir()
    dev_pki._write_key(folder / "key.pem", key)
    dev_pki._write_cert(folder / "cert.pem", cert)
    return {
        "CERTIFICATE_SIGNING_KEY": str(folder / "key.pem"),
        "CERTIFICATE_SIGNING_CERT": str(folder / "cert.pem"),
        "CERTIFICATE_SIGNING_CHAIN": str(pki.ca_cert),
    }


def _ten_years_on(document: bytes, signer_cert: Path):
    """pyHanko's PAdES LTA validation ten years from now; the verifier then knows the latest document
    timestamp's TSA certificate unrevoked, as a fresh CRL of that day would tell it."""
    from cryptography import x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko_certvalidator.policy_decl import NonRevokedStatusAssertion

    from services.certificate import signing

    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3653)
    assert x509.load_pem_x509_certificate(signer_cert.read_bytes()).not_valid_after_utc < later
    timestamps = [
        s for s in PdfFileReader(io.BytesIO(document)).embedded_signatures if s.sig_object["/Type"] == "/DocTimeStamp"
    ]
    known = tuple(NonRevokedStatusAssertion(hashlib.sha256(t.signer_cert.dump()).digest(), later) for t in timestamps)
    return signing.validate_lta(document, signing.trust_roots(), at=later, nonrevoked=known)


def test_a_certificate_signed_today_validates_ten_years_on_after_its_signer_expired(
    dbs, clients, auth, tmp_path, monkeypatch
):
    from pyhanko.sign.ades.report import AdESPassed

    from services.certificate import signing

    for name, value in _short_lived_signer(tmp_path / "signer", hours=24).items():
        monkeypatch.setenv(name, value)
    assert signing.level() == "B-LTA"
    _, path = _signed(dbs, clients, auth, tmp_path)
    document = path.read_bytes()

    result = _ten_years_on(document, Path(signing._env("CERTIFICATE_SIGNING_CERT")))
    assert result.ades_subindic == AdESPassed.OK, (result.ades_subindic, result.failure_msg)
    assert signing.check(document).valid  # and today, from what the document carries alone

    # The same signature without a timestamp (no TSA): valid today, unverifiable once the signer expired.
    monkeypatch.setenv("CERTIFICATE_TSA_URL", "none")
    assert signing.level() == "B-B"
    _, bare = _signed(dbs, clients, auth, tmp_path)
    assert signing.check(bare.read_bytes()).valid
    result = _ten_years_on(bare.read_bytes(), Path(signing._env("CERTIFICATE_SIGNING_CERT")))
    assert result.ades_subindic != AdESPassed.OK


def test_signing_fails_rather_than_sign_without_revocation_data(dbs, trust_services, tmp_path, monkeypatch):
    from services.certificate import dev_pki, pdf, signing
    from tests.helpers.pki import own_pki

    # A signer of another CA, timestamped by the usual TSA (whose root is named as the TSA's).
    monkeypatch.setenv("CERTIFICATE_TSA_URL", trust_services + "/tsa")
    monkeypatch.setenv("CERTIFICATE_TSA_TRUST_ROOTS", str(dev_pki.ensure().ca_cert))
    page = pdf.render(_face())
    with own_pki(tmp_path / "other") as (other, _):
        monkeypatch.setenv("CERTIFICATE_SIGNING_KEY", str(other.signer_key))
        monkeypatch.setenv("CERTIFICATE_SIGNING_CERT", str(other.signer_cert))
        monkeypatch.setenv("CERTIFICATE_SIGNING_CHAIN", str(other.ca_cert))
        assert signing.check(signing.sign(page)).valid
    # That CA's CRL is no longer served. The list fetched a moment ago is still within its keeping time and
    # its nextUpdate, and a signature carries it as it would a list fetched now.
    assert signing.check(signing.sign(page)).valid
    # Once it is too old to keep, no signature that nobody could check once the certificate expires.
    _keeping_time_over(signing)
    with pytest.raises(Exception, match="(?i)revocation|could not be validated"):
        signing.sign(page)


def _keeping_time_over(signing) -> None:
    signing._kept.update({key: (0.0, crl) for key, (_, crl) in signing._kept.items()})


def test_a_crl_fetched_at_signing_is_kept_a_while_then_fetched_again(dbs, trust_services, monkeypatch):
    from pyhanko_certvalidator.fetchers.requests_fetchers.crl_client import RequestsCRLFetcher

    from services.certificate import pdf, signing

    fetched: list[str] = []
    fetch = RequestsCRLFetcher._fetch_single

    async def counted(self, url):
        fetched.append(url)
        return await fetch(self, url)

    monkeypatch.setattr(RequestsCRLFetcher, "_fetch_single", counted)
    monkeypatch.setenv("CERTIFICATE_TSA_URL", trust_services + "/tsa")
    signing.forget_revocation_data()
    page = pdf.render(_face())
    signing.sign(page)
    first = len(fetched)
    assert first >= 1 and set(fetched) == {trust_services + "/crl"}  # the CA's list: the signer's and the TSA's

    kept = signing.sign(page)
    assert len(fetched) == first  # nothing fetched: the list kept from the first signature
    assert signing.check(kept).valid  # and it is in the signature, which checks from what it carries

    _keeping_time_over(signing)
    signing.sign(page)
    assert len(fetched) == 2 * first  # fetched again once too old to keep


def test_a_crl_past_its_next_update_is_not_kept(dbs, trust_services):
    from asn1crypto import crl as asn1_crl

    from services.certificate import dev_pki, signing

    pki = dev_pki.ensure()
    stale = asn1_crl.CertificateList.load(dev_pki.crl(pki, now=dt.datetime.now(dt.UTC) - dt.timedelta(days=2)))
    fresh = asn1_crl.CertificateList.load(dev_pki.crl(pki))
    signing.forget_revocation_data()
    signing._kept[("http://ca.example/crl", b"issuer")] = (float("inf"), stale)
    signing._kept[("http://ca.example/other.crl", b"issuer")] = (float("inf"), fresh)
    assert signing._kept_crl(("http://ca.example/crl", b"issuer")) is None  # its nextUpdate has passed
    assert signing._kept_crl(("http://ca.example/other.crl", b"issuer")) is fresh
    assert signing._kept_crl(("http://ca.example/other.crl", b"another issuer")) is None
    signing.forget_revocation_data()


def test_a_signature_that_outgrows_the_room_of_earlier_ones_is_sized_again(dbs, trust_services, monkeypatch):
    from services.certificate import pdf, signing

    monkeypatch.setenv("CERTIFICATE_TSA_URL", trust_services + "/tsa")
    page = pdf.render(_face())
    first = signing.sign(page)  # sized by pyHanko's trial signature; later ones reuse its room
    room_key = ("room", signing._settings_key(), signing.tsa_url(), signing.level())
    room = signing._cache[room_key]
    assert room == signing._room_of(first) and room > 2000
    assert signing._room_of(signing.sign(page)) == room
    signing._cache[room_key] = 64  # as if the earlier signatures had been much smaller
    again = signing.sign(page)
    assert signing.check(again).valid
    assert signing._room_of(again) > 2000  # sized again by a trial signature
    assert signing._cache[room_key] == signing._room_of(again)  # and the room remembered anew


def _face():
    from services.certificate import pdf

    return pdf.CertificateFace(
        number="TJZC2026000001",
        holder_name="张伟",
        id_number="120101198806120032",
        series="工程",
        level="中级",
        specialty="土木工程",
        qualification_name="工程师",
        mode="social_review",
        committee_name="评审委员会",
        approved_on=dt.date(2026, 6, 30),
        issued_on=dt.date(2026, 7, 1),
        verification_code="ABCD2345",
        verification_url="http://127.0.0.1/verify?number=TJZC2026000001&code=ABCD2345",
    )


# --------------------------------------------------------------------------- keys from configuration


def test_the_signing_key_can_come_from_a_pkcs12_file(dbs, tmp_path, monkeypatch):
    from cryptography.hazmat.primitives.serialization import BestAvailableEncryption, pkcs12

    from services.certificate import dev_pki, pdf, signing
    from tests.helpers.pki import own_pki

    with own_pki(tmp_path / "other") as (other, url):
        bundle = pkcs12.serialize_key_and_certificates(
            b"signer",
            dev_pki._load_key(other.signer_key),
            dev_pki._load_cert(other.signer_cert),
            [dev_pki._load_cert(other.ca_cert)],
            BestAvailableEncryption(b"secret"),
        )
        (tmp_path / "signer.p12").write_bytes(bundle)
        monkeypatch.setenv("CERTIFICATE_SIGNING_PKCS12", str(tmp_path / "signer.p12"))
        monkeypatch.setenv("CERTIFICATE_SIGNING_PKCS12_PASSPHRASE", "secret")
        monkeypatch.setenv("CERTIFICATE_TSA_URL", url + "/tsa")
        assert signing.source() == "pkcs12"
        document = signing.sign(pdf.render(_face()))
    assert signing.check(document).valid
    assert signing.trust_root_pem() == other.ca_cert.read_bytes()


# --------------------------------------------------------------------------- the development TSA


def test_the_development_tsa_answers_rfc3161_and_refuses_anything_else(trust_services):
    import requests
    from asn1crypto import algos, tsp

    query = tsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": b"\x01" * 32,
            },
            "nonce": 12345,
            "cert_req": True,
        }
    )
    answer = requests.post(
        trust_services + "/tsa", data=query.dump(), timeout=10, headers={"Content-Type": "application/timestamp-query"}
    )
    assert answer.status_code == 200 and answer.headers["Content-Type"] == "application/timestamp-reply"
    reply = tsp.TimeStampResp.load(answer.content)
    assert reply["status"]["status"].native == "granted"
    info = reply["time_stamp_token"]["content"]["encap_content_info"]["content"].parsed
    assert info["nonce"].native == 12345 and info["message_imprint"]["hashed_message"].native == b"\x01" * 32

    for body, kind in ((b"not asn.1", "application/timestamp-query"), (query.dump(), "application/json")):
        assert (
            requests.post(trust_services + "/tsa", data=body, headers={"Content-Type": kind}, timeout=10).status_code
            == 400
        )
    crl = requests.get(trust_services + "/crl", timeout=10)
    assert crl.status_code == 200 and crl.headers["Content-Type"] == "application/pkix-crl"


SOFTHSM = Path("/usr/lib/softhsm/libsofthsm2.so")  # Debian's softhsm2 (deploy/debian-packages-test.txt)


def test_the_signing_key_can_stay_on_a_pkcs11_token(dbs, tmp_path, monkeypatch):
    """A software token (SoftHSM) stands in for the HSM: the key is imported onto it and never read back."""
    import pkcs11
    from cryptography.hazmat.primitives.serialization import Encoding
    from pkcs11 import Attribute
    from pkcs11.util.x509 import decode_x509_certificate

    from services.certificate import dev_pki, pdf, signing
    from tests.helpers.pki import own_pki

    tokens = tmp_path / "tokens"
    tokens.mkdir()
    (tmp_path / "softhsm2.conf").write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(tmp_path / "softhsm2.conf"))
    run = dict(capture_output=True, text=True, timeout=60, check=True)
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "titles-signing", "--pin", "1234", "--so-pin", "123456"],
        **run,
    )
    with own_pki(tmp_path / "other") as (other, url):
        subprocess.run(
            [
                "softhsm2-util",
                "--import",
                str(other.signer_key),
                "--token",
                "titles-signing",
                "--label",
                "certificate-signer",
                "--id",
                "01",
                "--pin",
                "1234",
            ],
            **run,
        )
        token = pkcs11.lib(str(SOFTHSM)).get_token(token_label="titles-signing")
        with token.open(rw=True, user_pin="1234") as session:
            certificate = decode_x509_certificate(dev_pki._load_cert(other.signer_cert).public_bytes(Encoding.DER))
            certificate.update({Attribute.TOKEN: True, Attribute.LABEL: "certificate-signer", Attribute.ID: b"\x01"})
            session.create_object(certificate)

        monkeypatch.setenv("CERTIFICATE_SIGNING_PKCS11_MODULE", str(SOFTHSM))
        monkeypatch.setenv("CERTIFICATE_SIGNING_PKCS11_TOKEN", "titles-signing")
        monkeypatch.setenv("CERTIFICATE_SIGNING_PKCS11_PIN", "1234")
        monkeypatch.setenv("CERTIFICATE_SIGNING_PKCS11_KEY_LABEL", "certificate-signer")
        monkeypatch.setenv("CERTIFICATE_SIGNING_PKCS11_RAW_MECHANISM", "1")  # SoftHSM signs digests only
        monkeypatch.setenv("CERTIFICATE_SIGNING_CHAIN", str(other.ca_cert))
        monkeypatch.setenv("CERTIFICATE_TSA_URL", url + "/tsa")
        assert signing.source() == "pkcs11"
        document = signing.sign(pdf.render(_face()))
        check = signing.check(document)
    assert check.valid and check.timestamped
    assert signing.trust_root_pem() == other.ca_cert.read_bytes()
