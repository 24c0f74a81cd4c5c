"""Templates the applicant downloads, fills in and has stamped (§三(一)4 "页面中有模板").

The proof of genuine performance for labour dispatch (劳务派遣 真实履职证明) is issued by the unit the
applicant is dispatched to; the work-experience section asks for it as ``dispatch_proof_id``. The
document is built here as a small Word file (Office Open XML: three parts in a zip), so its text is
reviewed as code and no binary file is kept; the same bytes are served every time.
"""

from __future__ import annotations

import io
import zipfile
from xml.sax.saxutils import escape

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
DISPATCH_PROOF_NAME = "劳务派遣人员真实履职证明（模板）.docx"

# (text, style): "title" centred and bold, "" a plain paragraph.
DISPATCH_PROOF = (
    ("劳务派遣人员真实履职证明", "title"),
    ("", ""),
    (
        "兹证明＿＿＿＿＿＿（姓名），居民身份证号码＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿，系＿＿＿＿＿＿＿＿＿＿＿＿"
        "（劳务派遣单位名称）派遣至我单位的工作人员。",
        "",
    ),
    (
        "自＿＿＿＿年＿＿月＿＿日至＿＿＿＿年＿＿月＿＿日（至今在岗的写“至今”），该同志在我单位＿＿＿＿＿＿＿＿"
        "（部门）从事＿＿＿＿＿＿＿＿专业技术工作，担任＿＿＿＿＿＿＿＿职务（岗位）。",
        "",
    ),
    ("主要工作内容及履职情况（简明扼要，写明所做工作，不写所取得的结果和成绩）：", ""),
    ("＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿", ""),
    ("＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿", ""),
    ("＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿＿", ""),
    ("以上情况属实。我单位对本证明内容的真实性负责。", ""),
    ("", ""),
    ("被派至单位（公章）：", ""),
    ("经办人：＿＿＿＿＿＿＿＿　　联系电话：＿＿＿＿＿＿＿＿", ""),
    ("日期：＿＿＿＿年＿＿月＿＿日", ""),
    ("", ""),
    ("填写说明：", ""),
    ("1. 本证明由申报人被派至的单位（实际用工单位）出具，不由劳务派遣单位出具。", ""),
    (
        "2. 如实填写后加盖被派至单位公章，扫描为PDF、JPG或PNG文件，在“个人信息—工作经历”中"
        "“是否劳务派遣”选“是”的条目上传为履职证明。",
        "",
    ),
    ("3. 多段派遣经历的，每段分别出具。", ""),
)

_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    "</Types>"
)
_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" '
    'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
    'Target="word/document.xml"/>'
    "</Relationships>"
)
_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _paragraph(text: str, style: str) -> str:
    properties = '<w:pPr><w:jc w:val="center"/></w:pPr>' if style == "title" else ""
    run_properties = '<w:rPr><w:b/><w:sz w:val="36"/></w:rPr>' if style == "title" else ""
    run = f'<w:r>{run_properties}<w:t xml:space="preserve">{escape(text)}</w:t></w:r>' if text else ""
    return f"<w:p>{properties}{run}</w:p>"


def docx(paragraphs: tuple[tuple[str, str], ...]) -> bytes:
    """A minimal Word document of the paragraphs; the same bytes for the same text (fixed zip times)."""
    body = "".join(_paragraph(text, style) for text, style in paragraphs)
    document = (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w="{_W}"><w:body>'
        f'{body}<w:sectPr><w:pgSz w:w="11906" w:h="16838"/></w:sectPr></w:body></w:document>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in (
            ("[Content_Types].xml", _CONTENT_TYPES),
            ("_rels/.rels", _RELS),
            ("word/document.xml", document),
        ):
            archive.writestr(
                zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)),
                content.encode("utf-8"),
                compress_type=zipfile.ZIP_DEFLATED,
            )
    return buffer.getvalue()


def dispatch_proof() -> bytes:
    return docx(DISPATCH_PROOF)
