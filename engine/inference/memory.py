"""Keeping a long batch's memory flat.

Each photo allocates and frees a few hundred MB (decoded photo, model input, full-size logits,
encoded PNGs). glibc's allocator keeps much of what is freed in its heaps rather than handing it
back, so the resident size of a batch climbs by some 300 MB over its first 50 photos although
nothing leaks (`benchmarks/soak.py`: live Python objects stay flat). `HeapKeeper` hands freed
heap back (`malloc_trim`) whenever the resident size has grown by `slack_mb` since the last
time, so memory stays within that of where it started, and the cost of trimming (the pages
must be faulted in again) is paid rarely, not per photo.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["HeapKeeper", "release_freed_memory", "resident_mb"]


def _malloc_trim():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        return None


_TRIM = _malloc_trim()


def release_freed_memory() -> bool:
    """Return freed heap memory to the OS (glibc's `malloc_trim(0)`). Elsewhere a no-op: macOS
    and Windows allocators give memory back themselves. True if it ran."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True


def resident_mb() -> float | None:
    """This process's resident set size in MB (Linux), else None."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError, AttributeError):
        return None


class HeapKeeper:
    """Call `after_photo()` after each photo of a batch: trims when memory grew by `slack_mb`."""

    def __init__(self, slack_mb: float = 192.0):
        self.slack_mb = slack_mb
        self.level: float | None = None  # resident size after the last trim
        self.trims = 0

    def after_photo(self) -> bool:
        if _TRIM is None:
            return False
        rss = resident_mb()
        if rss is None:
            return False
        if self.level is not None and rss <= self.level + self.slack_mb:
            return False
        release_freed_memory()
        self.level = resident_mb()
        self.trims += 1
        return True
