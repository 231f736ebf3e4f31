"""From a predictor's full-size logits to what it answers: the mask, the `Matte`, the confidence.

`MattePredictor` is what the PyTorch predictor (`engine.inference.predict.Predictor`) and the
torch-free one (`engine.inference.lite.LitePredictor`) have in common once a photo's logits are
computed: the threshold (or the ensemble's vote, `engine.inference.ensemble`), the main-object
step (`engine.matte.select`), the soft alpha (`engine.matte.alpha`) and the confidence
(`engine.review.confidence`). It imports no torch; a subclass gives `models` (each with its
file's `header`) and `logits` / `probabilities`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from engine.inference.arrays import SigmoidAt, logit_threshold, sigmoid
from engine.inference.ensemble import combine
from engine.matte import Matte
from engine.matte.alpha import edge_alpha
from engine.matte.select import Selection, select_main_car
from engine.review.confidence import Confidence, confidence


class MattePredictor:
    """Photo → mask / `Matte` / confidence, given a subclass's logits."""

    models: Sequence[Any]  # each has the `header` (`ModelHeader`) of its model file
    vote: str = "majority"
    keep_all_objects: bool = False  # every mask is the main car alone unless this is set
    device_label: str = ""  # what it runs on and in what precision, said to the user

    def logits(self, rgb: np.ndarray) -> np.ndarray:
        """The single model's float32 H×W logits for the photo at its full size."""
        raise NotImplementedError

    def probabilities(self, rgb: np.ndarray) -> list[np.ndarray]:
        """One full-size float32 probability map per model."""
        raise NotImplementedError

    @property
    def label(self) -> str:
        if len(self.models) == 1:
            return str(self.models[0].header.label)
        return f"ensemble of {len(self.models)} ({self.vote} vote)"

    @property
    def _thresholds(self) -> list[float]:
        return [m.header.threshold for m in self.models]

    def main_object(self, mask: np.ndarray) -> tuple[np.ndarray, Selection | None]:
        """The main car of a mask (`engine.matte.select`) and what the step did; the mask as it
        is (and None) when every object is kept. Public: benchmarks score what predict writes."""
        if self.keep_all_objects:
            return mask, None
        selection = select_main_car(mask)
        return selection.mask, selection

    def predict_matte(self, rgb: np.ndarray, checked: bool = False) -> Matte:
        """The photo's `Matte`: the main car's mask (`engine.matte.select`, unless every
        object is kept), its soft-edged alpha from the probability along the outline
        (`engine.matte.alpha`) and, if `checked`, the confidence (`predict_checked`)."""
        if len(self.models) == 1:
            logits = self.logits(rgb)
            raw = logits > logit_threshold(self._thresholds[0])
            mask, selection = self.main_object(raw)
            prob: Any
            if checked:  # the network's own mask, at its threshold: what it was unsure of
                prob = sigmoid(logits)
                conf = confidence(prob, mask=raw)
            else:  # the probability is read along the outline only
                prob, conf = SigmoidAt(logits), None
            return Matte(mask, edge_alpha(mask, prob, self._thresholds[0]), conf, selection)
        probs, thresholds = self.probabilities(rgb), self._thresholds
        raw = combine(probs, thresholds, self.vote)
        mean = np.mean(probs, axis=0)
        confident = None
        if checked:
            members = [p > t for p, t in zip(probs, thresholds, strict=True)]
            confident = confidence(mean, members, raw)
        mask, selection = self.main_object(raw)
        alpha = edge_alpha(mask, mean, float(np.mean(thresholds)))
        return Matte(mask, alpha, confident, selection)

    def predict_checked(self, rgb: np.ndarray) -> tuple[np.ndarray, Confidence]:
        """`predict`'s mask and how far to trust it (`engine.review.confidence`), from the same
        forward pass: the probability map, and for an ensemble its members' disagreement."""
        matte = self.predict_matte(rgb, checked=True)
        assert matte.confidence is not None
        return matte.mask, matte.confidence

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """H×W×3 uint8 photo → H×W boolean mask (True = car): the main car alone unless every
        object is kept."""
        if len(self.models) == 1:
            mask = self.logits(rgb) > logit_threshold(self._thresholds[0])
        else:
            mask = combine(self.probabilities(rgb), self._thresholds, self.vote)
        return self.main_object(mask)[0]
