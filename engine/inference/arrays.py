"""A photo's way through a model, step by step, on numpy and OpenCV (no torch).

The PyTorch predictor (`engine.inference.predict`) and the torch-free one
(`engine.inference.lite`) share these steps, so both feed a network the very same input and read
its logits the same way: `input_geometry` (the size a photo is fed at: its own aspect ratio,
padded to the stride), `fit_to_input` (the photo resized to that size and padded by repeating
its edge), `normalise`, `upsample` (bilinear, half-pixel centres: the formula of
`torch.nn.functional.interpolate(..., align_corners=False)`), `refine_tiles` (the edge
refiner's tiling, `engine.models.refiner.EdgeRefiner.refine`, around any copy of its
`forward_interior`) and `logit_threshold`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import cv2
import numpy as np

ASPECT_TOLERANCE = 0.01  # photos this close to the model's aspect get exactly its input size


def input_geometry(
    photo_hw: tuple[int, int], model_hw: tuple[int, int], stride: int
) -> tuple[tuple[int, int], tuple[int, int]]:
    """(content_hw, padded_hw) for a photo of (H, W) and a model trained at (mh, mw).

    content: the photo scaled by s = sqrt(mh·mw / (H·W)), so the model sees as many pixels as
    its input size holds, with the photo's own aspect ratio; padded: content rounded up to a
    multiple of `stride`. A photo whose aspect ratio is within 1 % of the model's (Carvana's
    1918×1280 for a 448×672 model) gets exactly the model's input size for both, as before this
    function existed. No side is ever below one stride."""
    big_h, big_w = int(photo_hw[0]), int(photo_hw[1])
    mh, mw = int(model_hw[0]), int(model_hw[1])
    if big_h <= 0 or big_w <= 0:
        raise ValueError(f"empty photo: {big_h}x{big_w}")
    if abs((big_w / big_h) / (mw / mh) - 1.0) <= ASPECT_TOLERANCE:
        return (mh, mw), (mh, mw)
    s = math.sqrt(mh * mw / (big_h * big_w))
    ch, cw = (max(stride, math.floor(v * s + 0.5)) for v in (big_h, big_w))
    return (ch, cw), (-(-ch // stride) * stride, -(-cw // stride) * stride)


def fit_to_input(
    rgb: np.ndarray, size: tuple[int, int], padded: tuple[int, int] | None = None
) -> np.ndarray:
    """H×W×3 uint8 → h×w×3 uint8 at (h, w) = `size` (INTER_AREA to shrink, else bilinear); with
    `padded`, extended at the bottom and right to that size by repeating the edge pixels (the
    content stays at [:h, :w])."""
    h, w = size
    if rgb.shape[:2] != (h, w):
        shrink = h < rgb.shape[0] and w < rgb.shape[1]
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if padded is not None and tuple(padded) != (h, w):
        ph, pw = padded[0] - h, padded[1] - w
        if ph < 0 or pw < 0:
            raise ValueError(f"padded size {padded} is smaller than the content {size}")
        # replicate, not reflect: the same padding UNet.forward (and the edge refiner) applies,
        # so these inputs match what the model does with an off-stride size itself, and a
        # reflection would mirror a car cut by the photo's edge into a ghost car in the padding
        rgb = cv2.copyMakeBorder(rgb, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
    return np.ascontiguousarray(rgb)


def normalise(rgb: np.ndarray, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """H×W×3 uint8 → 1×3×H×W float32: in [0, 1], then (x - mean) / std per channel (the same
    float32 operations, in the same order, as `UNet.normalize` on `to_input_tensor`'s output)."""
    x = rgb.transpose(2, 0, 1)[None].astype(np.float32) / np.float32(255.0)
    m = np.asarray(mean, np.float32).reshape(1, 3, 1, 1)
    s = np.asarray(std, np.float32).reshape(1, 3, 1, 1)
    return (x - m) / s


def upsample(logits: np.ndarray, full: tuple[int, int]) -> np.ndarray:
    """h×w float32 logits brought to the photo's full (H, W), bilinear. OpenCV rounds its
    weights a little differently from torch: logits within 1e-4, masks the same (not one pixel
    differs on 24 val photos, benchmarks/lite_vs_torch.py)."""
    if logits.shape != tuple(full):
        logits = cv2.resize(logits, (full[1], full[0]), interpolation=cv2.INTER_LINEAR)
    return logits


def logit_threshold(threshold: float) -> float:
    """A probability threshold in logit space: logits above it are car."""
    return float(np.log(threshold / (1 - threshold)))


Interior = Callable[[np.ndarray, np.ndarray], np.ndarray]


def refine_tiles(
    rgb: np.ndarray,
    logits: np.ndarray,
    interior: Interior,
    tile: int,
    margin: int,
    band: float,
    batch: int = 64,
) -> np.ndarray:
    """H×W logits refined in the tile×tile tiles that hold a pixel within ±`band`, unchanged
    elsewhere: each such tile, with `margin` px of context (the photo and the logits extended by
    repeating their edges), goes through `interior` (N×3×s×s photo in [0, 1], N×1×s×s logits →
    N×1×tile×tile), `batch` tiles at a time, in row-major order."""
    h, w = logits.shape
    t, m = tile, margin
    ph, pw = (-h) % t, (-w) % t
    uncertain = np.pad(np.abs(logits) < band, ((0, ph), (0, pw)))
    rows_n, cols_n = uncertain.shape[0] // t, uncertain.shape[1] // t
    grid = uncertain.reshape(rows_n, t, cols_n, t).any(axis=(1, 3))
    rows, cols = np.nonzero(grid)
    if rows.size == 0:
        return logits
    size = t + 2 * m
    big_photo = np.pad(rgb, ((m, m + ph), (m, m + pw), (0, 0)), mode="edge")
    big_logits = np.pad(logits, ((m, m + ph), (m, m + pw)), mode="edge")
    photo_windows = np.lib.stride_tricks.sliding_window_view(big_photo, (size, size), (0, 1))
    logit_windows = np.lib.stride_tricks.sliding_window_view(big_logits, (size, size))
    out = np.pad(logits, ((0, ph), (0, pw)))
    out_tiles = out.reshape(rows_n, t, cols_n, t).transpose(0, 2, 1, 3)  # a view of `out`
    for start in range(0, rows.size, batch):
        r, c = rows[start : start + batch], cols[start : start + batch]
        photo = photo_windows[r * t, c * t].astype(np.float32) / np.float32(255.0)  # N×3×s×s
        refined = interior(photo, logit_windows[r * t, c * t][:, None])
        out_tiles[r, c] = refined[:, 0]
    return out[:h, :w]


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities (float32) of logits; very negative logits give 0, not a warning."""
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-np.asarray(logits, np.float32)))


class SigmoidAt:
    """A probability map read at a few pixels: the sigmoid of logits where indexed."""

    def __init__(self, logits: np.ndarray):
        self.logits = logits

    def __getitem__(self, index) -> np.ndarray:
        return sigmoid(self.logits[index])
