"""The certificate as a PDF/A-2b page (A4 landscape, Chinese), before it is signed.

Every font is embedded as a subset (``fonts``), so the page reads the same in
any viewer, with or without Asian font packs; ``pdfa`` adds what PDF/A-2b asks
for besides (XMP metadata, the sRGB output intent).
"""

from __future__ import annotations

import datetime as dt
import io
import itertools
from dataclasses import dataclass

import segno
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas

from services.certificate import fonts, pdfa
from shared import config

MODE_NAMES = {"social_review": "社会化评审", "independent_review": "自主评审", "independent_appointment": "自主聘任"}
TITLE = "电子职称证书"


def issuer_name() -> str:
    return config.settings().certificate_issuer_name


@dataclass(frozen=True)
class CertificateFace:
    """What the certificate shows."""

    number: str
    holder_name: str
    id_number: str
    series: str
    level: str
    specialty: str
    qualification_name: str
    mode: str
    committee_name: str
    approved_on: dt.date
    issued_on: dt.date
    verification_code: str
    verification_url: str


def chinese_date(day: dt.date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def rows(face: CertificateFace) -> list[tuple[str, str]]:
    """The labelled fields, in the order printed."""
    appointed = face.mode == "independent_appointment"
    return [
        ("姓　　名", face.holder_name),
        ("身份证号", face.id_number),
        ("系　　列", face.series),
        ("层　　级", face.level),
        ("专　　业", face.specialty),
        ("资格名称", face.qualification_name),
        ("评价方式", MODE_NAMES.get(face.mode, face.mode)),
        ("聘任单位" if appointed else "评审委员会", face.committee_name),
        ("批准日期", chinese_date(face.approved_on)),
        ("发证日期", chinese_date(face.issued_on)),
    ]


QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks


def _qr(pdf: canvas.Canvas, text: str, x: float, y: float, size: float) -> None:
    """``text`` as a QR code (level M) filling the square of ``size`` points at (x, y), its quiet zone
    inside. Drawn as filled rectangles straight on the page, one per run of dark modules in a row (no
    drawing state, so no stray default font). segno encodes it: reportlab's own code and its rectangle a
    module took 20 ms of CPU a certificate here, choosing the mask most of it; this takes 13.5."""
    matrix = segno.make_qr(text, error="m", boost_error=False).matrix
    pdf.setFillColor(colors.black)
    module = size / (len(matrix) + 2 * QUIET_ZONE)
    for row, cells in enumerate(matrix):
        top = y + size - (QUIET_ZONE + row + 1) * module
        column = 0
        for dark, run in itertools.groupby(cells):
            length = len(list(run))
            if dark:
                pdf.rect(x + (QUIET_ZONE + column) * module, top, length * module, module, stroke=0, fill=1)
            column += length


def _text(pdf: canvas.Canvas, x: float, y: float, text: str, size: float, align: str = "left") -> None:
    """Draw ``text`` run by run, each in the first embedded font that has its characters."""
    pieces = fonts.runs(text)
    width = sum(pdfmetrics.stringWidth(part, name, size) for name, part in pieces)
    x -= {"left": 0, "centre": width / 2, "right": width}[align]
    for name, part in pieces:
        pdf.setFont(name, size)
        pdf.drawString(x, y, part)
        x += pdfmetrics.stringWidth(part, name, size)


def render(face: CertificateFace) -> bytes:
    width, height = landscape(A4)
    buffer = io.BytesIO()
    first = fonts.fonts()[0].name
    # The initial font is ours: reportlab would otherwise name Helvetica (not embedded) on the page.
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=True, initialFontName=first, pageCompression=1)

    pdf.setStrokeColor(colors.HexColor("#8B0000"))
    pdf.setLineWidth(4)
    pdf.rect(24, 24, width - 48, height - 48)
    pdf.setLineWidth(1)
    pdf.rect(32, 32, width - 64, height - 64)

    pdf.setFillColor(colors.HexColor("#8B0000"))
    _text(pdf, width / 2, height - 90, TITLE, 30, "centre")
    pdf.setFillColor(colors.black)
    _text(pdf, width / 2, height - 112, f"证书编号：{face.number}", 11, "centre")

    y = height - 160
    for label, value in rows(face):
        _text(pdf, 90, y, f"{label}：", 13)
        _text(pdf, 190, y, value, 13)
        y -= 28

    qr_size = 130
    left = width - 90 - qr_size
    _qr(pdf, face.verification_url, left, height - 170 - qr_size, qr_size)
    _text(pdf, left + qr_size / 2, height - 185 - qr_size, f"验证码：{face.verification_code}", 11, "centre")
    _text(pdf, left + qr_size / 2, height - 200 - qr_size, "扫码或凭编号和验证码查验", 9, "centre")

    _text(pdf, width - 90, 110, issuer_name(), 13, "right")
    _text(pdf, width - 90, 88, chinese_date(face.issued_on), 13, "right")
    pdf.setFillColor(colors.grey)
    _text(
        pdf, 48, 44, "本证书经数字签名，任何修改都会使签名失效。查验地址：" + face.verification_url.split("?", 1)[0], 8
    )
    pdf.showPage()
    pdf.save()
    return pdfa.conform(
        buffer.getvalue(), pdfa.Description(title=f"{TITLE} {face.number}", author=issuer_name(), subject=TITLE)
    )
