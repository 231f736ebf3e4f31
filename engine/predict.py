"""Prediction: photo → per-model probability at full size → (ensemble) mask.

Each model sees the photo resized to its own input size; its logits are brought back to the
photo's full size with bilinear interpolation (smooth edges, not a blocky upscaled mask), refined
along the edge on the full-size photo when the model file carries an edge refiner
(`engine.models.refiner`), then turned into probabilities. Several models are combined by
`engine.ensemble.combine`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from engine.checkpoint import ModelHeader, load_model
from engine.devices import describe_compute, inference_dtype, resolve_device
from engine.ensemble import combine
from engine.models.unet import UNet

log = logging.getLogger(__name__)


@dataclass
class LoadedModel:
    model: UNet
    header: ModelHeader
    path: Path | None = None


def to_input_tensor(rgb: np.ndarray, size: tuple[int, int], device: torch.device) -> torch.Tensor:
    """H×W×3 uint8 → 1×3×h×w float in [0, 1] at the model's (h, w)."""
    h, w = size
    if rgb.shape[:2] != (h, w):
        shrink = h < rgb.shape[0] and w < rgb.shape[1]
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    t = torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None]
    return t.float().div_(255.0)


class Predictor:
    """One model or an ensemble of models, each at its own resolution, on one device."""

    def __init__(
        self,
        models: Sequence[str | os.PathLike | LoadedModel],
        device: str = "auto",
        tta: bool = False,
        vote: str = "majority",
        refine: bool = True,
        precision: str = "auto",
    ):
        if not models:
            raise ValueError("at least one model is needed")
        self.device = resolve_device(device)
        self.dtype = inference_dtype(self.device, precision)
        self.device_label = describe_compute(self.device, self.dtype)
        self.tta, self.vote, self.refine = tta, vote, refine
        self.models: list[LoadedModel] = []
        for m in models:
            if isinstance(m, LoadedModel):
                m.model.to(self.device).eval()
                self.models.append(m)
            else:
                model, header = load_model(m, self.device)
                self.models.append(LoadedModel(model, header, Path(m)))
        names = ", ".join(m.header.name for m in self.models)
        log.info("predicting on %s with %s", self.device_label, names)

    @property
    def label(self) -> str:
        if len(self.models) == 1:
            return self.models[0].header.label
        return f"ensemble of {len(self.models)} ({self.vote} vote)"

    @torch.inference_mode()
    def full_size_logits(self, lm: LoadedModel, rgb: np.ndarray) -> torch.Tensor:
        """One model's H×W logits for the photo at its full size (refined if it has a refiner)."""
        x = lm.model.normalize(to_input_tensor(rgb, lm.header.input_size, self.device))
        with self._autocast():
            logits = lm.model(x)
            if self.tta:
                logits = 0.5 * (logits + lm.model(x.flip(-1)).flip(-1))
        logits = logits.float()
        full = rgb.shape[:2]
        if logits.shape[-2:] != full:
            logits = F.interpolate(logits, size=full, mode="bilinear", align_corners=False)
        if self.refine and lm.model.refiner is not None:
            photo = torch.from_numpy(rgb).to(self.device).permute(2, 0, 1).float().div_(255.0)
            with self._autocast():
                return lm.model.refiner.refine(photo, logits[0, 0]).float()
        return logits[0, 0]

    def _autocast(self):
        enabled = self.dtype != torch.float32
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=enabled)

    def probabilities(self, rgb: np.ndarray) -> list[np.ndarray]:
        """One full-size float32 probability map per model."""
        return [torch.sigmoid(self.full_size_logits(lm, rgb)).cpu().numpy() for lm in self.models]

    def predict(self, rgb: np.ndarray) -> np.ndarray:
        """H×W×3 uint8 photo → H×W boolean mask (True = car)."""
        if len(self.models) == 1:
            lm = self.models[0]
            t = lm.header.threshold
            logit_t = float(np.log(t / (1 - t)))
            return (self.full_size_logits(lm, rgb) > logit_t).cpu().numpy()
        thresholds = [m.header.threshold for m in self.models]
        return combine(self.probabilities(rgb), thresholds, self.vote)
