"""Combine the probability maps of several models into one mask.

`majority` (the paper's method): each model votes car where its probability is above its own
threshold; a pixel is car when more than half of the models vote car. Ties (an even number of
models split exactly in half) are broken by the mean probability: car when it is above 0.5.
`mean`: car where the mean probability is above the mean of the thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.inference.config import Vote

VOTE_METHODS = Vote.values()


def combine(
    probs: Sequence[np.ndarray], thresholds: Sequence[float], method: str = "majority"
) -> np.ndarray:
    """Probability maps (H×W float, one per model, same shape) → a boolean H×W mask."""
    if method not in VOTE_METHODS:
        raise ValueError(f"vote method must be one of {VOTE_METHODS}, not {method!r}")
    if not probs:
        raise ValueError("no model predictions to combine")
    if len(probs) != len(thresholds):
        raise ValueError("one threshold per model is needed")
    if len(probs) == 1:
        return probs[0] > thresholds[0]
    if method == "mean":
        return np.mean(probs, axis=0) > float(np.mean(thresholds))
    votes = np.zeros(probs[0].shape, dtype=np.int16)
    for p, t in zip(probs, thresholds, strict=True):
        votes += p > t
    n = len(probs)
    mask = 2 * votes > n
    if n % 2 == 0:
        tie = 2 * votes == n
        if tie.any():
            mean = np.mean([p[tie] for p in probs], axis=0)
            mask[tie] = mean > 0.5
    return mask
