"""The listing frames' contact shadow: the floor under the car is dark where the car shuts the
light out, down to the line its tyres stand on, and fades with distance below it.

From the car's coverage: its lowest pixel in each column (tyres low, the sill between them
higher) and the support line under them (the lower convex hull of those points: it runs
through the tyres' contact points, near and far, as the floor's line does in a three-quarter
view). Between the car's underside and that line the floor is shaded (the gap under the sill);
under the line the shadow fades over a few percent of the car's width. Soft, so it is worked out
at a quarter of the frame's size by the caller.
"""

from __future__ import annotations

import cv2
import numpy as np

LOW_PART = 0.12  # columns whose lowest pixel is this close to the car's lowest (in car heights)
GAP = 0.25  # the gap under the car (in car heights) at which its shade has faded out


def _lower_hull(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """For every x in xs (increasing), the support line from below (image y grows downwards):
    the upper envelope in y of the convex hull of the points."""
    hull: list[int] = []
    for i in range(len(xs)):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # keep b only if it lies on or below the line a→i (larger y = lower in the image)
            cross = (xs[b] - xs[a]) * (ys[i] - ys[a]) - (ys[b] - ys[a]) * (xs[i] - xs[a])
            if cross >= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    return np.interp(xs, xs[hull], ys[hull])


def contact_shadow(alpha: np.ndarray, strength: float, reach: float = 0.035) -> np.ndarray:
    """How much the floor darkens (0..1) on a plane the size of `alpha` (the car's coverage on
    it). `reach`: how far below the support line it fades, as a share of the car's width."""
    car = alpha > 0.5
    cols = np.flatnonzero(car.any(axis=0))
    shade = np.zeros(alpha.shape, np.float32)
    if cols.size < 2 or strength <= 0:
        return shade
    h = alpha.shape[0]
    bottom = h - 1 - np.argmax(car[::-1, cols], axis=0)  # the lowest car pixel per column
    rows_with_car = np.flatnonzero(car.any(axis=1))
    height = rows_with_car[-1] - rows_with_car[0] + 1
    # the support line runs under the parts that reach the floor (tyres, a low sill), not under
    # a bumper's corner high above it; beyond them it carries on level
    low = bottom >= bottom.max() - LOW_PART * height
    line = np.interp(
        cols, cols[low], _lower_hull(cols[low].astype(float), bottom[low].astype(float))
    )
    width = cols[-1] - cols[0] + 1
    fall = max(1.0, reach * width)
    rows = np.arange(h, dtype=np.float32)[:, None]
    below = (rows - line[None, :].astype(np.float32)) / fall
    plane = np.where(below > 0, np.exp(-below * 2.5), 0.0).astype(np.float32)
    # between the underside and the floor line: dark under a low sill, fading as the gap grows
    gap = np.clip(line - bottom, 0, None)
    depth = (0.85 * np.clip(1 - gap / (GAP * height), 0, 1)).astype(np.float32)
    under = (rows >= bottom[None, :]) & (below <= 0)
    plane = np.where(under, depth[None, :], plane)
    shade[:, cols] = plane
    sigma = max(0.8, 0.012 * width)
    shade = cv2.GaussianBlur(shade, (0, 0), sigma)
    return np.clip(shade * strength, 0, 1)


REAL_CAR_PX = 200  # the photo's floor is measured at the size that makes the car this tall
NOISE = 0.06  # darkening under this (floor texture, JPEG noise) is not a shadow


def _taper(n: int, share: float) -> np.ndarray:
    """1 inside, falling smoothly to 0 over `share` of `n` at both ends."""
    ramp = max(1, int(n * share))
    t = np.clip(np.minimum(np.arange(n) + 0.5, n - 0.5 - np.arange(n)) / ramp, 0, 1)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def floor_work_scale(box) -> float:
    """The share of the photo's size the floor is measured at (shadows are soft)."""
    return float(np.clip(REAL_CAR_PX / max(1, box.height), 0.1, 1.0))


def floor_shadow(rgb: np.ndarray, car: np.ndarray, box) -> tuple[np.ndarray, tuple[int, int]]:
    """The photo's own floor shadow around the car: how much darker (0..1) the floor is than
    the floor at the edges of a window under and beside the car, at `floor_work_scale` of the
    photo's size. Returns the window's darkening and its top-left corner in photo pixels.

    The floor's brightness is taken row by row from the window's left and right edges (so a
    floor that darkens towards the camera, or a turntable's disc, is not a shadow); the floor
    hidden by the car is filled in from around it (no light rim at the car's edge); the window's
    edges fade out, so no patch edge shows."""
    k = floor_work_scale(box)
    h, w = car.shape
    sw, sh = max(1, round(w * k)), max(1, round(h * k))
    lum = cv2.resize(rgb, (sw, sh), interpolation=cv2.INTER_AREA).astype(np.float32).mean(-1)
    body = cv2.resize(car.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_AREA) > 0
    body = cv2.dilate(body.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    bw, bh = box.width * k, box.height * k
    y0 = max(0, int(box.y1 * k - 0.35 * bh))
    y1 = min(sh, int(np.ceil(box.y1 * k + 0.2 * bh)))
    x0 = max(0, int(box.x0 * k - 0.15 * bw))
    x1 = min(sw, int(np.ceil(box.x1 * k + 0.15 * bw)))
    if y1 - y0 < 4 or x1 - x0 < 8:
        return np.zeros((0, 0), np.float32), (0, 0)
    window = lum[y0:y1, x0:x1]
    free = ~body[y0:y1, x0:x1]
    edge = max(2, (x1 - x0) // 10)
    sides = np.zeros(free.shape, bool)
    sides[:, :edge] = sides[:, -edge:] = True
    ref = np.empty(window.shape[0], np.float32)
    for r in range(window.shape[0]):
        floor = window[r][sides[r] & free[r]]
        ref[r] = np.median(floor) if floor.size else (window[r][free[r]].max(initial=255.0))
    dark = np.clip(1 - window / np.maximum(ref[:, None], 1.0), 0, 1)
    dark = np.clip((dark - NOISE) / (1 - NOISE), 0, 1).astype(np.float32)
    known = free.astype(np.float32)  # under the car: filled from the floor around it
    for sigma in (1.5, 4.0):
        num = cv2.GaussianBlur(dark * known, (0, 0), sigma)
        den = cv2.GaussianBlur(known, (0, 0), sigma)
        fill = ~free & (den > 1e-3)
        dark[fill] = num[fill] / den[fill]
        known = np.maximum(known, fill.astype(np.float32))
    dark = cv2.GaussianBlur(dark, (0, 0), 1.0)
    dark *= _taper(dark.shape[0], 0.15)[:, None] * _taper(dark.shape[1], 0.12)[None, :]
    return dark, (round(y0 / k), round(x0 / k))
