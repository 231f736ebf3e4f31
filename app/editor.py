"""The preview and mask touch-up editor of the studio: one import point for the window.

`MaskDocument` (app.touchup) holds a photo's masks and undo history; `PreviewPane` (app.preview)
shows original | cutout side by side and paints into the document with the brush.
"""

from app.preview import TOOLS, PreviewPane
from app.touchup import MaskDocument, MaskEdit

__all__ = ["TOOLS", "MaskDocument", "MaskEdit", "PreviewPane"]
