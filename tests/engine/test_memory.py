"""engine.memory: a long batch hands freed heap back to the OS (glibc), rarely and when it pays."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from engine.memory import _TRIM, HeapKeeper, resident_mb

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or _TRIM is None, reason="glibc's malloc_trim only"
)


def test_freed_heap_goes_back_once_memory_has_grown_by_the_slack():
    keeper = HeapKeeper(slack_mb=64)
    assert keeper.after_photo()  # the first photo sets the level
    level = keeper.level
    # a photo's worth of small blocks (below glibc's mmap threshold: they stay in the heap)
    blocks = [np.ones(8_000, np.float64) for _ in range(30_000)]  # ~240 MB
    del blocks
    grown = resident_mb()
    assert grown > level + 64  # freed, but still resident
    assert keeper.after_photo() and keeper.trims == 2
    assert resident_mb() < grown - 150  # handed back
    assert not keeper.after_photo()  # nothing grew: no trim (trimming costs page faults)
