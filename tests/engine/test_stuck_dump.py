"""A process stuck for good still says where: `StuckDump` prints every thread's stack on stderr
from a thread that needs no GIL (the CPU edition's batch once sat silent in a clean Debian root,
every thread waiting, and `carmask predict` never printed its own no-progress line)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

STUCK = """
import threading, time
from engine.io.console import StuckDump
lock = threading.Lock()
lock.acquire()
def lane():
    lock.acquire()  # waits for ever: the photo it works on never finishes
threading.Thread(target=lane, name="lane", daemon=True).start()
with StuckDump({seconds}) as stuck:
    for _ in range({rounds}):
        time.sleep({step})
        if {progress}:
            stuck.arm()
"""


def run(**kw) -> str:
    r = subprocess.run(
        [sys.executable, "-c", STUCK.format(**kw)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return r.stderr


def test_a_batch_with_no_progress_prints_every_threads_stack():
    err = run(seconds=0.5, rounds=1, step=1.5, progress=False)
    assert "Timeout (0:00:00.500000)!" in err
    assert "in lane" in err  # the stuck lane's own frame, named
    assert err.count("most recent call first") >= 2  # the waiting thread and the main one


def test_a_batch_that_makes_progress_prints_nothing():
    assert run(seconds=0.6, rounds=8, step=0.2, progress=True) == ""
