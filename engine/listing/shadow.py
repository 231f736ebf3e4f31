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
