"""The main car of a mask: the car the photo is of, with what is joined to it, and nothing else.

A model's mask can hold more than the car: a neighbouring car on a lot, a reflection on a glossy
floor, a poster, specks. A dealer's cutout needs the one car. `select_main_car`, from the
mask's outlines (OpenCV contours: one pass over the mask, then work on outlines only):

1. picks the main car among the mask's pieces by its area weighed by how central it is (a
   piece centred in a corner of the frame counts `CORNER_WEIGHT` of its area) and how near it
   stands (a piece whose lowest point is at the top of the frame counts `FAR_WEIGHT`, one that
   reaches the bottom all of it: the car on the floor nearest the camera, not a car further
   back or a bright window high on the wall): of two cars side by side, the larger, more
   central one; a car cut by the frame is still the largest piece;
2. keeps the pieces attached to it: a wing mirror, an antenna or a spoiler that the threshold
   split from the body by a gap of a few pixels (within `GAP` of the car's size, the square
   root of its area, and at most `PART_SHARE` of its area: another car parked close is no part);
3. drops every other piece (blobs that lie apart);
4. fills the holes the kept car encloses up to `HOLE_SHARE` of its area (glass is car, as
   Carvana labels it); a larger hole is the backdrop seen through the car (under a spoiler,
   between the arms of an open roof) and stays.

On the 47 web photos of the validation split and 32 Carvana photos (benchmarks/cutout_quality.py)
it scores above the plain largest-piece filter on both; the three shares were picked there.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GAP = 0.02
PART_SHARE = 0.005
HOLE_SHARE = 0.005
CORNER_WEIGHT = 0.5
FAR_WEIGHT = 0.5


@dataclass(frozen=True)
class Selection:
    """The main car's mask and what was changed to get it."""

    mask: np.ndarray  # H×W bool
    pieces: int = 0  # connected pieces in the mask given
    dropped: int = 0  # pieces dropped (lying apart from the main car)
    dropped_px: int = 0
    filled_px: int = 0  # pixels of enclosed holes filled

    def to_json(self) -> dict:
        return {
            "pieces": self.pieces,
            "dropped": self.dropped,
            "dropped_px": self.dropped_px,
            "filled_px": self.filled_px,
        }


def _centrality(contour: np.ndarray, shape: tuple[int, int]) -> float:
    """1 for an outline centred in the frame, `CORNER_WEIGHT` in a corner, linear between."""
    h, w = shape
    m = cv2.moments(contour)
    if m["m00"] > 0:
        cx, cy = m["m10"] / m["m00"], m["m01"] / m["m00"]
    else:  # a line or a point
        cx, cy = contour[:, 0].mean(axis=0)
    d = np.hypot((cx - w / 2) / (w / 2), (cy - h / 2) / (h / 2)) / np.sqrt(2)
    return 1 - (1 - CORNER_WEIGHT) * min(1.0, d)


def _nearness(contour: np.ndarray, height: int) -> float:
    """1 for an outline reaching the frame's bottom, `FAR_WEIGHT` for one ending at its top."""
    _x, y, _w, h = cv2.boundingRect(contour)
    return FAR_WEIGHT + (1 - FAR_WEIGHT) * min(1.0, (y + h) / height)


def _near(piece: np.ndarray, car: np.ndarray, car_box, gap: float) -> bool:
    """Whether a piece's outline comes within `gap` of the car's outline (or lies inside it)."""
    x, y, w, h = cv2.boundingRect(piece)
    cx, cy, cw, ch = car_box
    if x > cx + cw + gap or x + w < cx - gap or y > cy + ch + gap or y + h < cy - gap:
        return False
    for px, py in piece[:, 0]:
        if cv2.pointPolygonTest(car, (float(px), float(py)), True) >= -gap:
            return True
    return False


def _draw(shape: tuple[int, int], contours: list[np.ndarray]) -> np.ndarray:
    out = np.zeros(shape, np.uint8)
    if contours:
        cv2.drawContours(out, contours, -1, 1, thickness=cv2.FILLED)
    return out.view(bool)


def select_main_car(mask: np.ndarray) -> Selection:
    """The main car of an H×W boolean mask, its attached parts, its holes filled."""
    mask = np.ascontiguousarray(mask, dtype=bool)
    contours, hierarchy = cv2.findContours(
        mask.view(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE
    )
    if hierarchy is None:
        return Selection(mask.copy())
    parent: list[int] = hierarchy[0][:, 3].tolist()
    outer = [i for i, up in enumerate(parent) if up < 0]
    holes_of: dict[int, list[int]] = {i: [] for i in outer}
    for j, up in enumerate(parent):
        if up >= 0:
            holes_of[up].append(j)
    # a piece's area: its outline's less its holes' (exact enough to compare pieces)
    area = {
        i: cv2.contourArea(contours[i])
        - sum(cv2.contourArea(contours[j]) for j in holes_of[i])
        + len(contours[i])  # an outline passes through pixels: a 1-px speck is not 0
        for i in outer
    }
    main = max(
        outer,
        key=lambda i: (
            area[i] * _centrality(contours[i], mask.shape) * _nearness(contours[i], mask.shape[0])
        ),
    )
    gap = max(1.0, GAP * np.sqrt(area[main]))
    box = cv2.boundingRect(contours[main])
    kept = [main] + [
        i
        for i in outer
        if i != main
        and area[i] <= PART_SHARE * area[main]
        and _near(contours[i], contours[main], box, gap)
    ]
    limit = HOLE_SHARE * sum(area[i] for i in kept)
    holes_in = [contours[j] for i in kept for j in holes_of[i]]
    small_holes = [c for c in holes_in if cv2.contourArea(c) <= limit]
    filled = _draw(mask.shape, [contours[i] for i in kept])  # outlines with all their holes
    holes = _draw(mask.shape, small_holes) & ~mask
    out = filled & (mask | holes)
    return Selection(
        out,
        pieces=len(outer),
        dropped=len(outer) - len(kept),
        dropped_px=int(np.count_nonzero(mask) - np.count_nonzero(out & mask)),
        filled_px=int(np.count_nonzero(holes)),
    )
