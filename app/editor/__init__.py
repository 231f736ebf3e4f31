"""The preview and mask touch-up editor of the studio.

- `paint`: the painting maths (changed box, round-capped strokes), numpy only, no Qt;
- `document`: `MaskDocument`, a photo's masks with their Qt undo history;
- `tools`: `Tool`, the editor's tools (no Qt);
- `view`: `PreviewPane`, original | cutout side by side, painting into the document.

The Qt classes are imported on first use, so that `app.editor.paint` loads without Qt.
"""

from __future__ import annotations

import importlib

__all__ = ["TOOLS", "MaskDocument", "MaskEdit", "PreviewPane", "Tool"]
_WHERE = {
    "MaskDocument": "document",
    "MaskEdit": "document",
    "TOOLS": "tools",
    "Tool": "tools",
    "PreviewPane": "view",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(importlib.import_module(f"app.editor.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'app.editor' has no attribute {name!r}")
