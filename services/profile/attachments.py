"""Attachments: content sniffing, size limits and a content-addressed store.

The bytes are kept under their SHA-256; the database row says who owns them.
The store is an interface so that an object store (S3, MinIO, OSS) can take
the place of the folder on disk; the folder is the embedded default.
A client's file name is kept for display only and never becomes a path.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import Protocol

from shared import config

ALLOWED = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}
IMAGES = ("image/jpeg", "image/png")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def max_bytes() -> int:
    return config.settings().profile_attachment_max_bytes


def max_photo_bytes() -> int:
    return config.settings().profile_photo_max_bytes


def sniff(content: bytes) -> str | None:
    """The content type read from the file's own signature; None if not PDF, JPEG or PNG."""
    if content.startswith(b"%PDF-"):
        return "application/pdf"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    return None


def display_name(name: str | None, content_type: str) -> str:
    """A harmless display name: no directories, no control characters, the sniffed extension."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C")
    stem = base.rsplit(".", 1)[0].strip(" .")[:150] or "attachment"
    return f"{stem}.{ALLOWED[content_type]}"


class AttachmentStore(Protocol):
    def put(self, content: bytes) -> str:
        """Store the bytes; returns their SHA-256 (hex). Storing the same bytes twice is one object."""

    def get(self, sha256: str) -> bytes:
        """The bytes stored under a hash; FileNotFoundError if absent."""


class FileStore:
    """Content-addressed files under a folder: <root>/<ab>/<cd>/<sha256>."""

    def __init__(self, root: Path | None = None):
        self.root = Path(root) if root is not None else config.data_dir() / "attachments"

    def _path(self, sha256: str) -> Path:
        if not _HEX64.match(sha256):  # the path is built from a hash we computed, never from input
            raise ValueError("not a SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, content: bytes) -> str:
        sha256 = hashlib.sha256(content).hexdigest()
        path = self._path(sha256)
        if path.exists():
            return sha256
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(content)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)  # atomic: a reader never sees half a file
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return sha256

    def get(self, sha256: str) -> bytes:
        return self._path(sha256).read_bytes()


_store: AttachmentStore | None = None


def store() -> AttachmentStore:
    """The configured store (the data folder by default); tests and deployments may replace it."""
    global _store
    if _store is None or (isinstance(_store, FileStore) and _store.root != config.data_dir() / "attachments"):
        _store = FileStore()
    return _store
