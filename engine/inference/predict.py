"""Prediction: photo → per-model probability at full size → (ensemble) mask.

Each model sees the photo at its own pixel budget (the area of its input size) with the photo's
own aspect ratio (`input_geometry`: a Carvana 3:2 photo gets exactly the input size, a 4:3 or a
portrait photo is not squashed), padded to the network's stride; its logits, cropped back to the
photo's area, are brought back to the photo's full size with bilinear interpolation (smooth
edges, not a blocky upscaled mask), refined along the edge on the full-size photo when the model
file carries an edge refiner (`engine.models.refiner`), then turned into probabilities.
Several models are combined by `engine.inference.ensemble.combine`. On the CPU the networks run on
OpenVINO where it loads (`engine.inference.backends`, `backend="auto"`), else on PyTorch; the device
label says which, and in what precision.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine.inference.arrays import fit_to_input, input_geometry, logit_threshold
from engine.inference.backends import backend_spec
from engine.inference.backends.select import attach_backend
from engine.inference.config import PredictConfig
from engine.inference.devices import describe_device, inference_dtype, resolve_device
from engine.inference.loaded import LoadedModel
from engine.inference.matting import MattePredictor
from engine.modelfiles.checkpoint import load_model

__all__ = ["LoadedModel", "Predictor", "compute_label", "input_geometry", "to_input_tensor"]
log = logging.getLogger(__name__)


def to_input_tensor(
    rgb: np.ndarray,
    size: tuple[int, int],
    device: torch.device,
    padded: tuple[int, int] | None = None,
) -> torch.Tensor:
    """H×W×3 uint8 → 1×3×h×w float in [0, 1] at (h, w) = `size`; with `padded`, extended at the
    bottom and right to that size by repeating the edge pixels (the content stays at [:h, :w])."""
    rgb = fit_to_input(rgb, size, padded)
    t = torch.from_numpy(np.ascontiguousarray(rgb)).to(device).permute(2, 0, 1)[None]
    return t.float().div_(255.0)


def compute_label(device: torch.device, dtype: torch.dtype, backend: str, note: str = "") -> str:
    """What runs the models, for logs, the CLI and the status bar: 'CPU (2 threads), OpenVINO,
    float32', or with a fallback 'CPU (2 threads), PyTorch, float32 (OpenVINO failed: …)'."""
    precision = str(dtype).removeprefix("torch.")
    label = f"{describe_device(device)}, {backend_spec(backend).label}, {precision}"
    return f"{label} ({note})" if note else label


class Predictor(MattePredictor):
    """One model or an ensemble of models, each at its own resolution, on one device.

    Built from a `PredictConfig` (`from_config`: what the CLI, the batch's lanes, the hot folder
    and the cluster do), or with these keywords and models already in memory (training). A
    photo's way through one model is public, step by step, for the benchmarks that time them:
    `prepare` → `forward` → `upsample` → `refine_edges` → `threshold` (`full_size_logits` runs
    the first four)."""

    def __init__(
        self,
        models: Sequence[str | os.PathLike | LoadedModel],
        device: str = "auto",
        tta: bool = False,
        vote: str = "majority",
        refine: bool = True,
        precision: str = "auto",
        backend: str = "auto",
        keep_all_objects: bool = False,
    ):
        if not models:
            raise ValueError("at least one model is needed")
        self.device = resolve_device(device)
        self.dtype = inference_dtype(self.device, precision)
        self.tta, self.vote, self.refine = tta, vote, refine
        # every mask is the main car alone (`engine.matte.select`) unless this is set
        self.keep_all_objects = keep_all_objects
        self.models: list[LoadedModel] = []
        for m in models:
            if isinstance(m, LoadedModel):
                m.model.to(self.device).eval()
                self.models.append(m)
            else:
                model, header = load_model(m, self.device)
                self.models.append(LoadedModel(model, header, Path(m)))
        self.backend, note = attach_backend(self.models, self.device, self.dtype, backend)
        runner = self.models[0].runner
        if self.backend != "torch" and runner is not None:
            self.dtype = runner.dtype  # what the backend really computes in
        self.device_label = compute_label(self.device, self.dtype, self.backend, note)
        names = ", ".join(m.header.name for m in self.models)
        log.info("predicting on %s with %s", self.device_label, names)

    @classmethod
    def from_config(cls, config: PredictConfig) -> Predictor:
        return cls(
            config.models,
            device=config.device,
            tta=config.tta,
            vote=config.vote,
            refine=config.refine,
            precision=config.precision,
            backend=config.backend,
            keep_all_objects=config.keep_all_objects,
        )

    @torch.inference_mode()
    def full_size_logits(self, lm: LoadedModel, rgb: np.ndarray) -> torch.Tensor:
        """One model's H×W logits for the photo at its full size (refined if it has a refiner).

        The model sees the photo at `input_geometry`'s content size (aspect kept), padded to its
        stride; the logits are cropped back to the content and upsampled to the full size."""
        x, content = self.prepare(lm, rgb)
        logits = self.upsample(self.forward(lm, x, content), rgb.shape[:2])
        return self.refine_edges(lm, rgb, logits)

    def prepare(self, lm: LoadedModel, rgb: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
        """The model's normalised input for the photo (`input_geometry`: aspect kept, padded to
        the stride) on the device, and the content's (h, w) within it."""
        (h, w), padded = input_geometry(rgb.shape[:2], lm.header.input_size, lm.model.stride)
        return lm.model.normalize(to_input_tensor(rgb, (h, w), self.device, padded)), (h, w)

    @torch.inference_mode()
    def forward(self, lm: LoadedModel, x: torch.Tensor, content: tuple[int, int]) -> torch.Tensor:
        """The network's float 1×1×h×w logits for `prepare`'s input, cropped to the content (with
        `tta`, averaged with the mirrored photo's), on the model's backend."""
        net = lm.runner.unet if lm.runner is not None else lm.model
        with self.autocast():
            logits = net(x)
            if self.tta:
                logits = 0.5 * (logits + net(x.flip(-1)).flip(-1))
        h, w = content
        return logits[..., :h, :w].float()

    @staticmethod
    def upsample(logits: torch.Tensor, full: tuple[int, int]) -> torch.Tensor:
        """1×1×h×w logits brought to the photo's full (H, W), bilinear."""
        if logits.shape[-2:] != tuple(full):
            logits = F.interpolate(logits, size=full, mode="bilinear", align_corners=False)
        return logits

    @torch.inference_mode()
    def refine_edges(self, lm: LoadedModel, rgb: np.ndarray, logits: torch.Tensor) -> torch.Tensor:
        """The full-size 1×1×H×W logits as the H×W logits predict uses: refined along the edge
        on the full-size photo when the model file has an edge refiner (and `refine` is on)."""
        if not (self.refine and lm.model.refiner is not None):
            return logits[0, 0]
        photo = torch.from_numpy(rgb).to(self.device).permute(2, 0, 1).float().div_(255.0)
        runner = lm.runner if lm.runner is not None and lm.runner.has_refiner else None
        with self.autocast():
            interior = runner.refiner_interior if runner is not None else None
            return lm.model.refiner.refine(photo, logits[0, 0], interior=interior).float()

    def autocast(self):
        """The autocast the networks run under: the predictor's precision, on PyTorch only
        (another backend computes in its own precision)."""
        enabled = self.dtype != torch.float32 and self.backend == "torch"
        return torch.autocast(self.device.type, dtype=self.dtype, enabled=enabled)

    def logits(self, rgb: np.ndarray) -> np.ndarray:
        """The single model's float32 H×W logits for the photo at its full size."""
        return self.full_size_logits(self.models[0], rgb).cpu().numpy()

    def probabilities(self, rgb: np.ndarray) -> list[np.ndarray]:
        """One full-size float32 probability map per model."""
        return [torch.sigmoid(self.full_size_logits(lm, rgb)).cpu().numpy() for lm in self.models]

    def threshold(self, logits: torch.Tensor) -> np.ndarray:
        """A single model's boolean mask from its logits (its threshold, in logit space)."""
        return (logits > logit_threshold(self.models[0].header.threshold)).cpu().numpy()
