"""A car cut out of its photo: colours with the old backdrop removed from the edge, and its
coverage (alpha) from the true mask.

A Carvana photo's edge pixels mix the car with the white-grey backdrop. Pasted as they are onto
a dark wall they leave a light halo, and a model would learn to find that seam instead of the car.
`decontaminate` replaces the colour of every pixel of the edge band (and a thin rim inside it)
with the colour of the nearest solid car pixels, so the composite is alpha x car + (1 - alpha) x
new backdrop with nothing of the old one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from engine.pairs import Pair, load_pair

WORK_SCALE = 0.5  # Carvana's 1918x1280 photos are cut out at 959x640, larger than any canvas
RIM_PX = 2  # solid pixels this close to the edge are recoloured too (JPEG spill of the backdrop)


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


def _fill_from(values: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Colours of `known` pixels pushed outwards (normalised blurs at growing scales)."""
    out = values.copy()  # far from any solid pixel (a thin antenna): the colour as it is
    done = np.zeros(known.shape, bool)
    w = known.astype(np.float32)
    for sigma in (1.5, 3, 6, 12):
        den = cv2.GaussianBlur(w, (0, 0), sigma)
        num = cv2.GaussianBlur(values * w[..., None], (0, 0), sigma)
        ok = (den > 1e-3) & ~done
        out[ok] = num[ok] / den[ok][:, None]
        done |= ok
        if done.all():
            break
    return out


def _solid(alpha: np.ndarray) -> np.ndarray:
    solid = (alpha >= 0.999).astype(np.uint8)
    if RIM_PX:
        solid = cv2.erode(solid, np.ones((3, 3), np.uint8), iterations=RIM_PX)
    return solid.astype(bool)


def decontaminate(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Edge colours replaced by the nearest solid car colours (see the module's doc)."""
    solid = _solid(alpha)
    if not solid.any():
        return rgb
    filled = _fill_from(rgb, solid)
    return np.where(solid[..., None], rgb, filled).astype(np.float32)


def decontaminate_band(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """`decontaminate` for a cut-out pasted near its own scale (listing frames): only the edge
    band and a 2-pixel ring outside it are recoloured, from blurs worked out at half the size
    (sigma 1.5 and 3 pixels, as the first two passes of `decontaminate`): a fraction of the
    cost, and training cut-outs (resized a lot, filled further out) are not made this way."""
    solid = _solid(alpha)
    if not solid.any():
        return rgb
    near = cv2.dilate((alpha > 0).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    ys, xs = np.nonzero(near & ~solid)
    h, w = solid.shape
    half = (max(1, w // 2), max(1, h // 2))
    weight = cv2.resize(solid.astype(np.float32), half, interpolation=cv2.INTER_AREA)
    solid_only = cv2.bitwise_and(rgb, rgb, mask=solid.astype(np.uint8))  # 0 off the solid car
    colour = cv2.resize(solid_only, half, interpolation=cv2.INTER_AREA)
    sy = np.minimum(ys * half[1] // h, half[1] - 1)
    sx = np.minimum(xs * half[0] // w, half[0] - 1)
    out = rgb.copy()
    todo = np.ones(ys.size, bool)
    for sigma in (0.75, 1.5):
        den = cv2.GaussianBlur(weight, (0, 0), sigma)[sy, sx]
        num = cv2.GaussianBlur(colour, (0, 0), sigma)[sy, sx]
        ok = todo & (den > 1e-3)
        out[ys[ok], xs[ok]] = num[ok] / den[ok, None]
        todo &= ~ok
    return out


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


class CutoutCache:
    """Cut-outs of photo/mask pairs, made once and kept on disk as uint8 RGBA .npy files."""

    def __init__(self, folder, scale: float = WORK_SCALE):
        self.folder, self.scale = Path(folder), scale
        self.folder.mkdir(parents=True, exist_ok=True)

    def _key(self, pair: Pair) -> Path:
        st_i, st_m = pair.image.stat(), pair.mask.stat()
        raw = f"cutout-v1|{pair.image}|{st_i.st_mtime_ns}|{st_i.st_size}|{pair.mask}|"
        raw += f"{st_m.st_mtime_ns}|{st_m.st_size}|{self.scale}|{RIM_PX}"
        return self.folder / (hashlib.sha1(raw.encode()).hexdigest() + ".npy")

    def get(self, pair: Pair) -> CarCutout:
        path = self._key(pair)
        if path.exists():
            arr = np.load(path)
        else:
            cut = make_cutout(*load_pair(pair), self.scale)
            arr = np.concatenate([cut.rgb, cut.alpha[..., None]], axis=-1)
            arr = np.round(arr * 255).astype(np.uint8)
            tmp = path.with_suffix(".tmp.npy")
            np.save(tmp, arr)
            tmp.replace(path)
        f = arr.astype(np.float32) / 255.0
        return CarCutout(np.ascontiguousarray(f[..., :3]), np.ascontiguousarray(f[..., 3]))
