"""The mask being touched up (Qt side): the photo, the model's mask, the edited mask and its undo
history. The painting itself is numpy-only, in `app.editor.paint`.

Every edit is one `MaskEdit` on `MaskDocument.undo_stack` that keeps the before/after of the
changed box only, so a long session of brush strokes on a 1918×1280 photo stays small.
Each photo keeps its own history while the app runs: back on a photo, Ctrl+Z undoes its strokes
(`undo_group` follows the photo shown). A history is dropped when the photo comes back with
another mask than the one it ended on (re-run, touch-up discarded), since it no longer applies.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoGroup, QUndoStack

from app.editor.paint import MIN_RADIUS, Stroke, changed_box

KEPT_HISTORIES = 32  # photos whose undo history is kept (the most recently shown)


class MaskEdit(QUndoCommand):
    """One undoable change of the mask: the before and after of its changed box only."""

    def __init__(self, doc: MaskDocument, x: int, y: int, before, after, text: str):
        super().__init__(text)
        self.doc, self.x, self.y = doc, x, y
        self.before, self.after = before, after

    def redo(self) -> None:
        self.doc._put(self.x, self.y, self.after)

    def undo(self) -> None:
        self.doc._put(self.x, self.y, self.before)


class MaskDocument(QObject):
    """A photo with its model mask and the editable mask (H×W bool), with undo/redo.

    Points are photo coordinates: pixel (col, row) covers [col, col+1) × [row, row+1), which is
    also the scene coordinate system of the preview."""

    changed = Signal(int, int, int, int)  # x, y, w, h of the changed region
    loaded = Signal()  # a new photo (or none) replaced everything

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_group = QUndoGroup(self)  # undo/redo actions follow the photo shown
        self.undo_stack = self._new_stack()
        self.rgb: np.ndarray | None = None
        self.model_mask: np.ndarray | None = None
        self.mask: np.ndarray | None = None
        self._stroke: Stroke | None = None
        self.key: str | None = None  # the photo shown, when it has a history to keep
        # key → (its stack, fingerprint of the masks it ended on), most recently left last
        self._histories: OrderedDict[str, tuple[QUndoStack, bytes]] = OrderedDict()

    def _new_stack(self) -> QUndoStack:
        stack = QUndoStack(self)
        self.undo_group.addStack(stack)
        self.undo_group.setActiveStack(stack)
        return stack

    def _discard(self, stack: QUndoStack) -> None:
        self.undo_group.removeStack(stack)
        stack.deleteLater()

    @staticmethod
    def _fingerprint(model_mask: np.ndarray | None, mask: np.ndarray | None) -> bytes:
        h = hashlib.blake2b(digest_size=16)
        for m in (model_mask, mask):
            if m is None:
                h.update(b"none")
                continue
            h.update(str(m.shape).encode())
            h.update(np.packbits(m).tobytes())
        return h.digest()

    def _leave(self) -> None:
        """Put the shown photo's history aside (or drop it) before another photo comes."""
        self._stroke = None
        if self.key is not None and self.undo_stack.count():
            fp = self._fingerprint(self.model_mask, self.mask)
            self._histories[self.key] = (self.undo_stack, fp)
            self._histories.move_to_end(self.key)
            while len(self._histories) > KEPT_HISTORIES:
                self._discard(self._histories.popitem(last=False)[1][0])
            self.undo_stack = self._new_stack()
        else:
            self.undo_stack.clear()
        self.key = None

    # ---- loading -------------------------------------------------------------------------------
    @property
    def is_empty(self) -> bool:
        return self.rgb is None

    def load(
        self,
        rgb: np.ndarray,
        model_mask: np.ndarray,
        mask: np.ndarray | None = None,
        key: str | None = None,
    ):
        """Show a new photo; `mask` (default: the model mask) becomes the editable one.

        With a `key`, the photo's undo history from an earlier visit comes back if the masks are
        the ones it ended on; otherwise the photo starts with no undo."""
        rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
        if rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"photo must be H×W×3, got {rgb.shape}")
        mask = model_mask if mask is None else mask
        for m in (model_mask, mask):
            if m.shape != rgb.shape[:2]:
                raise ValueError(f"mask {m.shape} does not match photo {rgb.shape[:2]}")
        self._leave()
        self.rgb = rgb
        self.model_mask = np.array(model_mask, dtype=bool)
        self.mask = np.array(mask, dtype=bool)
        if key is not None:
            kept = self._histories.pop(key, None)
            if kept is not None:
                stack, fp = kept
                if fp == self._fingerprint(self.model_mask, self.mask):
                    self._discard(self.undo_stack)
                    self.undo_stack = stack
                    self.undo_group.setActiveStack(stack)
                else:  # the masks changed meanwhile: that history no longer applies
                    self._discard(stack)
            self.key = key
        self.loaded.emit()

    def clear(self) -> None:
        """No photo."""
        self._leave()
        self.rgb = self.model_mask = self.mask = None
        self.loaded.emit()

    def forget(self, key: str) -> None:
        """Drop a photo's kept history (it left the queue)."""
        kept = self._histories.pop(key, None)
        if kept is not None:
            self._discard(kept[0])

    @property
    def touched(self) -> bool:
        """The mask differs from the model's."""
        if self.mask is None:
            return False
        return self.model_mask is None or not np.array_equal(self.mask, self.model_mask)

    # ---- edits ---------------------------------------------------------------------------------
    def paint_stroke(self, points: list[tuple[float, float]], radius: float, add: bool) -> None:
        """Round dabs of `radius` along the polyline: add to the car (brush) or remove (eraser).
        One undo step."""
        self.begin_stroke(radius, add)
        for x, y in points:
            self.stroke_to(x, y)
        self.end_stroke()

    def begin_stroke(self, radius: float, add: bool) -> None:
        """Start a live stroke (mouse press); `stroke_to` paints as the mouse moves."""
        if self.mask is None:
            return
        self._stroke = Stroke(max(float(radius), MIN_RADIUS), bool(add), self.mask.copy())

    def stroke_to(self, x: float, y: float) -> None:
        s = self._stroke
        if s is None or self.mask is None:
            return
        box = s.to(self.mask, x, y)
        if box is not None:
            x0, y0, x1, y1 = box
            self.changed.emit(x0, y0, x1 - x0, y1 - y0)

    def end_stroke(self) -> None:
        """Finish the stroke (mouse release): push it as one undo step if it changed anything."""
        s, self._stroke = self._stroke, None
        if s is None or s.box is None or self.mask is None:
            return
        x0, y0, x1, y1 = s.box
        before, after = s.before[y0:y1, x0:x1], self.mask[y0:y1, x0:x1]
        self._push(x0, y0, before, after, "Brush stroke" if s.add else "Eraser stroke")

    def reset_to_model(self) -> None:
        """Undoably go back to the model's mask."""
        if self.mask is not None and self.model_mask is not None:
            self._push(0, 0, self.mask, self.model_mask, "Reset to model mask")

    def _push(self, x: int, y: int, before: np.ndarray, after: np.ndarray, text: str) -> None:
        box = changed_box(before != after)
        if box is None:
            return
        bx, by, w, h = box
        crop = (slice(by, by + h), slice(bx, bx + w))
        cmd = MaskEdit(self, x + bx, y + by, before[crop].copy(), after[crop].copy(), text)
        self.undo_stack.push(cmd)  # push runs redo(): writes `after`, already in place for strokes

    def _put(self, x: int, y: int, region: np.ndarray) -> None:
        if self.mask is None:
            return
        h, w = region.shape
        self.mask[y : y + h, x : x + w] = region
        if self._stroke is not None:  # undo/redo during a drag: the stroke starts from it
            self._stroke.before[y : y + h, x : x + w] = region
        self.changed.emit(x, y, w, h)
