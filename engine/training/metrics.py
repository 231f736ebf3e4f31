"""Dice and IoU of binary masks, per image and averaged over images as Kaggle Carvana does.

Convention (Kaggle's): when both masks are empty the score is 1.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np


def _as_bool(mask) -> np.ndarray:
    a = np.asarray(mask)
    return a if a.dtype == bool else a > 0


def _check(pred: np.ndarray, truth: np.ndarray) -> None:
    if pred.shape != truth.shape:
        raise ValueError(f"mask shapes differ: prediction {pred.shape}, truth {truth.shape}")


def dice(pred, truth) -> float:
    """2|X∩Y| / (|X|+|Y|) of two binary masks of the same shape."""
    p, t = _as_bool(pred), _as_bool(truth)
    _check(p, t)
    total = int(p.sum()) + int(t.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(p, t).sum()) / total


def iou(pred, truth) -> float:
    """|X∩Y| / |X∪Y| of two binary masks of the same shape."""
    p, t = _as_bool(pred), _as_bool(truth)
    _check(p, t)
    union = int(np.logical_or(p, t).sum())
    if union == 0:
        return 1.0
    return int(np.logical_and(p, t).sum()) / union


def mean_dice(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> float:
    """Mean over images of the per-image Dice (the competition's score)."""
    scores = [dice(p, t) for p, t in pairs]
    if not scores:
        raise ValueError("no masks to score")
    return float(np.mean(scores))
