"""A PDF attachment is a document to read: active content is refused, and so is a file that only
starts like a PDF. Reviewers open these files in their browsers."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter
from pypdf.generic import ArrayObject, DictionaryObject, NameObject, TextStringObject

from scenario.profile_steps import demo_pdf
from tests.integration.test_declaration import assert_problem


def written(document: PdfWriter) -> bytes:
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def plain() -> PdfWriter:
    document = PdfWriter()
    document.add_blank_page(595, 842)
    return document


def with_javascript() -> bytes:
    document = plain()
    names = DictionaryObject(
        {
            NameObject("/JavaScript"): DictionaryObject(
                {
                    NameObject("/Names"): ArrayObject(
                        [
                            TextStringObject("x"),
                            DictionaryObject(
                                {
                                    NameObject("/S"): NameObject("/JavaScript"),
                                    NameObject("/JS"): TextStringObject("app.alert(1)"),
                                }
                            ),
                        ]
                    )
                }
            )
        }
    )
    document._root_object[NameObject("/Names")] = names
    return written(document)


def with_open_action(action: str) -> bytes:
    document = plain()
    document._root_object[NameObject("/OpenAction")] = DictionaryObject(
        {NameObject("/S"): NameObject(action), NameObject("/F"): TextStringObject("calc.exe")}
    )
    return written(document)


def with_attachment() -> bytes:
    document = plain()
    document.add_attachment("payload.exe", b"MZ")
    return written(document)


def with_xfa() -> bytes:
    document = plain()
    document._root_object[NameObject("/AcroForm")] = DictionaryObject(
        {NameObject("/Fields"): ArrayObject(), NameObject("/XFA"): TextStringObject("<xdp/>")}
    )
    return written(document)


def with_page_action() -> bytes:
    document = plain()
    document.pages[0][NameObject("/AA")] = DictionaryObject(
        {
            NameObject("/O"): DictionaryObject(
                {NameObject("/S"): NameObject("/JavaScript"), NameObject("/JS"): TextStringObject("1")}
            )
        }
    )
    return written(document)


def upload(clients, auth, content: bytes):
    return clients["profile"].post(
        "/api/v1/profile/attachments",
        headers=auth("applicant"),
        data={"file": (io.BytesIO(content), "scan.pdf")},
        content_type="multipart/form-data",
    )


@pytest.mark.parametrize(
    "make, what",
    [
        (with_javascript, "JavaScript"),
        (lambda: with_open_action("/Launch"), "a launch action"),
        (lambda: with_open_action("/JavaScript"), "an action run on opening"),
        (with_attachment, "embedded files"),
        (with_xfa, "an XFA form"),
        (with_page_action, "actions run on events"),
        # The same launch action with its name spelt in escapes, as a scanner looking at bytes would miss it.
        (lambda: with_open_action("/Launch").replace(b"/OpenAction", b"/Op#65nAction"), "a launch action"),
    ],
)
def test_a_pdf_with_active_content_is_refused_naming_what_it_holds(clients, auth, demo, make, what):
    body = assert_problem(upload(clients, auth, make()), 422, "file", "no_active_content")
    assert what in body["errors"][0]["message"]
    assert "PDF文件不能包含脚本" in body["errors"][0]["message"]


@pytest.mark.parametrize(
    "content",
    [
        b"%PDF-1.4\n<html><body><script>alert(1)</script></body></html>",
        b"%PDF-1.7\n" + b"x" * 64,
    ],
)
def test_a_file_that_only_starts_like_a_pdf_is_refused(clients, auth, demo, content):
    assert_problem(upload(clients, auth, content), 422, "file", "content_type")


def test_a_plain_pdf_is_stored_and_served_unchanged(clients, auth, demo):
    content = demo_pdf("diploma scan")
    response = upload(clients, auth, content)
    assert response.status_code == 201, response.get_json()
    served = clients["profile"].get(f"/api/v1/attachments/{response.get_json()['id']}", headers=auth("applicant"))
    assert served.status_code == 200 and served.data == content and served.mimetype == "application/pdf"
