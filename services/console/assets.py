"""The browser libraries the console serves itself (no CDN: the system works offline).

They come from npm, pinned in package.json and package-lock.json, and are copied at install time
(``make install`` runs ``npm ci`` then ``python -m services.console.assets``) from ``node_modules``
into ``services/console/static/vendor/`` (not tracked by git). Charts need no library: the
statistics page draws its bars as server-rendered SVG.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENDOR = Path(__file__).parent / "static" / "vendor"

# package -> (files or folders under the package, copied to vendor/<target>/...)
FILES: dict[str, tuple[str, list[str]]] = {
    "bpmn-js": (
        "bpmn-js",
        [
            "dist/bpmn-navigated-viewer.production.min.js",
            "dist/assets/diagram-js.css",
            "dist/assets/bpmn-js.css",
            "dist/assets/bpmn-font",
        ],
    ),
    "swagger-ui-dist": ("swagger-ui", ["swagger-ui-bundle.js", "swagger-ui.css"]),
}


def _target(package: str, name: str) -> Path:
    return VENDOR / FILES[package][0] / Path(name).name


def missing() -> list[str]:
    return [
        f"{package}/{name}"
        for package, (_, names) in FILES.items()
        for name in names
        if not _target(package, name).exists()
    ]


def available() -> dict[str, bool]:
    return {FILES[package][0]: all(_target(package, n).exists() for n in FILES[package][1]) for package in FILES}


def install(node_modules: Path = ROOT / "node_modules") -> list[str]:
    """Copy the pinned files into the console's static folder; returns what was copied."""
    copied, versions = [], {}
    for package, (target, names) in FILES.items():
        source = node_modules / package
        manifest = source / "package.json"
        if not manifest.exists():
            raise SystemExit(f"{package} is not in {node_modules}: run `npm ci` first (package-lock.json pins it)")
        versions[package] = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        (VENDOR / target).mkdir(parents=True, exist_ok=True)
        for name in names:
            src, dst = source / name, _target(package, name)
            if src.is_dir():
                shutil.rmtree(dst, ignore_errors=True)
                shutil.copytree(src, dst)
            else:
                shutil.copy2(src, dst)
            copied.append(f"{package}@{versions[package]}/{name}")
    (VENDOR / "versions.json").write_text(json.dumps(versions, indent=1) + "\n", encoding="utf-8")
    return copied


if __name__ == "__main__":
    for line in install(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "node_modules"):
        print(f"console asset: {line}")
