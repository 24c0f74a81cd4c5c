"""What makes a rendered page PDF/A-2b: XMP metadata claiming it, and an sRGB output intent.

The page is copied into a new file by pyHanko's writer, which keeps the XMP
metadata in step when the signature, the validation data and the document
timestamp are added later (incremental updates, which PDF/A allows). The file
has no document information dictionary: PDF/A wants it equal to the XMP, and
every signing step would change one without the other; the XMP is the metadata.

The ICC profile is sRGB from the Debian package ``icc-profiles-free`` (zlib
licence), or the file ``CERTIFICATE_ICC_PROFILE`` names.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from shared import config

DEFAULT_ICC_PROFILE = "/usr/share/color/icc/sRGB.icc"
DEBIAN_PACKAGE = "icc-profiles-free"
OUTPUT_CONDITION = "sRGB IEC61966-2.1"
PART, CONFORMANCE = "2", "B"


class MissingProfile(RuntimeError):
    pass


@dataclass(frozen=True)
class Description:
    title: str
    author: str
    subject: str
    language: str = "zh-CN"


def icc_profile_path() -> Path:
    configured = config.settings().certificate_icc_profile
    return Path(DEFAULT_ICC_PROFILE if configured is None else configured)


@cache
def _icc_profile(path: Path) -> bytes:
    if not path.is_file():
        raise MissingProfile(
            f"the sRGB ICC profile {path} is missing: install the Debian package {DEBIAN_PACKAGE} "
            "(make install does) or set CERTIFICATE_ICC_PROFILE"
        )
    data = path.read_bytes()
    if data[36:40] != b"acsp" or data[16:20] != b"RGB ":
        raise MissingProfile(f"{path} is not an RGB ICC profile")
    return data


def icc_profile() -> bytes:
    return _icc_profile(icc_profile_path())


def conform(pdf: bytes, description: Description, created: dt.datetime | None = None) -> bytes:
    """``pdf`` (one writer's output, fonts embedded) as PDF/A-2b.

    No keywords: pyHanko writes them as ``pdf:keywords``, a property PDF/A does not know.
    """
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.metadata import model
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.pdf_utils.writer import copy_into_new_writer

    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf)), writer_kwargs={"info": None})
    created = created or dt.datetime.now(dt.UTC)
    writer.document_meta.title = description.title
    writer.document_meta.author = description.author
    writer.document_meta.subject = description.subject
    writer.document_meta.creator = "titles certificate service"
    writer.document_meta.created = created
    writer.document_meta.last_modified = created
    pdfaid = model.NS["pdfaid"]
    writer.document_meta.xmp_extra = [
        model.XmpStructure.of(
            (model.ExpandedName(pdfaid, "part"), model.XmpValue(PART)),
            (model.ExpandedName(pdfaid, "conformance"), model.XmpValue(CONFORMANCE)),
        )
    ]

    profile = generic.StreamObject({generic.pdf_name("/N"): generic.NumberObject(3)}, stream_data=icc_profile())
    profile.compress()
    intent = generic.DictionaryObject(
        {
            generic.pdf_name("/Type"): generic.pdf_name("/OutputIntent"),
            generic.pdf_name("/S"): generic.pdf_name("/GTS_PDFA1"),
            generic.pdf_name("/OutputConditionIdentifier"): generic.TextStringObject(OUTPUT_CONDITION),
            generic.pdf_name("/Info"): generic.TextStringObject(OUTPUT_CONDITION),
            generic.pdf_name("/DestOutputProfile"): writer.add_object(profile),
        }
    )
    writer.root[generic.pdf_name("/OutputIntents")] = generic.ArrayObject([writer.add_object(intent)])
    writer.root[generic.pdf_name("/Lang")] = generic.TextStringObject(description.language)
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()
