"""Progress events shared by the CLI, the training child process and the GUI.

Each event is a flat JSON object on one line with an `event` field:
`start`, `step`, `epoch`, `checkpoint`, `done`, `cancelled`, `error`, `log`.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO, Any

Event = dict[str, Any]
EventSink = Callable[[Event], None]
EVENT_TYPES = ("start", "step", "epoch", "checkpoint", "done", "cancelled", "error", "log")


def make_event(kind: str, **fields: Any) -> Event:
    if kind not in EVENT_TYPES:
        raise ValueError(f"unknown event type {kind!r}")
    return {"event": kind, "time": round(time.time(), 3), **fields}


class JsonLinesSink:
    """Writes one JSON object per line and flushes, so a reader sees each event at once."""

    def __init__(self, stream: IO[str] | None = None):
        self.stream = stream or sys.stdout

    def __call__(self, event: Event) -> None:
        self.stream.write(json.dumps(event, separators=(",", ":")) + "\n")
        self.stream.flush()


def read_events(lines: IO[str]) -> Iterator[Event]:
    """Parse a JSON-lines stream; lines that are not events (stray prints) are skipped."""
    for line in lines:
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(event, dict) and event.get("event") in EVENT_TYPES:
            yield event
