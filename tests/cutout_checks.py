"""What the tests check of a cutout: that it is the photo's car (`assert_cutout_of`: the
photo's own pixels inside, a soft edge whose threshold is the mask, nothing under alpha 0) and
that its edge has no halo (`edge_excess`, shared with the listing frames). Importable as
`cutout_checks` from any test (tests/ is on the path through its conftest)."""

from __future__ import annotations

import cv2
import numpy as np


def inner_colour(out: np.ndarray, solid: np.ndarray) -> np.ndarray:
    """For every pixel, the colour of the nearest solid car pixel 3 px or more inside the edge."""
    core = cv2.erode(solid.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=3) > 0
    src = np.where(core, 0, 1).astype(np.uint8)
    _, labels = cv2.distanceTransformWithLabels(src, cv2.DIST_L2, 3, labelType=cv2.DIST_LABEL_PIXEL)
    ys, xs = np.nonzero(src == 0)  # labels number the core pixels in raster order from 1
    return out[ys[labels - 1], xs[labels - 1]]


def edge_excess(out: np.ndarray, alpha: np.ndarray, where: np.ndarray) -> np.ndarray:
    """Per soft edge pixel in `where` of an image on black (`out`, H×W×3) with its alpha: its
    brightness less its coverage times the car's own brightness nearby (0: no halo)."""
    edge = (alpha > 0) & (alpha < 255) & where
    expected = inner_colour(out, alpha == 255)[edge].astype(np.float32).mean(-1)
    expected *= alpha[edge] / 255
    return out[edge].astype(np.float32).mean(-1) - expected


def assert_cutout_of(rgba: np.ndarray, rgb: np.ndarray, mask: np.ndarray | None = None) -> None:
    """`rgba` (H×W×4) is a cutout of the photo `rgb`: alpha > 127 is `mask` (when given), the
    photo's pixels bit for bit away from the edge (3 px inside it: the edge colours are
    decontaminated), RGB = 0 where alpha = 0."""
    alpha = rgba[..., 3]
    if mask is not None:
        assert np.array_equal(alpha > 127, mask)
    solid = (alpha == 255).astype(np.uint8)
    core = cv2.erode(solid, np.ones((3, 3), np.uint8), iterations=3) > 0
    assert core.any() and np.array_equal(rgba[..., :3][core], rgb[core])
    assert not rgba[alpha == 0, :3].any()
