"""A car cut out of its photo: colours with the old backdrop removed from the edge, and its
coverage (alpha) from the true mask.

A Carvana photo's edge pixels mix the car with the white-grey backdrop. Pasted as they are onto
a dark wall they leave a light halo, and a model would learn to find that seam instead of the car.
`decontaminate` replaces the colour of every pixel of the edge band (and a thin rim inside it)
with the colour of the nearest solid car pixels, so the composite is alpha x car + (1 - alpha) x
new backdrop with nothing of the old one. Listing frames and training composites both paste them.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from engine.matte.decontaminate import decontaminate, decontaminate_band

WORK_SCALE = 0.5  # Carvana's 1918x1280 photos are cut out at 959x640, larger than any canvas


@dataclass
class CarCutout:
    """rgb: h x w x 3 float32 in [0, 1], decontaminated; alpha: h x w float32 car coverage."""

    rgb: np.ndarray
    alpha: np.ndarray

    @property
    def size(self) -> tuple[int, int]:
        return self.alpha.shape

    def ground_row(self) -> int:
        """The lowest row of the car (the tyres' contact line)."""
        rows = np.flatnonzero(self.alpha.max(axis=1) > 0.5)
        return int(rows[-1]) if rows.size else self.alpha.shape[0] - 1


def make_cutout(
    rgb: np.ndarray, mask: np.ndarray, scale: float = WORK_SCALE, band_only: bool = False
) -> CarCutout:
    """The car of a photo (uint8 RGB, bool or uint8 mask) at `scale`, cropped to its box
    (`band_only`: see `decontaminate_band`)."""
    m = mask if mask.dtype == bool else mask > 127
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        raise ValueError("the mask has no car")
    pad = 8
    y0, y1 = max(0, ys.min() - pad), min(m.shape[0], ys.max() + pad + 1)
    x0, x1 = max(0, xs.min() - pad), min(m.shape[1], xs.max() + pad + 1)
    crop = np.ascontiguousarray(rgb[y0:y1, x0:x1])
    cov = m[y0:y1, x0:x1].astype(np.float32)
    h, w = round((y1 - y0) * scale), round((x1 - x0) * scale)
    if (h, w) != cov.shape:
        crop = cv2.resize(crop, (w, h), interpolation=cv2.INTER_AREA)
        cov = cv2.resize(cov, (w, h), interpolation=cv2.INTER_AREA)
    f = crop.astype(np.float32) / 255.0
    clean = decontaminate_band(f, cov) if band_only else decontaminate(f, cov)
    return CarCutout(clean, np.clip(cov, 0, 1))
