"""What a small file holds, read again only when the file changed: one ``stat`` a call otherwise.

A file is known by its inode, mtime and size. Every write that replaces a file may be handed the inode
number just freed, and mtime moves in coarse ticks: two writes within one tick can look alike. So a
file written within the last ``SETTLED_NS`` is read every time and never kept; a kept file is one that
was already that old when read, and any later write has a later mtime.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")

# Ten times the coarsest mtime tick Linux has (one jiffy at HZ=100: 10 ms). Longer costs real time:
# `make bench` moves the test clock a few times a second, and with a 2 s window every now() of every
# process read its file again (7% of the consumers' CPU).
SETTLED_NS = 100_000_000

Kept = dict[str, tuple[tuple[int, int, int], Any]]


def read(path: str, load: Callable[[str], T], kept: Kept) -> T:
    """``load(path)``, or what it gave last time if the file has not changed since (``kept`` holds that,
    by path). ``FileNotFoundError`` when there is no file."""
    stat = os.stat(path)
    key = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    entry = kept.get(path)
    if entry is not None and entry[0] == key:
        value: T = entry[1]
        return value
    value = load(path)
    if time.time_ns() - stat.st_mtime_ns > SETTLED_NS:
        kept[path] = (key, value)
    return value
