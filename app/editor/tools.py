"""The editor's tools (no Qt here: the actions table and the settings name them too)."""

from __future__ import annotations

from app.choices import StrChoice


class Tool(StrChoice):
    BRUSH = "brush"  # paints car
    ERASER = "eraser"  # paints background
    PAN = "pan"  # drags the view (also: hold Space, or the middle button)


TOOLS = tuple(Tool)
