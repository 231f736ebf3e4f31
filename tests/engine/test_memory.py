"""engine.inference.memory: a long batch hands freed heap back to the OS (glibc), rarely and when
it pays.

The check runs in a fresh Python process: what earlier tests left in this process's heap (free
chunks the new blocks reuse, an arena another thread made) changes how much there is to give
back, and made the same assertions fail or pass by test order."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from engine.inference.memory import _TRIM

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or _TRIM is None, reason="glibc's malloc_trim only"
)

CHECK = textwrap.dedent(
    """
    import numpy as np
    from engine.inference.memory import HeapKeeper, resident_mb

    keeper = HeapKeeper(slack_mb=64)
    assert keeper.after_photo()  # the first photo sets the level
    level = keeper.level
    # a photo's worth of small blocks (below glibc's mmap threshold: they stay in the heap)
    blocks = [np.ones(8_000, np.float64) for _ in range(30_000)]  # 64 KB each, ~1.9 GB
    del blocks
    grown = resident_mb()
    assert grown > level + 64, (grown, level)  # freed, but still resident
    assert keeper.after_photo() and keeper.trims == 2
    after = resident_mb()
    assert after < grown - 150, (after, grown)  # handed back
    assert not keeper.after_photo()  # nothing grew: no trim (trimming costs page faults)
    """
)


def test_freed_heap_goes_back_once_memory_has_grown_by_the_slack():
    root = Path(__file__).parents[2]
    run = subprocess.run(
        [sys.executable, "-c", CHECK], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
