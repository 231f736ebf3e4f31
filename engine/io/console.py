"""One line for the person at the terminal: on stderr, above any progress bar (tqdm's `write`),
so messages never tear a bar apart."""

from __future__ import annotations

import faulthandler
import sys

from tqdm import tqdm


def say(msg: str) -> None:
    tqdm.write(msg, file=sys.stderr)


class StuckDump:
    """The last word of a process that is stuck: unless `arm()` is called again within
    `seconds`, every thread's Python stack goes to stderr (then again every `seconds`). It runs
    on faulthandler's own C thread, which needs no GIL, so it speaks even when Python itself
    is deadlocked and no other message can be printed. A no-op where stderr is no real file
    (a windowed program, a captured test)."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        try:
            self._fd = sys.stderr.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None

    def arm(self) -> None:
        if self._fd is not None and self.seconds > 0:
            faulthandler.dump_traceback_later(self.seconds, repeat=True, file=self._fd)

    def __enter__(self) -> StuckDump:
        self.arm()
        return self

    def __exit__(self, *exc) -> None:
        if self._fd is not None:
            faulthandler.cancel_dump_traceback_later()
