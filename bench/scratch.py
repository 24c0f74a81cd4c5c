"""A benchmark process's scratch data folder: the environment set for it before anything reads it."""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path


def data_dir(prefix: str) -> Path:
    """A fresh folder as ``TITLES_DATA_DIR`` (and its embedded broker, unless one is set), the settings
    read from the environment just set, and warnings off (the figures are what the run prints)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["TITLES_DATA_DIR"] = str(work)
    os.environ.setdefault("BROKER_URL", f"embedded://{work / 'broker'}")
    from shared import config  # this process reads the environment it just set

    config.from_environment()
    logging.disable(logging.WARNING)
    return work
