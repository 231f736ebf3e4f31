"""Soft, clean cutout edges: what a dealer can publish without touch-up.

A hard 0/255 mask gives a stair-stepped outline, and the outline's pixels still hold the old
backdrop mixed into the car's colour (a light halo on a dark page).

- **alpha** (`edge_alpha`): 255 inside the mask, 0 outside, and on the pixels next to the
  outline (one on each side) the car's coverage: the model's probability there (its edge
  refiner works on the full-size photo), rescaled so that the model's threshold falls at 128;
  without one (a touched-up mask) the share of car in the pixel's 3×3 neighbourhood. Alpha ≥
  128 exactly where the mask is set, so the thresholded alpha is the mask (Dice unchanged).
  A colour guided filter of the mask on the photo (He et al.) in that band was tried too: as
  good to the eye on magnified crops, but it cost ~110 ms more CPU per 1918×1280 photo on the
  shared test machine, where this costs ~2.5 ms (benchmarks/cutout_quality.py).
- **edge colours** (`clean_cutout`) decontaminated by the listing frames' code
  (`engine.matte.decontaminate.decontaminate_band`): the outline's colours are the nearby solid
  car's, with nothing of the backdrop.
- **RGB = 0 wherever alpha = 0**: no hidden backdrop in the file (and smaller PNGs).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from engine.matte import alpha_u8
from engine.matte.decontaminate import decontaminate_band

MARGIN = 8  # the box worked on: the car's and this much around it
_3x3 = np.ones((3, 3), np.uint8)


def _outline(mask: np.ndarray) -> np.ndarray:
    """The pixels on either side of the mask's outline (3×3 morphological gradient)."""
    return cv2.morphologyEx(mask.view(np.uint8), cv2.MORPH_GRADIENT, _3x3).view(bool)


def edge_alpha(mask: np.ndarray, prob: Any = None, threshold: float = 0.5) -> np.ndarray:
    """H×W uint8 alpha of a boolean mask, soft on the pixels along its outline: from `prob`
    (the model's H×W probability, or anything indexed as one, `threshold` mapped to 128),
    else the 3×3 share of car. Alpha ≥ 128 exactly where the mask is set."""
    mask = np.ascontiguousarray(mask, dtype=bool)
    alpha = alpha_u8(mask)
    box = _box(alpha)  # the outline lies in the car's box and a pixel around it
    if box is None:
        return alpha
    edge = _outline(mask[box])
    ys, xs = np.nonzero(edge)
    ys += box[0].start
    xs += box[1].start
    if prob is not None:
        p = np.asarray(prob[ys, xs], np.float32)
        t = float(threshold)
        cover = np.where(p < t, p / (2 * t), 0.5 + (p - t) / (2 * (1 - t)))
    else:
        share = cv2.boxFilter(mask[box].view(np.uint8), cv2.CV_32F, (3, 3))
        cover = share[edge]
    soft = np.round(np.clip(cover, 0.0, 1.0) * 255.0).astype(np.uint8)
    alpha[ys, xs] = np.where(mask[ys, xs], np.maximum(soft, 128), np.minimum(soft, 127))
    return alpha


def _box(alpha: np.ndarray) -> tuple[slice, slice] | None:
    """The box of the alpha's non-zero pixels, `MARGIN` around it."""
    x, y, w, h = cv2.boundingRect(alpha)
    if not w:
        return None
    height, width = alpha.shape
    return (
        slice(max(0, y - MARGIN), min(height, y + h + MARGIN)),
        slice(max(0, x - MARGIN), min(width, x + w + MARGIN)),
    )


def is_soft(alpha: np.ndarray) -> bool:
    """Whether a uint8 alpha has values between 0 and 255."""
    return cv2.countNonZero(cv2.inRange(alpha, 1, 254)) > 0


def clean_cutout(rgb: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """H×W×4 uint8 cutout of a photo (H×W×3 uint8): alpha from `mask` (a soft uint8 or float
    one as it is; a bool or 0/255 one gets `edge_alpha`'s soft outline), edge colours
    decontaminated, RGB = 0 where alpha = 0."""
    alpha = alpha_u8(np.asarray(mask))
    if not is_soft(alpha):
        alpha = edge_alpha(alpha > 0)
    out = np.zeros((*alpha.shape, 4), np.uint8)
    box = _box(alpha)
    if box is None:
        return out
    photo, a = rgb[box], alpha[box]
    colour = np.multiply(photo, np.float32(1 / 255), dtype=np.float32)
    clean = decontaminate_band(colour, np.multiply(a, np.float32(1 / 255), dtype=np.float32))
    changed = cv2.transform(cv2.absdiff(clean, colour), np.ones((1, 3), np.float32))
    ys, xs = np.nonzero(changed)  # the pixels decontaminate_band recoloured
    photo = cv2.bitwise_and(photo, photo, mask=a)  # RGB = 0 where alpha = 0
    fresh = np.round(np.clip(clean[ys, xs], 0, 1) * 255).astype(np.uint8)
    photo[ys, xs] = np.where(a[ys, xs, None] > 0, fresh, 0)
    out[box] = cv2.merge((*cv2.split(photo), a))
    return out
