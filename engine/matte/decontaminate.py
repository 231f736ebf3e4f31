"""Edge colours without the old backdrop: every pixel of a cut-out's edge band (and a thin rim
inside it) takes the colour of the nearest solid car pixels, so alpha x car + (1 - alpha) x new
backdrop holds nothing of the old one. Cutouts (`engine.matte.alpha`), listing frames and the
training composites (`engine.training.scenes.cutout`) share it."""

from __future__ import annotations

import cv2
import numpy as np

RIM_PX = 2  # solid pixels this close to the edge are recoloured too (JPEG spill of the backdrop)


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
