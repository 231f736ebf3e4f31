"""Keeping a long batch's memory flat.

Each photo allocates and frees a few hundred MB (decoded photo, model input, full-size logits,
encoded PNGs). glibc's allocator keeps much of what is freed in its heaps rather than handing it
back, so the resident size of a long run creeps up although nothing leaks
(`benchmarks/soak.py` measures it). `release_freed_memory()` after each photo hands it back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

__all__ = ["release_freed_memory"]


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
    """Return freed heap memory to the OS (glibc's `malloc_trim(0)`; a few ms). Elsewhere a
    no-op: macOS and Windows allocators give memory back themselves. True if it ran."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
