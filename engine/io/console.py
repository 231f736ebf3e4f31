"""One line for the person at the terminal: on stderr, above any progress bar (tqdm's `write`),
so messages never tear a bar apart."""

from __future__ import annotations

import sys

from tqdm import tqdm


def say(msg: str) -> None:
    tqdm.write(msg, file=sys.stderr)
