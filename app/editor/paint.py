"""Painting maths of the touch-up editor: numpy only, no Qt (an import-linter contract keeps it
so), tested without a QApplication.

Points are photo coordinates: pixel (col, row) covers [col, col+1) × [row, row+1).
"""

from __future__ import annotations

import math

import numpy as np

MIN_RADIUS = math.sqrt(0.5)  # the smallest dab still covers the pixel under the pointer

Box = tuple[int, int, int, int]  # x, y, w, h in photo pixels

__all__ = ["MIN_RADIUS", "Box", "Stroke", "changed_box", "paint_segment"]


def changed_box(diff: np.ndarray) -> Box | None:
    """The bounding box (x, y, w, h) of the True pixels of `diff`, None when there are none."""
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)


def paint_segment(mask: np.ndarray, p0, p1, radius: float, add: bool) -> list[int] | None:
    """Set (``add``) or clear the pixels of ``mask`` whose centre lies within `radius` of the
    segment p0-p1 (a round-capped line, exact at any size); returns the box [x0, y0, x1, y1) it
    covers, or None when the segment is off the mask."""
    height, width = mask.shape
    x0 = max(math.floor(min(p0[0], p1[0]) - radius), 0)
    y0 = max(math.floor(min(p0[1], p1[1]) - radius), 0)
    x1 = min(math.ceil(max(p0[0], p1[0]) + radius), width)
    y1 = min(math.ceil(max(p0[1], p1[1]) + radius), height)
    if x0 >= x1 or y0 >= y1:
        return None
    px = np.arange(x0, x1, dtype=np.float32)[None, :] + (0.5 - p0[0])  # centre - p0
    py = np.arange(y0, y1, dtype=np.float32)[:, None] + (0.5 - p0[1])
    dx, dy = p1[0] - p0[0], p1[1] - p0[1]
    length2 = dx * dx + dy * dy
    t = np.clip((px * dx + py * dy) / length2, 0, 1) if length2 else 0.0
    inside = (px - t * dx) ** 2 + (py - t * dy) ** 2 <= radius * radius
    mask[y0:y1, x0:x1][inside] = add
    return [x0, y0, x1, y1]


class Stroke:
    """A brush (``add``) or eraser stroke in progress: the mask before it, and the box painted."""

    def __init__(self, radius: float, add: bool, before: np.ndarray):
        self.radius, self.add, self.before = radius, add, before
        self.last: tuple[float, float] | None = None
        self.box: list[int] | None = None  # x0, y0, x1, y1 painted so far

    def to(self, mask: np.ndarray, x: float, y: float) -> list[int] | None:
        """Paint from the last point to (x, y); the box of this segment, or None."""
        start, self.last = self.last or (x, y), (x, y)
        box = paint_segment(mask, start, (x, y), self.radius, self.add)
        if box is None:
            return None
        if self.box is None:
            self.box = list(box)
        else:
            b = self.box
            self.box = [min(b[0], box[0]), min(b[1], box[1]), max(b[2], box[2]), max(b[3], box[3])]
        return box
