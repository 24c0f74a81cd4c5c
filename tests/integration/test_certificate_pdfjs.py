"""The certificate renders the same in pdf.js (the browser's viewer) as in poppler (issue 13).

A real issued certificate is drawn by pdf.js (``pdfjs-dist`` from package-lock.json, legacy build)
inside Debian's Chromium, headless, driven by Playwright, from a page served by a small local HTTP
server (offline), and by ``pdftoppm`` at the same resolution. Anti-aliasing and glyph rasterising
differ between the two, so the pages are compared as blurred grayscale images: a glyph drawn as
an empty box, a missing or shifted line or a different name shows as a place where they differ.
Both renders are saved to the test's tmp folder and, when TITLES_SCREENSHOTS names a folder, there
too.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_certificate_longterm import FIELDS, _signed

ROOT = Path(__file__).resolve().parents[2]
PDFJS = ROOT / "node_modules" / "pdfjs-dist"
PAGE = Path(__file__).parent / "data" / "pdfjs_render.html"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason="Debian's Chromium is not installed (.ci/run installs it: apt-get install "
    "chromium); Playwright cannot download a browser here",
)

DPI = 96
# Both renders are blurred (a Gaussian of this radius in pixels at DPI: about a stroke's width and the
# gap between strokes) and then compared pixel by pixel. Measured: the two renderers differ by at most
# about 26 gray levels (of 255) anywhere on the blurred page; a character drawn as an empty box instead
# of its glyph, by 100 and more.
BLUR = 3
TOLERANCE = 60
# The mean difference per pixel, before blurring (measured about 2.6: the edges of glyphs).
PIXEL_TOLERANCE = 6


class _Files(http.server.SimpleHTTPRequestHandler):
    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map, ".mjs": "text/javascript"}

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """http://127.0.0.1:<port>/ serving the render page, pdfjs-dist under /pdfjs/ and the PDFs put in the folder."""
    assert (PDFJS / "package.json").exists(), "pdfjs-dist is not in node_modules: run `make install` (npm ci)"
    root = tmp_path / "site"
    root.mkdir()
    shutil.copy(PAGE, root / "index.html")
    (root / "pdfjs").symlink_to(PDFJS, target_is_directory=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Files, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def _pdfjs(site: tuple[str, Path], pdf: Path) -> dict[str, Any]:
    # Playwright's synchronous API runs an event loop in this thread while it is open: it is opened only
    # here, after the certificate was signed (pyHanko signs with asyncio.run).
    from playwright.sync_api import sync_playwright

    address, root = site
    shutil.copy(pdf, root / pdf.name)
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            page = browser.new_page()
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on(
                "response",
                lambda response: (
                    problems.append(f"{response.status} {response.url}") if response.status >= 400 else None
                ),
            )
            page.on(
                "console",
                lambda message: (
                    problems.append(message.text)
                    if message.type in ("error", "warning") or message.text.startswith("Warning")
                    else None
                ),
            )
            page.goto(f"{address}/index.html")
            page.wait_for_function("window.pdfjsReady === true", timeout=30_000)
            result = page.evaluate("([url, scale]) => window.renderPdf(url, scale)", [f"/{pdf.name}", DPI / 72])
        finally:
            browser.close()
    result["problems"] = problems
    result["png"] = base64.b64decode(result["png"].removeprefix("data:image/png;base64,"))
    return result


def _pdftoppm(pdf: Path, out: Path) -> bytes:
    rendered = subprocess.run(
        ["pdftoppm", "-r", str(DPI), "-png", "-singlefile", str(pdf), str(out)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert rendered.stderr == ""
    return out.with_suffix(".png").read_bytes()


def _save(tmp_path: Path, name: str, png: bytes) -> None:
    folders = [tmp_path]
    if os.environ.get("TITLES_SCREENSHOTS"):
        folders.append(Path(os.environ["TITLES_SCREENSHOTS"]))
    for folder in folders:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(png)


def _gray(png: bytes):
    from PIL import Image

    with Image.open(io.BytesIO(png)) as image:
        return image.convert("L")


def _compare(first, second) -> dict[str, float]:
    """How far apart two renders of a page are: the mean per pixel, and the largest once blurred."""
    from PIL import ImageChops, ImageFilter

    assert first.size == second.size
    pixels = ImageChops.difference(first, second).tobytes()
    blur = ImageFilter.GaussianBlur(BLUR)
    blurred = ImageChops.difference(first.filter(blur), second.filter(blur))
    return {
        "pixel_mean": round(sum(pixels) / len(pixels), 2),
        "blurred_largest": max(blurred.tobytes()),
        "blurred_beyond": sum(d > TOLERANCE for d in blurred.tobytes()),
    }


def _alike(difference: dict[str, float]) -> bool:
    return difference["blurred_beyond"] == 0 and difference["pixel_mean"] < PIXEL_TOLERANCE


def _as_boxes(image, run: dict[str, Any]):
    """The page with one run of text drawn as a viewer without its font draws it: an empty box a character."""
    from PIL import ImageDraw

    boxed = image.copy()
    draw = ImageDraw.Draw(boxed)
    left, top, width, height = run["box"]
    step = width / len(run["str"])
    for i in range(len(run["str"])):
        x = left + i * step
        draw.rectangle((x + 1, top, x + step - 2, top + height - 1), fill=255, outline=0)
    return boxed


def test_pdfjs_in_chromium_draws_the_certificate_as_poppler_does(dbs, clients, auth, tmp_path, site):
    certificate, pdf = _signed(dbs, clients, auth, tmp_path)
    shown = _pdfjs(site, pdf)
    poppler = _pdftoppm(pdf, tmp_path / "poppler")
    _save(tmp_path, f"certificate-{certificate.number}-pdfjs.png", shown["png"])
    _save(tmp_path, f"certificate-{certificate.number}-poppler.png", poppler)

    assert shown["problems"] == [] and shown["pages"] == 1
    # Every font the text uses comes from the file (a missing one would be replaced by a browser font).
    assert shown["fonts"] and not [f for f in shown["fonts"].values() if f["missingFile"]], shown["fonts"]
    # The text pdf.js reads through the embedded fonts' mapping: the fields, in Chinese, not boxes.
    text = "".join(run["str"] for run in shown["text"]).replace(" ", "").replace("\u3000", "")
    for label, value in {**FIELDS, "证书编号": certificate.number}.items():
        assert f"{label}：{value}" in text, (label, value, text)

    # The same page: same size in pixels, and alike once anti-aliasing is blurred away.
    drawn, reference = _gray(shown["png"]), _gray(poppler)
    assert drawn.size == reference.size == (shown["width"], shown["height"])
    difference = _compare(drawn, reference)
    print(f"pdf.js against poppler at {DPI} dpi: {difference}")
    assert _alike(difference), difference

    # The comparison would see the holder's name drawn as empty boxes.
    [name] = [run for run in shown["text"] if run["str"].strip() == FIELDS["姓名"]]
    boxed = _compare(_as_boxes(drawn, name), reference)
    print(f"the name as boxes against poppler: {boxed}")
    assert not _alike(boxed), boxed
