"""The certificate as a PDF (A4 landscape, Chinese), before it is signed.

Chinese text uses reportlab's built-in CID font STSong-Light (Adobe-GB1): no
font file to ship, and readers extract the text back as Unicode.
"""
from __future__ import annotations

import datetime as dt
import io
import os
from dataclasses import dataclass

from reportlab.graphics import renderPDF
from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

FONT = "STSong-Light"
MODE_NAMES = {"social_review": "社会化评审", "independent_review": "自主评审", "independent_appointment": "自主聘任"}
pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def issuer_name() -> str:
    return os.environ.get("CERTIFICATE_ISSUER_NAME", "天津市人力资源和社会保障局")


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


def render(face: CertificateFace) -> bytes:
    width, height = landscape(A4)
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(width, height), invariant=True)
    pdf.setTitle(f"电子职称证书 {face.number}")
    pdf.setAuthor(issuer_name())
    pdf.setSubject("电子职称证书")

    pdf.setStrokeColor(colors.HexColor("#8B0000"))
    pdf.setLineWidth(4)
    pdf.rect(24, 24, width - 48, height - 48)
    pdf.setLineWidth(1)
    pdf.rect(32, 32, width - 64, height - 64)

    pdf.setFillColor(colors.HexColor("#8B0000"))
    pdf.setFont(FONT, 30)
    pdf.drawCentredString(width / 2, height - 90, "电子职称证书")
    pdf.setFillColor(colors.black)
    pdf.setFont(FONT, 11)
    pdf.drawCentredString(width / 2, height - 112, f"证书编号：{face.number}")

    appointed = face.mode == "independent_appointment"
    rows = [
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
    y = height - 160
    for label, value in rows:
        pdf.setFont(FONT, 13)
        pdf.drawString(90, y, f"{label}：")
        pdf.drawString(190, y, value)
        y -= 28

    qr_size = 130
    widget = QrCodeWidget(face.verification_url)
    left, bottom, right, top = widget.getBounds()
    drawing = Drawing(qr_size, qr_size, transform=[qr_size / (right - left), 0, 0, qr_size / (top - bottom), 0, 0])
    drawing.add(widget)
    renderPDF.draw(drawing, pdf, width - 90 - qr_size, height - 170 - qr_size)
    pdf.setFont(FONT, 11)
    pdf.drawCentredString(width - 90 - qr_size / 2, height - 185 - qr_size, f"验证码：{face.verification_code}")
    pdf.setFont(FONT, 9)
    pdf.drawCentredString(width - 90 - qr_size / 2, height - 200 - qr_size, "扫码或凭编号和验证码查验")

    pdf.setFont(FONT, 13)
    pdf.drawRightString(width - 90, 110, issuer_name())
    pdf.drawRightString(width - 90, 88, chinese_date(face.issued_on))
    pdf.setFont(FONT, 8)
    pdf.setFillColor(colors.grey)
    pdf.drawString(48, 44, "本证书经数字签名，任何修改都会使签名失效。查验地址：" + face.verification_url.split("?", 1)[0])
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
