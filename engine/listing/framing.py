"""Framing a car's angles as one set: the car is as tall in pixels on every angle, its wheels
stand on one ground line, it is centred, and the widest angle fits the frame with the margin
asked for. So a 360 spin of the set does not "breathe" as it turns.

Each angle's car box comes from its mask (specks far smaller than the car are ignored). One
target height serves the whole set: the largest that lets every angle fit (its width at that
height, and the height itself, within the margins). Each angle gets its own scale, target height
over its box height (a turntable's angles differ a little in height; a single scale would let
the car grow and shrink by those few percent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

SPECK = 0.02  # mask parts under this share of the largest one are left out of the car's box


@dataclass(frozen=True)
class CarBox:
    """The car's box in its photo (pixels, x1/y1 exclusive) and the photo's size."""

    x0: int
    y0: int
    x1: int
    y1: int
    photo_size: tuple[int, int]  # (height, width)

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def car_box(mask: np.ndarray) -> CarBox | None:
    """The box of the car in a mask (bool or 0..255), None when the mask has no car. The parts
    are found at half the size (fast), the box's edges at full size around them."""
    m = mask if mask.dtype == bool else mask > 127
    half = np.ascontiguousarray(m[::2, ::2], dtype=np.uint8)
    n, _, stats, _ = cv2.connectedComponentsWithStats(half, connectivity=8)
    if n <= 1:  # nothing at half size: a sliver, or nothing at all
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        if not rows.size:
            return None
        return CarBox(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1, m.shape)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = stats[1:][areas >= SPECK * areas.max()]
    wy0 = max(0, 2 * int(keep[:, cv2.CC_STAT_TOP].min()) - 2)
    wx0 = max(0, 2 * int(keep[:, cv2.CC_STAT_LEFT].min()) - 2)
    wy1 = 2 * int((keep[:, cv2.CC_STAT_TOP] + keep[:, cv2.CC_STAT_HEIGHT]).max()) + 2
    wx1 = 2 * int((keep[:, cv2.CC_STAT_LEFT] + keep[:, cv2.CC_STAT_WIDTH]).max()) + 2
    window = m[wy0:wy1, wx0:wx1]
    rows, cols = np.flatnonzero(window.any(axis=1)), np.flatnonzero(window.any(axis=0))
    return CarBox(
        wx0 + int(cols[0]),
        wy0 + int(rows[0]),
        wx0 + int(cols[-1]) + 1,
        wy0 + int(rows[-1]) + 1,
        (m.shape[0], m.shape[1]),
    )


@dataclass(frozen=True)
class FramePlan:
    """Where one angle's car goes in the output frame."""

    scale: float  # output pixels per photo pixel
    cx: float  # the car box's centre, x, in the frame
    ground_y: float  # the row the car's lowest pixels stand on
    size: tuple[int, int]  # the frame (width, height)

    @property
    def upscaled(self) -> bool:
        """The photo is enlarged (a frame larger than the photo's car allows): said, not hidden."""
        return self.scale > 1.0 + 1e-6


def plan_frames(
    boxes: Sequence[CarBox], size: tuple[int, int], margin: float = 0.06
) -> list[FramePlan]:
    """One plan per angle (same order) for a frame of `size` (width, height) with `margin` (a
    share of the frame's width left and right, and of its height above and below the car)."""
    if not boxes:
        return []
    if not 0 <= margin < 0.45:
        raise ValueError(f"margin must be from 0 to 0.45 of the frame, got {margin}")
    w, h = size
    room_w, room_h = w * (1 - 2 * margin), h * (1 - 2 * margin)
    target = min(room_h, *(room_w * b.height / b.width for b in boxes))
    ground = h - h * margin
    return [FramePlan(target / b.height, w / 2, ground, (w, h)) for b in boxes]
