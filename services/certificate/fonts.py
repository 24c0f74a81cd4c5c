"""The fonts a certificate is set in: TrueType files embedded (subset) in every PDF.

``CERTIFICATE_FONTS`` lists font files in order of preference (comma separated;
a TrueType collection's face as ``file.ttc#1``). A character is drawn in the
first font that has it, so a later font can supply the rare characters of a
name (生僻字) the first lacks. The default is WenQuanYi Micro Hei from the
Debian package ``fonts-wqy-microhei`` (Apache-2.0), which ``make install``,
``.ci/run`` and the Docker image install.

Only fonts with TrueType outlines qualify (reportlab embeds no CFF/OpenType-PS
outlines). A character that no font has refuses the rendering instead of
printing an empty box (.notdef) on a document kept for a career.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from shared import config

DEFAULT_FONTS = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
DEBIAN_PACKAGE = "fonts-wqy-microhei"
_lock = threading.Lock()
_loaded: dict[str, tuple[Font, ...]] = {}


class MissingFont(RuntimeError):
    """A configured font file is not there (or not TrueType)."""


class MissingGlyph(ValueError):
    """Text holds a character none of the fonts can draw."""


@dataclass(frozen=True)
class Font:
    name: str  # as registered with reportlab
    path: Path
    index: int
    glyphs: frozenset[int]

    def has(self, char: str) -> bool:
        return ord(char) in self.glyphs


def _setting() -> str:
    configured = config.settings().certificate_fonts
    return DEFAULT_FONTS if configured is None else configured


def configured() -> list[tuple[Path, int]]:
    specs = [s.strip() for s in _setting().split(",") if s.strip()]
    found = []
    for spec in specs:
        path, _, index = spec.partition("#")
        found.append((Path(path), int(index or 0)))
    return found


def fonts() -> tuple[Font, ...]:
    """The configured fonts, loaded and registered with reportlab once per process."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFError, TTFont

    key = _setting()
    with _lock:
        if key in _loaded:
            return _loaded[key]
        loaded = []
        for number, (path, index) in enumerate(configured()):
            if not path.is_file():
                raise MissingFont(
                    f"the certificate font {path} is missing: install the Debian package "
                    f"{DEBIAN_PACKAGE} (make install does) or name TrueType fonts in CERTIFICATE_FONTS"
                )
            name = f"CertificateFont{len(_loaded)}-{number}"
            try:
                font = TTFont(name, str(path), subfontIndex=index)
            except TTFError as exc:
                raise MissingFont(f"the certificate font {path}#{index} cannot be embedded: {exc}") from exc
            pdfmetrics.registerFont(font)
            # Code points the font maps to a real glyph (0 is .notdef).
            glyphs = frozenset(c for c, g in font.face.charToGlyph.items() if g)
            loaded.append(Font(name, path, index, glyphs))
        if not loaded:
            raise MissingFont("CERTIFICATE_FONTS names no font")
        _loaded[key] = tuple(loaded)
        return _loaded[key]


def runs(text: str) -> list[tuple[str, str]]:
    """``text`` cut into (reportlab font name, text) runs, each character in the first font that has it."""
    available = fonts()
    out: list[tuple[str, str]] = []
    for char in text:
        font = next((f for f in available if f.has(char)), None)
        if font is None:
            raise MissingGlyph(
                f"no certificate font can draw {char!r} (U+{ord(char):04X}) in {text!r}: add a font "
                "that has it to CERTIFICATE_FONTS"
            )
        if out and out[-1][0] == font.name:
            out[-1] = (font.name, out[-1][1] + char)
        else:
            out.append((font.name, char))
    return out
