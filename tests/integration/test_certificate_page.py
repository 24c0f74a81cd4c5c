"""The verification page for people (issue 13): where the QR code leads, what it shows, what it hides,
and checking a PDF someone was given."""

from __future__ import annotations

from tests.integration.test_certificate_documents import _download, _issue, _revoke


def _page(clients, number: str, code: str, **kwargs):
    return clients["certificate"].get("/verify", query_string={"number": number, "code": code}, **kwargs)


def _upload(clients, certificate, document: bytes, code: str | None = None):
    import io

    return clients["certificate"].post(
        "/verify",
        content_type="multipart/form-data",
        data={
            "number": certificate.number,
            "code": code or certificate.verification_code,
            "document": (io.BytesIO(document), "证书.pdf", "application/pdf"),
        },
    )


def test_the_page_shows_a_valid_certificate_with_the_id_number_masked(dbs, clients):
    certificate = _issue(dbs, mode="independent_appointment", committee_name="天津市示范科技有限公司")
    response = _page(clients, certificate.number, certificate.verification_code.lower())  # any case
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and 'name="viewport"' in html
    assert "有效" in html and "已撤销" not in html
    for shown in (
        certificate.number,
        "张伟",
        "1201**********0032",
        "工程",
        "中级",
        "土木工程",
        "工程师",
        "自主聘任",
        "聘任单位",
        "天津市示范科技有限公司",
        "2024年6月30日",
    ):
        assert shown in html, shown
    assert "120101198806120032" not in html
    # The address carries the code: it goes to no other site, and no cache keeps the page.
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]


def test_a_wrong_code_or_number_shows_nothing_of_anyone(dbs, clients):
    certificate = _issue(dbs, holder_name="王小明", committee_name="天津市机密评审委员会")
    wrong_code = _page(clients, certificate.number, "WRONG234")
    unknown = _page(clients, "TJZC1999000001", certificate.verification_code)
    assert wrong_code.status_code == unknown.status_code == 404
    html = wrong_code.get_data(as_text=True)
    assert "未找到" in html
    assert html == unknown.get_data(as_text=True)  # which of the two was wrong is not told
    for personal in (
        "王小明",
        "120101198806120032",
        "1201",
        "0032",
        "天津市机密评审委员会",
        "工程师",
        "土木工程",
        certificate.number,
        certificate.verification_code,
    ):
        assert personal not in html, personal


def test_the_page_for_a_revoked_certificate_says_revoked_with_date_and_reason(dbs, clients, auth):
    certificate = _issue(dbs)
    assert _revoke(clients, auth, certificate.number, reason="申报材料造假").status_code == 200
    html = _page(clients, certificate.number, certificate.verification_code).get_data(as_text=True)
    assert "已撤销" in html and "有效</div>" not in html
    assert "申报材料造假" in html
    assert '<dd id="revoked-on">' in html and "年" in html.split('<dd id="revoked-on">', 1)[1].split("</dd>", 1)[0]


def test_the_pdf_as_issued_is_reported_unaltered(dbs, clients, auth):
    certificate = _issue(dbs)
    document = _download(clients, auth, certificate.number).data
    response = _upload(clients, certificate, document)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "未被修改" in html and "已被修改" not in html
    assert "有效（由发证机关签名）" in html and "可信时间戳" in html


def test_a_tampered_pdf_is_reported_altered(dbs, clients, auth):
    certificate = _issue(dbs, holder_name="张伟")
    document = _download(clients, auth, certificate.number).data
    # Someone edits the creator in the metadata (inside the signed bytes).
    at = document.index(b"titles certificate service")
    tampered = document[:at] + b"T" + document[at + 1 :]
    html = _upload(clients, certificate, tampered).get_data(as_text=True)
    assert "已被修改" in html and "未被修改" not in html
    assert "无效或无法验证" in html

    # A genuine, validly signed certificate of someone else is not this one either.
    other = _issue(dbs, holder="someone-else", holder_name="李四")
    theirs = _download(clients, auth, other.number, user="title_office").data
    html = _upload(clients, certificate, theirs).get_data(as_text=True)
    assert "已被修改" in html and "有效（由发证机关签名）" in html


def test_an_upload_with_a_wrong_code_checks_nothing(dbs, clients, auth):
    certificate = _issue(dbs)
    document = _download(clients, auth, certificate.number).data
    response = _upload(clients, certificate, document, code="WRONG234")
    assert response.status_code == 404
    assert "张伟" not in response.get_data(as_text=True)


def test_the_page_without_a_number_asks_for_one(dbs, clients):
    response = clients["certificate"].get("/verify")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert 'name="number"' in html and 'name="code"' in html and "未找到" not in html


def test_the_page_and_the_json_endpoint_share_one_rate_limit(dbs, apps, monkeypatch):
    monkeypatch.setenv("CERTIFICATE_VERIFY_RATE_LIMIT", "3/60")
    apps["certificate"].extensions.pop("certificate.verify_rate", None)
    try:
        client = apps["certificate"].test_client()
        query = {"number": "TJZC2024000001", "code": "ABCDEFGH"}
        assert client.get("/api/v1/verify", query_string=query).status_code == 404
        assert client.get("/verify", query_string=query).status_code == 404
        assert client.get("/api/v1/verify", query_string=query).status_code == 404
        limited = client.get("/verify", query_string=query)
        assert limited.status_code == 429 and limited.mimetype == "text/html"
        assert int(limited.headers["Retry-After"]) >= 1 and "查验过于频繁" in limited.get_data(as_text=True)
        assert client.get("/api/v1/verify", query_string=query).status_code == 429
    finally:
        apps["certificate"].extensions.pop("certificate.verify_rate", None)
